// The Ops view's gauges board (issue 7 point 1): its 30-minute series, the derived
// rates and the freshness of what it shows. Pure: no fetch, no DOM (the REST call is in
// gaugesApi.ts, the drawing in TimeChart.svelte).

import { ago } from './format';
import type { Cue, Gauges, Poll, Question } from './types';

/** How much the charts show. */
export const WINDOW_MS = 30 * 60_000;
/** Live gauges come every second; the charts keep one point per step. */
export const STEP_MS = 10_000;
/** Points per series at most: 30 minutes at one per 10 s. */
export const MAX_POINTS = WINDOW_MS / STEP_MS;

/** Older than this, a gauge's value is late (amber); older than STALE_MS, stale (red). */
export const LATE_MS = 5_000;
export const STALE_MS = 15_000;

// ---- the ring buffer ---------------------------------------------------------------

/** A fixed-capacity FIFO: pushing onto a full one drops the oldest item. */
export class Ring<T> {
  private items: (T | undefined)[];
  private head = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    if (!(capacity >= 1)) throw new Error('a ring needs room for at least one item');
    this.items = new Array<T | undefined>(capacity);
  }

  get length(): number {
    return this.count;
  }

  push(item: T): void {
    const at = (this.head + this.count) % this.capacity;
    this.items[at] = item;
    if (this.count < this.capacity) this.count += 1;
    else this.head = (this.head + 1) % this.capacity;
  }

  at(i: number): T | undefined {
    if (i < 0) i += this.count;
    if (i < 0 || i >= this.count) return undefined;
    return this.items[(this.head + i) % this.capacity];
  }

  last(): T | undefined {
    return this.at(-1);
  }

  setLast(item: T): void {
    if (this.count === 0) this.push(item);
    else this.items[(this.head + this.count - 1) % this.capacity] = item;
  }

  /** Drops items from the oldest end while `pred` holds. Returns how many went. */
  dropWhile(pred: (item: T) => boolean): number {
    let n = 0;
    while (this.count > 0 && pred(this.items[this.head] as T)) {
      this.items[this.head] = undefined;
      this.head = (this.head + 1) % this.capacity;
      this.count -= 1;
      n += 1;
    }
    return n;
  }

  clear(): void {
    this.items = new Array<T | undefined>(this.capacity);
    this.head = 0;
    this.count = 0;
  }

  toArray(): T[] {
    const out: T[] = [];
    for (let i = 0; i < this.count; i++) out.push(this.items[(this.head + i) % this.capacity] as T);
    return out;
  }
}

// ---- the table the charts read -----------------------------------------------------

export type Values = Record<string, number | null | undefined>;

export interface Row {
  /** server time (ms) of the newest sample in the row */
  t: number;
  /** the STEP_MS bucket it stands for (history rows: their own minute) */
  step: number;
  v: Values;
}

/**
 * Every gauge's points, one row per 10 s: a live sample replaces the values of the row
 * of its step (the newest wins; keys it lacks keep the row's), so a per-second feed
 * becomes ≤ MAX_POINTS rows over the window. Rows older than the window are dropped.
 */
export class GaugeTable {
  readonly rows: Ring<Row>;
  /** bumped on each change: a Svelte component re-reads the columns when it moves */
  version = 0;

  constructor(
    readonly windowMs = WINDOW_MS,
    readonly stepMs = STEP_MS,
  ) {
    this.rows = new Ring<Row>(Math.max(1, Math.floor(windowMs / stepMs)));
  }

  /** One live sample at server time `t`. Older than the newest row: ignored. */
  addLive(t: number, values: Values): boolean {
    if (!Number.isFinite(t)) return false;
    const step = Math.floor(t / this.stepMs);
    const last = this.rows.last();
    if (last && t < last.t) return false;
    if (last && last.step === step) this.rows.setLast({ t, step, v: { ...last.v, ...values } });
    else this.rows.push({ t, step, v: { ...values } });
    this.trim(t);
    this.version += 1;
    return true;
  }

  /**
   * Rows from before the live ones (the per-minute history fetched on open): only those
   * older than the oldest row held go in, oldest first.
   */
  seed(history: Row[]): number {
    const held = this.rows.toArray();
    const first = held[0]?.t ?? Infinity;
    const older = history.filter((r) => Number.isFinite(r.t) && r.t < first).sort((a, b) => a.t - b.t);
    if (older.length === 0) return 0;
    const newest = held.length > 0 ? held[held.length - 1].t : older[older.length - 1].t;
    // Newest kept last: the ring drops from the oldest end when the two overflow it.
    this.rows.clear();
    for (const r of older) this.rows.push(r);
    for (const r of held) this.rows.push(r);
    this.trim(newest);
    this.version += 1;
    return older.length;
  }

  /** Drops the rows that left the window ending at `now`. */
  trim(now: number): void {
    const cutoff = now - this.windowMs;
    if (this.rows.dropWhile((r) => r.t < cutoff) > 0) this.version += 1;
  }

  /** The newest row holding a number for `key`, with that number; null if none does. */
  latest(key: string): { t: number; v: number } | null {
    for (let i = this.rows.length - 1; i >= 0; i--) {
      const r = this.rows.at(i) as Row;
      const v = r.v[key];
      if (typeof v === 'number' && Number.isFinite(v)) return { t: r.t, v };
    }
    return null;
  }

  /** The keys any row holds that start with `prefix` (the per-platform viewers). */
  keysWith(prefix: string): string[] {
    const out = new Set<string>();
    for (const r of this.rows.toArray()) for (const k of Object.keys(r.v)) if (k.startsWith(prefix)) out.add(k);
    return [...out].sort();
  }

  /**
   * uPlot's aligned data for `keys`: x in seconds, then one array per key (null where
   * a row lacks it, which the chart draws as a gap).
   */
  columns(keys: string[]): [number[], ...(number | null)[][]] {
    const rows = this.rows.toArray();
    const x = rows.map((r) => r.t / 1000);
    const ys = keys.map((k) =>
      rows.map((r) => {
        const v = r.v[k];
        return typeof v === 'number' && Number.isFinite(v) ? v : null;
      }),
    );
    return [x, ...ys];
  }
}

// ---- values of one sample --------------------------------------------------------------

/** The key of a platform's viewers in the table. */
export const viewersKey = (platform: string) => `viewers:${platform}`;

/** What a gauges.update says directly. */
export function gaugeValues(g: Gauges): Values {
  const out: Values = {
    viewers: g.viewers?.total,
    messages_per_min: g.messages_per_min,
    unique_chatters_per_min: g.unique_chatters_per_min,
    questions_pending: g.questions_pending,
  };
  for (const [p, n] of Object.entries(g.viewers?.by_platform ?? {})) out[viewersKey(p)] = n;
  return out;
}

export interface QuestionTally {
  pending: number;
  /** approved or on deck: accepted, not answered yet */
  approved: number;
  answered: number;
}

/** Questions by state, as the console holds them (merged ones count where they went). */
export function questionTally(questions: Iterable<Pick<Question, 'state' | 'merged_into'>>): QuestionTally {
  const out: QuestionTally = { pending: 0, approved: 0, answered: 0 };
  for (const q of questions) {
    if (q.merged_into) continue;
    if (q.state === 'pending') out.pending += 1;
    else if (q.state === 'approved' || q.state === 'on_deck') out.approved += 1;
    else if (q.state === 'answered') out.answered += 1;
  }
  return out;
}

/** The open poll, if any (the server allows one per event). */
export function openPoll(polls: Iterable<Poll>): Poll | null {
  for (const p of polls) if (p.state === 'open') return p;
  return null;
}

/** Ballots so far in every poll the console holds: the poll-votes counter. */
export function ballotsCast(polls: Iterable<Poll>): number {
  let n = 0;
  for (const p of polls) n += p.results?.total_voters ?? 0;
  return n;
}

/** Upvotes on every question the console holds: the question-votes counter. */
export function upvotesCast(questions: Iterable<Pick<Question, 'votes'>>): number {
  let n = 0;
  for (const q of questions) n += typeof q.votes === 'number' ? q.votes : 0;
  return n;
}

/**
 * Poll participation, in percent: the open poll's voters ÷ the concurrent viewers.
 * Null when no poll is open or nobody is counted watching (nothing to divide by).
 */
export function pollParticipation(voters: number | null | undefined, viewers: number | null | undefined): number | null {
  if (typeof voters !== 'number' || !Number.isFinite(voters)) return null;
  if (typeof viewers !== 'number' || !Number.isFinite(viewers) || viewers <= 0) return null;
  return (Math.max(0, voters) / viewers) * 100;
}

/**
 * Interactions in a minute, as the post-event report counts them: the server's chat and
 * question interactions (lines not hidden and not questions, plus each question once),
 * poll ballots and question upvotes. Null when the first is not known (the other two
 * are counted as 0 when missing).
 */
export function interactionsPerMin(
  chatAndQuestions: number | null | undefined,
  ballots: number | null | undefined,
  upvotes: number | null | undefined,
): number | null {
  if (typeof chatAndQuestions !== 'number' || !Number.isFinite(chatAndQuestions)) return null;
  const n = (x: number | null | undefined) => (typeof x === 'number' && Number.isFinite(x) ? Math.max(0, x) : 0);
  return Math.max(0, chatAndQuestions) + n(ballots) + n(upvotes);
}

/** The engagement rate: interactions per 100 viewers per minute; null without viewers. */
export function engagementRate(interactions: number | null | undefined, viewers: number | null | undefined): number | null {
  if (typeof interactions !== 'number' || !Number.isFinite(interactions)) return null;
  if (typeof viewers !== 'number' || !Number.isFinite(viewers) || viewers <= 0) return null;
  return (Math.max(0, interactions) / viewers) * 100;
}

/**
 * A per-minute rate from a counter sampled now and then (ballots, upvotes): the growth
 * over the trailing minute. A counter that goes down (a poll deleted) starts over.
 */
export class TrailingRate {
  private samples: { t: number; n: number }[] = [];

  constructor(
    readonly spanMs = 60_000,
    /** shorter than this, no rate yet (a few seconds say little per minute) */
    readonly minSpanMs = 5_000,
  ) {}

  note(t: number, count: number): void {
    if (!Number.isFinite(t) || !Number.isFinite(count)) return;
    const last = this.samples[this.samples.length - 1];
    if (last && t < last.t) return;
    if (last && count < last.n) this.samples = [];
    this.samples.push({ t, n: count });
    // Keep one sample at or before the span's start, so a full minute is measured.
    const start = t - this.spanMs;
    while (this.samples.length > 2 && this.samples[1].t <= start) this.samples.shift();
  }

  /** Per minute over the trailing span ending at the newest sample; null when too short. */
  perMinute(): number | null {
    const s = this.samples;
    if (s.length < 2) return null;
    const newest = s[s.length - 1];
    const oldest = s[0];
    const span = newest.t - oldest.t;
    if (span < this.minSpanMs) return null;
    return ((newest.n - oldest.n) * 60_000) / span;
  }
}

// ---- the per-minute history (GET /api/events/{id}/gauges/history) --------------------

export interface GaugeHistoryPoint {
  /** the minute's start; the value covers [at, at + 60 s) */
  at: string;
  value: number;
}

export interface GaugeHistory {
  event_id: string;
  server_time: string;
  since: string;
  until: string;
  bucket_s: number;
  /** metric → dimension ("total" or a platform) → points, oldest first */
  series: Record<string, Record<string, GaugeHistoryPoint[]>>;
}

/** Metrics whose per-minute history goes into the table as they are. */
const DIRECT = ['messages_per_min', 'unique_chatters_per_min', 'questions_pending', 'questions_answered'];

/**
 * The history as table rows, one per minute, stamped at the minute's end (a count over
 * a minute is known when it ends, as the live trailing-minute gauges are). The engagement
 * rate is derived per minute; approved questions and poll participation have no history.
 */
export function historyRows(h: GaugeHistory | null | undefined): Row[] {
  const series = h?.series;
  if (!series || typeof series !== 'object') return [];
  const bucketMs = (h?.bucket_s && h.bucket_s > 0 ? h.bucket_s : 60) * 1000;
  const byT = new Map<number, Values>();
  const put = (at: string, key: string, value: unknown) => {
    const t = Date.parse(at);
    if (!Number.isFinite(t) || typeof value !== 'number' || !Number.isFinite(value)) return;
    const end = t + bucketMs;
    let v = byT.get(end);
    if (!v) byT.set(end, (v = {}));
    v[key] = value;
  };
  for (const [dim, pts] of Object.entries(series.viewers ?? {}))
    for (const p of pts ?? []) put(p.at, dim === 'total' ? 'viewers' : viewersKey(dim), p.value);
  const PARTS = ['interactions_per_min', 'poll_votes_per_min', 'question_votes_per_min'];
  for (const metric of [...DIRECT, ...PARTS])
    for (const p of series[metric]?.total ?? []) put(p.at, metric, p.value);
  const rows: Row[] = [];
  for (const [t, v] of [...byT].sort((a, b) => a[0] - b[0])) {
    const interactions = interactionsPerMin(v.interactions_per_min, v.poll_votes_per_min, v.question_votes_per_min);
    v.engagement_rate = engagementRate(interactions, v.viewers);
    for (const part of PARTS) delete v[part];
    rows.push({ t, step: Math.floor(t / STEP_MS), v });
  }
  return rows;
}

// ---- cue markers --------------------------------------------------------------------

export interface Marker {
  /** server time (ms) */
  t: number;
  label: string;
}

/** The cues that started within [from, to], by start: a vertical line each on the charts. */
export function cueMarkers(cues: Iterable<Pick<Cue, 'title' | 'actual_start_at'>>, from: number, to: number): Marker[] {
  const out: Marker[] = [];
  for (const c of cues) {
    const t = c.actual_start_at ? Date.parse(c.actual_start_at) : NaN;
    if (Number.isFinite(t) && t >= from && t <= to) out.push({ t, label: c.title || 'cue' });
  }
  return out.sort((a, b) => a.t - b.t || a.label.localeCompare(b.label));
}

// ---- freshness ----------------------------------------------------------------------

export type FreshLevel = 'fresh' | 'late' | 'stale' | 'none';

export interface GaugeFreshness {
  level: FreshLevel;
  /** "updated 2 s ago", "late · updated 7 s ago", "stale · updated 20 s ago", "no data yet" */
  text: string;
  ageMs: number;
}

/** How old a value is against the server's clock: fresh ≤ 5 s < late ≤ 15 s < stale. */
export function gaugeFreshness(at: number | string | null | undefined, serverNow: number): GaugeFreshness {
  const t = typeof at === 'string' ? Date.parse(at) : typeof at === 'number' ? at : NaN;
  if (!Number.isFinite(t) || !Number.isFinite(serverNow)) return { level: 'none', text: 'no data yet', ageMs: NaN };
  const ageMs = Math.max(0, serverNow - t);
  const updated = `updated ${ago(ageMs)}`;
  if (ageMs > STALE_MS) return { level: 'stale', text: `stale · ${updated}`, ageMs };
  if (ageMs > LATE_MS) return { level: 'late', text: `late · ${updated}`, ageMs };
  return { level: 'fresh', text: updated, ageMs };
}

// ---- display ------------------------------------------------------------------------

/** "34%", "0.5%", "–" */
export function percentText(p: number | null | undefined): string {
  if (typeof p !== 'number' || !Number.isFinite(p)) return '–';
  return p >= 10 ? `${Math.round(p)}%` : `${p.toFixed(1)}%`;
}

/** "2.4", "12", "–": a rate with one decimal below 10. */
export function rateText(r: number | null | undefined): string {
  if (typeof r !== 'number' || !Number.isFinite(r)) return '–';
  return r >= 10 ? String(Math.round(r)) : r.toFixed(1);
}

/** One line on a TimeChart. `color`: any CSS colour, or `var(--name)` of the theme. */
export interface ChartSeries {
  label: string;
  color: string;
  width?: number;
}

/** "950", "1.2k", "34k", "1.5M": short tick labels. */
export function compactNumber(v: number): string {
  if (!Number.isFinite(v)) return '';
  const a = Math.abs(v);
  if (a >= 1e6) return `${+(v / 1e6).toFixed(a >= 1e7 ? 0 : 1)}M`;
  if (a >= 1e3) return `${+(v / 1e3).toFixed(a >= 1e4 ? 0 : 1)}k`;
  return Number.isInteger(v) ? String(v) : String(+v.toFixed(1));
}

/**
 * The values with no neighbour on either side (a gap before and after): a line cannot
 * show them, so the chart draws them as dots — the first live point after a gap, say.
 */
export function isolatedIndices(ys: readonly (number | null | undefined)[]): number[] {
  const has = (i: number) => i >= 0 && i < ys.length && typeof ys[i] === 'number';
  const out: number[] = [];
  for (let i = 0; i < ys.length; i++) if (has(i) && !has(i - 1) && !has(i + 1)) out.push(i);
  return out;
}

/** "17:05": a time axis label, local time, 24-hour (seconds since the epoch in). */
export function clockLabel(sec: number): string {
  const d = new Date(sec * 1000);
  if (!Number.isFinite(d.getTime())) return '';
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}
