import { describe, expect, it } from 'vitest';
import { isAtBottom, visibleRange } from './virtual';

describe('visibleRange', () => {
  it('covers exactly the rows in view without overscan', () => {
    // rows 0..9 are 28px; viewport 0..100 shows rows 0,1,2,3 (3 partially)
    expect(visibleRange(0, 100, 28, 1000, 0)).toEqual({ start: 0, end: 4 });
    // scrolled to 280: rows 10..13 (392/28 = 14 exclusive)
    expect(visibleRange(280, 112, 28, 1000, 0)).toEqual({ start: 10, end: 14 });
    // a partially visible first row is included
    expect(visibleRange(300, 100, 28, 1000, 0)).toEqual({ start: 10, end: 15 });
  });

  it('adds overscan on both sides, clamped to [0, count)', () => {
    expect(visibleRange(280, 112, 28, 1000, 5)).toEqual({ start: 5, end: 19 });
    expect(visibleRange(0, 112, 28, 1000, 5)).toEqual({ start: 0, end: 9 });
    expect(visibleRange(28 * 995, 112, 28, 1000, 5)).toEqual({ start: 990, end: 1000 });
  });

  it('never renders more than count rows', () => {
    expect(visibleRange(0, 10_000, 28, 7, 10)).toEqual({ start: 0, end: 7 });
  });

  it('handles empty lists and degenerate input', () => {
    expect(visibleRange(0, 500, 28, 0, 5)).toEqual({ start: 0, end: 0 });
    expect(visibleRange(0, 500, 0, 10, 5)).toEqual({ start: 0, end: 0 });
    expect(visibleRange(-50, 56, 28, 10, 0)).toEqual({ start: 0, end: 2 });
    const past = visibleRange(1e6, 100, 28, 10, 2);
    expect(past.start).toBeLessThanOrEqual(past.end);
    expect(past.end).toBe(10);
  });

  it('keeps the DOM small for a 10,000-row list', () => {
    const r = visibleRange(123_456, 800, 28, 10_000, 10);
    expect(r.end - r.start).toBeLessThanOrEqual(Math.ceil(800 / 28) + 1 + 20);
    expect(r.start).toBe(Math.floor(123_456 / 28) - 10);
  });
});

describe('isAtBottom', () => {
  it('is true within the slack of the bottom only', () => {
    expect(isAtBottom(900, 100, 1000)).toBe(true);
    expect(isAtBottom(897, 100, 1000, 4)).toBe(true);
    expect(isAtBottom(880, 100, 1000, 4)).toBe(false);
  });
});
