import { describe, expect, it } from 'vitest';
import { ago, num, platformColor, sparkPath } from './format';
import { parseRoute } from './router';

describe('format', () => {
  it('formats numbers and ages', () => {
    expect(num(1234)).toBe('1234');
    expect(num(12.345)).toBe('12.3');
    expect(num(null)).toBe('–');
    expect(ago(4_400)).toBe('4 s ago');
    expect(ago(5 * 60_000)).toBe('5 min ago');
  });

  it('gives known platforms fixed colors and others a stable one', () => {
    expect(platformColor('Twitch')).toBe('#9146ff');
    expect(platformColor('kick')).toBe(platformColor('kick'));
    expect(platformColor('kick')).toMatch(/^hsl\(/);
  });

  it('scales sparkline points into the box', () => {
    const path = sparkPath(
      [
        { t: 0, v: 0 },
        { t: 10, v: 10 },
      ],
      100,
      20,
      0,
    );
    expect(path).toBe('0.0,20.0 100.0,0.0');
    expect(sparkPath([], 100, 20)).toBe('');
    // flat series is drawn in the middle
    expect(sparkPath([{ t: 0, v: 5 }, { t: 1, v: 5 }], 100, 20, 0)).toBe('0.0,10.0 100.0,10.0');
  });
});

describe('parseRoute', () => {
  it('parses the hash routes', () => {
    expect(parseRoute('')).toEqual({ name: 'events' });
    expect(parseRoute('#/login')).toEqual({ name: 'login' });
    expect(parseRoute('#/events')).toEqual({ name: 'events' });
    expect(parseRoute('#/events/abc123')).toEqual({ name: 'event', id: 'abc123' });
    expect(parseRoute('#/nope')).toEqual({ name: 'notfound', hash: '#/nope' });
  });
});
