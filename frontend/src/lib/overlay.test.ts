import { describe, expect, it } from 'vitest';
import {
  OverlayAuthError,
  countdown,
  fetchOverlayState,
  isOverlayKind,
  pollBars,
  wholePercents,
  type OverlayPoll,
} from './overlay';

function poll(votes: number[]): OverlayPoll {
  return {
    id: 'p1',
    title: 'Best talk?',
    kind: 'single',
    state: 'open',
    closes_at: null,
    total_voters: votes.reduce((a, b) => a + b, 0),
    average: null,
    options: votes.map((v, i) => ({ position: i + 1, label: `Option ${i + 1}`, votes: v, percent: 0 })),
  };
}

describe('wholePercents', () => {
  it('rounds so the shares add up to exactly 100', () => {
    expect(wholePercents([1, 1, 1])).toEqual([34, 33, 33]);
    expect(wholePercents([2, 1])).toEqual([67, 33]);
    expect(wholePercents([1, 2, 3, 4, 5, 6, 7])).toHaveLength(7);
    expect(wholePercents([1, 2, 3, 4, 5, 6, 7]).reduce((a, b) => a + b)).toBe(100);
  });

  it('gives the extra point to the largest remainder', () => {
    // 12.5 / 37.5 / 50: the tie on .5 goes to the earlier option
    expect(wholePercents([1, 3, 4])).toEqual([13, 37, 50]);
    expect(wholePercents([0, 0, 7])).toEqual([0, 0, 100]);
  });

  it('is all zero when nobody voted', () => {
    expect(wholePercents([0, 0])).toEqual([0, 0]);
    expect(wholePercents([])).toEqual([]);
  });
});

describe('pollBars', () => {
  it('keeps the poll order and marks the leader', () => {
    const bars = pollBars(poll([3, 5, 2]));
    expect(bars.map((b) => b.position)).toEqual([1, 2, 3]);
    expect(bars.map((b) => b.percent)).toEqual([30, 50, 20]);
    expect(bars.map((b) => b.leading)).toEqual([false, true, false]);
  });

  it('sorts by votes, ties in the poll order', () => {
    const bars = pollBars(poll([2, 5, 5, 1]), true);
    expect(bars.map((b) => b.position)).toEqual([2, 3, 1, 4]);
    expect(bars.filter((b) => b.leading)).toHaveLength(2);
  });

  it('has no leader before the first vote', () => {
    expect(pollBars(poll([0, 0])).some((b) => b.leading)).toBe(false);
  });
});

describe('countdown', () => {
  it('formats minutes, hours and overruns', () => {
    expect(countdown(245)).toBe('4:05');
    expect(countdown(8.2)).toBe('0:09');
    expect(countdown(3725)).toBe('1:02:05');
    expect(countdown(-90)).toBe('-1:30');
    expect(countdown(null)).toBe('');
  });
});

describe('fetchOverlayState', () => {
  it('sends the token and reads the state', async () => {
    const seen: string[] = [];
    const state = await fetchOverlayState('ovl_e_s/+', async (url) => {
      seen.push(url);
      return new Response(JSON.stringify({ event: { id: 'e', title: 'Launch' } }), { status: 200 });
    });
    expect(seen).toEqual(['/api/overlay/state?token=ovl_e_s%2F%2B']);
    expect(state.event.title).toBe('Launch');
  });

  it('reports a refused token apart from other failures', async () => {
    await expect(
      fetchOverlayState('x', async () => new Response('{}', { status: 401 })),
    ).rejects.toBeInstanceOf(OverlayAuthError);
    await expect(
      fetchOverlayState('x', async () => new Response('{}', { status: 503 })),
    ).rejects.not.toBeInstanceOf(OverlayAuthError);
  });

  it('knows the overlay kinds', () => {
    expect(isOverlayKind('poll')).toBe(true);
    expect(isOverlayKind('admin')).toBe(false);
  });
});
