import { describe, expect, it } from 'vitest';
import {
  applyCue,
  applyCueLive,
  applyPoll,
  applyPollResults,
  canHost,
  clockText,
  countdown,
  countdownText,
  hostQuestions,
  liveAndNext,
  mmss,
  percentages,
  platformBreakdown,
  pollFormProblem,
  pollGroups,
  resultRows,
} from './host';
import { cue, poll, question, results } from './test-utils';
import type { Cue, Poll } from './types';

const T0 = Date.parse('2030-01-01T10:00:00Z');

describe('countdown', () => {
  const live = cue({ state: 'live', actual_start_at: new Date(T0).toISOString(), planned_duration_s: 300 });

  it('counts down from start + duration against server time', () => {
    expect(countdown(live, T0)).toEqual({ untimed: false, remainingS: 300, overS: 0, overrun: false });
    expect(countdown(live, T0 + 1_500).remainingS).toBe(299); // 298.5 s left shows 4:59
    expect(countdownText(countdown(live, T0 + 60_000))).toBe('4:00');
  });

  it('uses the clock offset: a console 10 s slow still agrees with the server', () => {
    const localNow = T0 + 50_000; // local clock
    const offsetMs = 10_000; // server is 10 s ahead
    expect(countdownText(countdown(live, localNow + offsetMs))).toBe('4:00');
  });

  it('turns into an overrun past the planned end', () => {
    const c = countdown(live, T0 + 342_000);
    expect(c).toEqual({ untimed: false, remainingS: 0, overS: 42, overrun: true });
    expect(countdownText(c)).toBe('+0:42 over');
    expect(countdownText(countdown(live, T0 + 300_400))).toBe('0:00'); // not a whole second over yet
    expect(countdownText(countdown(live, T0 + (300 + 3725) * 1000))).toBe('+1:02:05 over');
  });

  it('leaves untimed cues and cues without a start alone', () => {
    expect(countdown(cue({ planned_duration_s: 0, actual_start_at: new Date(T0).toISOString() }), T0).untimed).toBe(true);
    expect(countdown(cue(), T0).untimed).toBe(true);
    expect(countdown(null, T0).untimed).toBe(true);
    expect(countdownText(countdown(null, T0))).toBe('untimed');
  });

  it('formats minutes and seconds, and the clock', () => {
    expect(mmss(0)).toBe('0:00');
    expect(mmss(75)).toBe('1:15');
    expect(mmss(-5)).toBe('0:00');
    expect(clockText(Date.parse('2030-01-01T09:05:07Z'), true)).toBe('09:05:07');
  });
});

describe('percentages', () => {
  it('is all zero with no votes', () => {
    expect(percentages([0, 0, 0])).toEqual([0, 0, 0]);
    expect(percentages([0, 0], 0)).toEqual([0, 0]);
    expect(percentages([])).toEqual([]);
  });

  it('adds up to exactly 100 for one choice per voter', () => {
    const p = percentages([1, 1, 1]);
    expect(p.reduce((a, b) => a + b, 0)).toBe(100);
    expect(p).toEqual([34, 33, 33]);
    expect(percentages([2, 1])).toEqual([67, 33]);
    expect(percentages([5, 0])).toEqual([100, 0]);
  });

  it('measures multiple choice against voters (may add up past 100)', () => {
    expect(percentages([2, 2], 2)).toEqual([100, 100]);
    expect(percentages([1, 2], 3)).toEqual([33, 67]);
  });

  it('builds rows and the per-platform breakdown', () => {
    expect(resultRows(results())).toEqual([
      { position: 1, label: 'A', votes: 2, pct: 67 },
      { position: 2, label: 'B', votes: 1, pct: 33 },
    ]);
    expect(resultRows(null)).toEqual([]);
    expect(platformBreakdown(results()).map((b) => b.platform)).toEqual(['twitch', 'youtube']);
  });

  it("marks a platform counted by its own poll", () => {
    const r = results();
    r.by_platform = { twitch: { voters: 9, counts: [4, 5], native: true }, audience: { voters: 1, counts: [1, 0] } };
    expect(platformBreakdown(r).map((b) => [b.platform, b.native])).toEqual([
      ['twitch', true],
      ['audience', false],
    ]);
  });
});

describe('reducers', () => {
  it('keeps the newest cue version; equal versions refresh computed fields', () => {
    const m = new Map<string, Cue>();
    expect(applyCue(m, cue({ version: 2, title: 'B' }))).toBe(true);
    expect(applyCue(m, cue({ version: 1, title: 'A' }))).toBe(false);
    expect(applyCue(m, cue({ version: 2, title: 'B', overrun: true }))).toBe(true);
    expect(m.get('c1')?.overrun).toBe(true);
    expect(applyCue(m, null)).toBe(false);
  });

  it('applies a cue.live body and reports the live id', () => {
    const m = new Map<string, Cue>();
    const live = cue({ id: 'c2', state: 'live', version: 2 });
    const ended = cue({ id: 'c1', state: 'done', version: 3 });
    expect(applyCueLive(m, { live, next: null, ended, server_time: '' })).toBe('c2');
    expect(m.get('c1')?.state).toBe('done');
    expect(applyCueLive(m, { live: null, next: null, ended: live, server_time: '' })).toBe(null);
    expect(applyCueLive(m, undefined)).toBe(undefined);
  });

  it('puts results on the poll without changing its state', () => {
    const m = new Map<string, Poll>();
    applyPoll(m, poll({ state: 'closed', version: 3 }));
    expect(applyPoll(m, poll({ state: 'open', version: 2 }))).toBe(false);
    expect(applyPollResults(m, results({ state: 'open' }))).toBe(true);
    expect(m.get('p1')?.state).toBe('closed');
    expect(m.get('p1')?.results?.total_voters).toBe(3);
    expect(applyPollResults(m, results({ poll_id: 'unknown' }))).toBe(false);
  });
});

describe('what the host sees', () => {
  it('finds the live cue and the next pending ones in running order', () => {
    const cues = [
      cue({ id: 'c3', position: 2 }),
      cue({ id: 'c1', position: 0, state: 'done' }),
      cue({ id: 'c2', position: 1, state: 'live' }),
      cue({ id: 'c4', position: 3, state: 'skipped' }),
      cue({ id: 'c5', position: 4 }),
    ];
    const r = liveAndNext(cues, 'c2', 2);
    expect(r.live?.id).toBe('c2');
    expect(r.next.map((c) => c.id)).toEqual(['c3', 'c5']);
    expect(liveAndNext([], null).live).toBe(null);
  });

  it('shows the question on deck and the next two approved by score', () => {
    const qs = [
      question({ id: 'a', state: 'approved', votes: 1, score: 1 }),
      question({ id: 'b', state: 'on_deck', votes: 0, score: 0 }),
      question({ id: 'c', state: 'approved', votes: 5, score: 5 }),
      question({ id: 'd', state: 'pending', votes: 9, score: 9 }),
      question({ id: 'e', state: 'approved', votes: 0, score: 0 }),
    ];
    const r = hostQuestions(qs);
    expect(r.onDeck?.id).toBe('b');
    expect(r.upNext.map((q) => q.id)).toEqual(['c', 'a']);
    expect(hostQuestions([]).onDeck).toBe(null);
  });

  it('groups polls and checks the ad-hoc form', () => {
    const g = pollGroups([poll({ id: 'x', state: 'open' }), poll({ id: 'y' }), poll({ id: 'z', state: 'closed' })]);
    expect(g.open?.id).toBe('x');
    expect(g.drafts.map((p) => p.id)).toEqual(['y']);
    expect(pollFormProblem('', ['a', 'b'])).toMatch(/title/);
    expect(pollFormProblem('T', ['a', ' '])).toMatch(/two/);
    expect(pollFormProblem('T', ['a', 'A'])).toMatch(/differ/);
    expect(pollFormProblem('T', ['1', '2', '3', '4', '5', '6', '7'])).toMatch(/six/);
    expect(pollFormProblem('T', ['a', 'b', ''])).toBe(null);
  });

  it('lets admins, ops leads and hosts drive the show', () => {
    expect(canHost('host')).toBe(true);
    expect(canHost('ops_lead')).toBe(true);
    expect(canHost('moderator')).toBe(false);
    expect(canHost(null)).toBe(false);
  });
});
