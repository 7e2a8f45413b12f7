// The host view's pure logic (docs/PROTOCOL.md "Run-of-show" and "Polls"): cue and poll
// reducers, countdowns against the server clock, results as percentages, the next cues.

import { compareQuestions } from './triage';
import type { Cue, CueLive, Poll, PollResults, Question } from './types';

/** Who sees GO and the poll controls. */
export const HOST_ROLES: readonly string[] = ['admin', 'ops_lead', 'host'];

export function canHost(role: string | null | undefined): boolean {
  return !!role && HOST_ROLES.includes(role);
}

function isObj(x: unknown): x is Record<string, unknown> {
  return !!x && typeof x === 'object';
}

/**
 * Store a cue unless we hold a newer version. An equal version is taken: cue.overrun
 * and GO answers repeat a cue with fresher computed fields (overrun, remaining_s).
 */
export function applyCue(map: Map<string, Cue>, c: Cue | null | undefined): boolean {
  if (!isObj(c) || typeof c.id !== 'string') return false;
  const cur = map.get(c.id);
  if (cur && (c.version ?? 0) < (cur.version ?? 0)) return false;
  map.set(c.id, c);
  return true;
}

/** Apply a cue.live body (or a GO answer): its cues, and which one is live. */
export function applyCueLive(map: Map<string, Cue>, body: CueLive | null | undefined): string | null | undefined {
  if (!isObj(body)) return undefined;
  for (const c of [body.ended, body.live, body.next]) applyCue(map, c);
  if (body.live === null) return null;
  return isObj(body.live) && typeof body.live.id === 'string' ? body.live.id : undefined;
}

/** Store a poll (poll.updated, REST answers) unless we hold a newer version. */
export function applyPoll(map: Map<string, Poll>, p: Poll | null | undefined): boolean {
  if (!isObj(p) || typeof p.id !== 'string') return false;
  const cur = map.get(p.id);
  if (cur && (p.version ?? 0) < (cur.version ?? 0)) return false;
  map.set(p.id, p);
  return true;
}

/**
 * poll.results: the counts go onto the poll we hold. The poll's own state comes only
 * from poll.updated: a late results delta must not reopen a closed poll.
 */
export function applyPollResults(map: Map<string, Poll>, r: PollResults | null | undefined): boolean {
  if (!isObj(r) || typeof r.poll_id !== 'string') return false;
  const cur = map.get(r.poll_id);
  if (!cur) return false;
  map.set(r.poll_id, { ...cur, results: { ...r, state: cur.state } });
  return true;
}

/** The live cue's timing at server time `serverNowMs`: untimed cues count nothing. */
export interface Countdown {
  untimed: boolean;
  /** whole seconds left, 0 once over */
  remainingS: number;
  /** whole seconds past the planned end */
  overS: number;
  overrun: boolean;
}

/**
 * Count down to actual_start_at + planned_duration_s. `serverNowMs` is the console's
 * clock plus its offset to the server (LiveClient.clockOffsetMs), so a console whose
 * clock is off still agrees with the server about how much time is left.
 */
export function countdown(cue: Pick<Cue, 'actual_start_at' | 'planned_duration_s'> | null, serverNowMs: number): Countdown {
  const start = cue?.actual_start_at ? Date.parse(cue.actual_start_at) : NaN;
  const dur = cue?.planned_duration_s ?? 0;
  if (!dur || !Number.isFinite(start)) return { untimed: true, remainingS: 0, overS: 0, overrun: false };
  const leftMs = start + dur * 1000 - serverNowMs;
  if (leftMs > 0) return { untimed: false, remainingS: Math.ceil(leftMs / 1000), overS: 0, overrun: false };
  const overS = Math.floor(-leftMs / 1000);
  return { untimed: false, remainingS: 0, overS, overrun: overS > 0 };
}

/** 75 → "1:15", 3725 → "1:02:05" (minutes padded past the hour). */
export function mmss(totalS: number): string {
  const s = Math.max(0, Math.floor(totalS));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

/** The countdown as the host reads it: "4:59", "+0:42 over", or "untimed". */
export function countdownText(c: Countdown): string {
  if (c.untimed) return 'untimed';
  return c.overrun ? `+${mmss(c.overS)} over` : mmss(c.remainingS);
}

/** The big clock: HH:MM:SS of the server's time (local zone unless utc). */
export function clockText(serverNowMs: number, utc = false): string {
  const d = new Date(serverNowMs);
  const parts = utc ? [d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()] : [d.getHours(), d.getMinutes(), d.getSeconds()];
  return parts.map((n) => String(n).padStart(2, '0')).join(':');
}

/**
 * Whole percentages of `total`. With one choice per voter (total = sum of counts) the
 * largest remainders get the rounding so they add up to exactly 100; a multiple-choice
 * total counts voters, so its options may add up to more. No votes: all 0.
 */
export function percentages(counts: readonly number[], total?: number): number[] {
  const sum = counts.reduce((a, b) => a + Math.max(0, b), 0);
  const base = total ?? sum;
  if (!(base > 0)) return counts.map(() => 0);
  const exact = counts.map((n) => (Math.max(0, n) * 100) / base);
  if (base !== sum) return exact.map((x) => Math.min(100, Math.round(x)));
  const out = exact.map(Math.floor);
  let left = 100 - out.reduce((a, b) => a + b, 0);
  const order = exact.map((x, i) => [x - Math.floor(x), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (const [, i] of order) {
    if (left <= 0) break;
    out[i] += 1;
    left -= 1;
  }
  return out;
}

/** One option's bar: label, votes, percent. */
export interface ResultRow {
  position: number;
  label: string;
  votes: number;
  pct: number;
}

export function resultRows(r: PollResults | null | undefined): ResultRow[] {
  const opts = r?.options ?? [];
  const counts = opts.map((o) => o.votes ?? 0);
  const pcts = percentages(counts, r?.kind === 'multiple' ? r.total_voters : undefined);
  return opts.map((o, i) => ({ position: o.position, label: o.label, votes: counts[i], pct: pcts[i] }));
}

/** Per platform, "twitch 3 · youtube 1" sorted by voters (most first). */
export function platformBreakdown(
  r: PollResults | null | undefined,
): { platform: string; voters: number; counts: number[]; native: boolean }[] {
  return Object.entries(r?.by_platform ?? {})
    .map(([platform, v]) => ({
      platform,
      voters: v?.voters ?? 0,
      counts: v?.counts ?? [],
      native: v?.native ?? false,
    }))
    .sort((a, b) => b.voters - a.voters || a.platform.localeCompare(b.platform));
}

/** Cues in running order. */
export function runningOrder(cues: Iterable<Cue>): Cue[] {
  return [...cues].sort((a, b) => a.position - b.position);
}

/** The live cue, and the first `n` pending cues after it (GO starts the first of them). */
export function liveAndNext(cues: Iterable<Cue>, liveId: string | null, n = 1): { live: Cue | null; next: Cue[] } {
  const order = runningOrder(cues);
  const live = order.find((c) => c.id === liveId && c.state === 'live') ?? order.find((c) => c.state === 'live') ?? null;
  const next = order.filter((c) => c.state === 'pending').slice(0, n);
  return { live, next };
}

/** The question on deck (best first if several) and the next `n` approved, by score. */
export function hostQuestions(questions: Iterable<Question>, n = 2): { onDeck: Question | null; upNext: Question[] } {
  const cmp = compareQuestions('score');
  const deck: Question[] = [];
  const approved: Question[] = [];
  for (const q of questions) {
    if (q.state === 'on_deck') deck.push(q);
    else if (q.state === 'approved') approved.push(q);
  }
  deck.sort(cmp);
  approved.sort(cmp);
  return { onDeck: deck[0] ?? null, upNext: [...deck.slice(1), ...approved].slice(0, n) };
}

/** Polls to launch (drafts, oldest first) and the open one. */
export function pollGroups(polls: Iterable<Poll>): { drafts: Poll[]; open: Poll | null; closed: Poll[] } {
  const all = [...polls].sort((a, b) => (a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : 0));
  return {
    drafts: all.filter((p) => p.state === 'draft'),
    open: all.find((p) => p.state === 'open') ?? null,
    closed: all.filter((p) => p.state === 'closed'),
  };
}

/** The ad-hoc poll form: trimmed options, or what is wrong (2–6 distinct ones). */
export function pollFormProblem(title: string, options: readonly string[]): string | null {
  if (!title.trim()) return 'Give the poll a title.';
  const opts = options.map((o) => o.trim()).filter(Boolean);
  if (opts.length < 2) return 'Give at least two options.';
  if (opts.length > 6) return 'At most six options here.';
  if (new Set(opts.map((o) => o.toLowerCase())).size !== opts.length) return 'Options must differ.';
  return null;
}
