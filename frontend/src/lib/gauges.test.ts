import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  clockLabel,
  compactNumber,
  cueMarkers,
  engagementRate,
  GaugeTable,
  gaugeFreshness,
  gaugeValues,
  historyRows,
  interactionsPerMin,
  isolatedIndices,
  MAX_POINTS,
  openPoll,
  percentText,
  pollParticipation,
  questionTally,
  rateText,
  Ring,
  STEP_MS,
  TrailingRate,
  WINDOW_MS,
  type GaugeHistory,
} from './gauges';
import { gaugesApi } from './gaugesApi';
import { cue, fakeFetch, gauges, json, poll, question, results, type FetchCall } from './test-utils';

const T0 = Date.parse('2030-01-01T10:00:00Z');

describe('Ring', () => {
  it('keeps the newest `capacity` items, oldest first', () => {
    const r = new Ring<number>(3);
    expect(r.toArray()).toEqual([]);
    for (let i = 1; i <= 7; i++) r.push(i);
    expect(r.length).toBe(3);
    expect(r.toArray()).toEqual([5, 6, 7]);
    expect(r.at(0)).toBe(5);
    expect(r.last()).toBe(7);
    expect(r.at(3)).toBeUndefined();
  });

  it('replaces the newest, drops from the oldest end, clears', () => {
    const r = new Ring<number>(4);
    [1, 2, 3, 4, 5].forEach((x) => r.push(x));
    r.setLast(50);
    expect(r.toArray()).toEqual([2, 3, 4, 50]);
    expect(r.dropWhile((x) => x < 4)).toBe(2);
    expect(r.toArray()).toEqual([4, 50]);
    r.push(6);
    r.push(7);
    r.push(8);
    expect(r.toArray()).toEqual([50, 6, 7, 8]);
    r.clear();
    expect(r.length).toBe(0);
    r.setLast(9);
    expect(r.toArray()).toEqual([9]);
  });

  it('refuses a capacity below one', () => {
    expect(() => new Ring(0)).toThrow();
  });
});

describe('GaugeTable: downsampling and bounds', () => {
  it('keeps one row per 10 s: the newest sample of a step wins, keys it lacks stay', () => {
    const t = new GaugeTable();
    t.addLive(T0 + 1_000, { viewers: 10, 'viewers:twitch': 10 });
    t.addLive(T0 + 5_000, { viewers: 12 });
    t.addLive(T0 + 9_999, { viewers: 13 });
    t.addLive(T0 + 10_000, { viewers: 20 });
    const rows = t.rows.toArray();
    expect(rows.map((r) => [r.t - T0, r.v.viewers])).toEqual([
      [9_999, 13],
      [10_000, 20],
    ]);
    expect(rows[0].v['viewers:twitch']).toBe(10);
    expect(rows[1].v['viewers:twitch']).toBeUndefined();
  });

  it('a per-second feed for two hours stays at ≤ 180 rows, all within the last 30 minutes', () => {
    const t = new GaugeTable();
    const end = T0 + 2 * 3600_000;
    for (let at = T0; at <= end; at += 1000) t.addLive(at, { viewers: at });
    expect(MAX_POINTS).toBe(180);
    expect(t.rows.length).toBeLessThanOrEqual(180);
    expect(t.rows.length).toBeGreaterThanOrEqual(179);
    const rows = t.rows.toArray();
    expect(rows[0].t).toBeGreaterThanOrEqual(end - WINDOW_MS);
    expect(rows[rows.length - 1].t).toBe(end);
    // One point per 10 s (the newest one is the step under way).
    for (let i = 1; i < rows.length - 1; i++) expect(rows[i].t - rows[i - 1].t).toBe(STEP_MS);
    const [x, y] = t.columns(['viewers']);
    expect(x.length).toBe(rows.length);
    expect(y.length).toBe(rows.length);
  });

  it('ignores a sample older than its newest row, and drops rows that leave the window', () => {
    const t = new GaugeTable();
    expect(t.addLive(T0 + 20_000, { viewers: 1 })).toBe(true);
    expect(t.addLive(T0 + 5_000, { viewers: 2 })).toBe(false);
    expect(t.addLive(NaN, { viewers: 2 })).toBe(false);
    t.addLive(T0 + 20_000 + WINDOW_MS + 1, { viewers: 3 });
    expect(t.rows.toArray().map((r) => r.v.viewers)).toEqual([3]);
  });

  it('history goes in before the live rows, never over them', () => {
    const t = new GaugeTable();
    t.addLive(T0, { viewers: 100 });
    const before = t.version;
    const n = t.seed([
      { t: T0 - 120_000, step: 0, v: { viewers: 80 } },
      { t: T0 - 60_000, step: 0, v: { viewers: 90 } },
      { t: T0, step: 0, v: { viewers: -1 } },
      { t: T0 + 60_000, step: 0, v: { viewers: -1 } },
      { t: T0 - 2 * WINDOW_MS, step: 0, v: { viewers: -1 } },
    ]);
    expect(n).toBe(3);
    expect(t.version).toBeGreaterThan(before);
    // The one from an hour ago went in, then left the window.
    expect(t.rows.toArray().map((r) => r.v.viewers)).toEqual([80, 90, 100]);
    expect(t.seed([])).toBe(0);
  });

  it('columns: x in seconds, null where a row lacks the key or holds no number', () => {
    const t = new GaugeTable();
    t.addLive(T0, { viewers: 5, 'viewers:twitch': 5 });
    t.addLive(T0 + 10_000, { viewers: 7, 'viewers:youtube': 2, 'viewers:twitch': null });
    expect(t.keysWith('viewers:')).toEqual(['viewers:twitch', 'viewers:youtube']);
    expect(t.latest('viewers:twitch')).toEqual({ t: T0, v: 5 });
    expect(t.latest('viewers')).toEqual({ t: T0 + 10_000, v: 7 });
    expect(t.latest('nothing')).toBeNull();
    expect(t.columns(['viewers', 'viewers:twitch', 'viewers:youtube'])).toEqual([
      [T0 / 1000, T0 / 1000 + 10],
      [5, 7],
      [5, null],
      [null, 2],
    ]);
  });
});

describe('derived rates', () => {
  it('poll participation is voters ÷ viewers in percent; none without a poll or viewers', () => {
    expect(pollParticipation(25, 200)).toBe(12.5);
    expect(pollParticipation(0, 200)).toBe(0);
    expect(pollParticipation(null, 200)).toBeNull();
    expect(pollParticipation(10, 0)).toBeNull();
    expect(pollParticipation(10, undefined)).toBeNull();
  });

  it('interactions add messages, ballots and upvotes; none without messages', () => {
    expect(interactionsPerMin(30, 6, 4)).toBe(40);
    expect(interactionsPerMin(30, null, undefined)).toBe(30);
    expect(interactionsPerMin(30, -5, 0)).toBe(30);
    expect(interactionsPerMin(null, 6, 4)).toBeNull();
  });

  it('the engagement rate is interactions per 100 viewers per minute', () => {
    expect(engagementRate(40, 800)).toBe(5);
    expect(engagementRate(3, 1000)).toBeCloseTo(0.3);
    expect(engagementRate(40, 0)).toBeNull();
    expect(engagementRate(null, 800)).toBeNull();
  });

  it('a trailing rate measures a counter’s growth over the last minute', () => {
    const r = new TrailingRate();
    r.note(T0, 100);
    expect(r.perMinute()).toBeNull(); // one sample
    r.note(T0 + 2_000, 104);
    expect(r.perMinute()).toBeNull(); // under 5 s
    r.note(T0 + 30_000, 110);
    expect(r.perMinute()).toBe(20); // 10 in 30 s
    for (let s = 31; s <= 120; s++) r.note(T0 + s * 1000, 110 + (s - 30));
    // 1 a second over the last minute.
    expect(r.perMinute()).toBeCloseTo(60, 5);
    r.note(T0 + 121_000, 3); // the counter went down (a poll deleted): start over
    expect(r.perMinute()).toBeNull();
    r.note(T0 + 100_000, 50); // older than the newest: ignored
    r.note(T0 + 127_000, 9);
    expect(r.perMinute()).toBe(60);
  });

  it('question tally: approved includes on deck; merged ones are left out', () => {
    const qs = [
      question({ state: 'pending' }),
      question({ state: 'pending', merged_into: 'x' }),
      question({ state: 'approved' }),
      question({ state: 'on_deck' }),
      question({ state: 'answered' }),
      question({ state: 'rejected' }),
    ];
    expect(questionTally(qs)).toEqual({ pending: 1, approved: 2, answered: 1 });
  });

  it('the open poll, or none', () => {
    const open = poll({ id: 'p2', state: 'open', results: results({ total_voters: 9 }) });
    expect(openPoll([poll({ state: 'closed' }), open])).toBe(open);
    expect(openPoll([poll({ state: 'draft' })])).toBeNull();
  });

  it('gauge values: total and one key per platform', () => {
    const g = gauges('2030-01-01T10:00:00Z', 120, 30);
    g.viewers.by_platform = { twitch: 70, youtube: 50 };
    expect(gaugeValues(g)).toEqual({
      viewers: 120,
      'viewers:twitch': 70,
      'viewers:youtube': 50,
      messages_per_min: 30,
      unique_chatters_per_min: 5,
      questions_pending: 1,
    });
  });
});

describe('history rows', () => {
  const at = (m: number) => new Date(T0 + m * 60_000).toISOString();
  const h: GaugeHistory = {
    event_id: 'e1',
    server_time: at(3),
    since: at(0),
    until: at(2),
    bucket_s: 60,
    series: {
      viewers: {
        total: [
          { at: at(0), value: 200 },
          { at: at(1), value: 400 },
        ],
        twitch: [{ at: at(0), value: 150 }],
      },
      messages_per_min: { total: [{ at: at(0), value: 30 }] },
      // 30 lines, 5 of them hidden by a moderation rule: 25 interactions
      interactions_per_min: { total: [{ at: at(0), value: 25 }] },
      unique_chatters_per_min: { total: [{ at: at(0), value: 12 }] },
      questions_pending: { total: [{ at: at(1), value: 4 }] },
      questions_answered: {
        total: [
          { at: at(0), value: 1 },
          { at: at(1), value: 2 },
        ],
      },
      poll_votes_per_min: {
        total: [
          { at: at(0), value: 6 },
          { at: at(1), value: 0 },
        ],
      },
      question_votes_per_min: {
        total: [
          { at: at(0), value: 4 },
          { at: at(1), value: 0 },
        ],
      },
    },
  };

  it('one row per minute, at the minute’s end, with the engagement rate derived', () => {
    const rows = historyRows(h);
    expect(rows.map((r) => r.t)).toEqual([T0 + 60_000, T0 + 120_000]);
    expect(rows[0].v).toEqual({
      viewers: 200,
      'viewers:twitch': 150,
      messages_per_min: 30,
      unique_chatters_per_min: 12,
      questions_answered: 1,
      // (25 + 6 + 4) / 200 × 100: hidden lines are messages, not interactions
      engagement_rate: 17.5,
    });
    // No chat or question counted that minute: no rate.
    expect(rows[1].v).toEqual({ viewers: 400, questions_pending: 4, questions_answered: 2, engagement_rate: null });
  });

  it('nothing from nothing', () => {
    expect(historyRows(null)).toEqual([]);
    expect(historyRows({ ...h, series: {} })).toEqual([]);
  });
});

describe('cue markers', () => {
  it('the cues that started within the window, by start', () => {
    const iso = (s: number) => new Date(T0 + s * 1000).toISOString();
    const ms = cueMarkers(
      [
        cue({ title: 'Q&A', actual_start_at: iso(600) }),
        cue({ title: 'Keynote', actual_start_at: iso(60) }),
        cue({ title: 'Not yet', actual_start_at: null }),
        cue({ title: 'Long ago', actual_start_at: iso(-3600) }),
      ],
      T0,
      T0 + 1800_000,
    );
    expect(ms).toEqual([
      { t: T0 + 60_000, label: 'Keynote' },
      { t: T0 + 600_000, label: 'Q&A' },
    ]);
  });
});

describe('freshness', () => {
  it('fresh up to 5 s, late up to 15 s, stale after: in words, not colour alone', () => {
    const now = T0 + 100_000;
    expect(gaugeFreshness(now - 2_000, now)).toEqual({ level: 'fresh', text: 'updated 2 s ago', ageMs: 2_000 });
    expect(gaugeFreshness(now - 5_000, now).level).toBe('fresh');
    expect(gaugeFreshness(now - 5_001, now)).toMatchObject({ level: 'late', text: 'late · updated 5 s ago' });
    expect(gaugeFreshness(now - 15_000, now).level).toBe('late');
    expect(gaugeFreshness(now - 15_001, now)).toMatchObject({ level: 'stale', text: 'stale · updated 15 s ago' });
    expect(gaugeFreshness(new Date(now - 20_000).toISOString(), now).text).toBe('stale · updated 20 s ago');
    // A clock a little behind the server's: not "in the future", just now.
    expect(gaugeFreshness(now + 800, now)).toMatchObject({ level: 'fresh', ageMs: 0 });
    expect(gaugeFreshness(null, now)).toEqual({ level: 'none', text: 'no data yet', ageMs: NaN });
    expect(gaugeFreshness('not a time', now).level).toBe('none');
  });

  it('display helpers', () => {
    expect(percentText(12.5)).toBe('13%');
    expect(percentText(4.25)).toBe('4.3%');
    expect(percentText(null)).toBe('–');
    expect(rateText(2.44)).toBe('2.4');
    expect(rateText(12.6)).toBe('13');
    expect(rateText(undefined)).toBe('–');
    expect(isolatedIndices([1, null, 2, null, null, 3, 4, null, 5])).toEqual([0, 2, 8]);
    expect(isolatedIndices([null, 7, null])).toEqual([1]);
    expect(isolatedIndices([1, 2])).toEqual([]);
    expect(clockLabel(new Date(2030, 0, 1, 7, 5).getTime() / 1000)).toBe('07:05');
    expect(clockLabel(NaN)).toBe('');
    expect([950, 1234, 34_567, 1_500_000, 2.25].map(compactNumber)).toEqual(['950', '1.2k', '35k', '1.5M', '2.3']);
  });
});

describe('gaugesApi', () => {
  let calls: FetchCall[] = [];
  let answers: (() => Response)[] = [];
  beforeEach(() => {
    ({ calls, answers } = fakeFetch({ parseJson: true }));
  });
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it('reads the last 30 minutes by default', async () => {
    answers.push(json(200, { series: {} }), json(200, { series: {} }));
    await gaugesApi.history('ev 1');
    await gaugesApi.history('ev1', 5);
    expect(calls.map((c) => [c.method, c.url])).toEqual([
      ['GET', '/api/events/ev%201/gauges/history?minutes=30'],
      ['GET', '/api/events/ev1/gauges/history?minutes=5'],
    ]);
  });
});
