import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Notices } from './notices.svelte';

describe('Notices', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  const make = () => new Notices<'error' | 'info'>(2, (k) => (k === 'error' ? 9000 : 5000));

  it('keeps the newest few, each for as long as its kind says', () => {
    const n = make();
    n.push('info', 'a');
    n.push('error', 'b');
    n.push('info', 'c');
    expect(n.list.map((x) => x.text)).toEqual(['b', 'c']);
    vi.advanceTimersByTime(5000);
    expect(n.list.map((x) => x.text)).toEqual(['b']);
    vi.advanceTimersByTime(4000);
    expect(n.list).toEqual([]);
    expect(vi.getTimerCount()).toBe(0); // the one pushed out took its timer with it
  });

  it('dismiss removes one at once; destroy stops every timer', () => {
    const n = make();
    n.push('info', 'a');
    n.push('info', 'b');
    n.dismiss(n.list[0].id);
    expect(n.list.map((x) => x.text)).toEqual(['b']);
    n.destroy();
    expect(vi.getTimerCount()).toBe(0);
  });
});
