// Overlays for OBS: the state they poll, and the arithmetic behind the result bars.

export interface OverlayOption {
  position: number;
  label: string;
  votes: number;
  percent: number;
}

export interface OverlayPoll {
  id: string;
  title: string;
  kind: 'single' | 'multiple' | 'rating';
  state: 'draft' | 'open' | 'closed';
  closes_at: string | null;
  total_voters: number;
  average: number | null;
  options: OverlayOption[];
}

export interface OverlayQuestion {
  id: string;
  text: string;
  author: string | null;
  platform: string;
}

export interface OverlaySegment {
  id: string;
  title: string;
  owner_role: string;
  remaining_s: number | null;
  overrun: boolean;
}

export interface OverlayState {
  server_time: string;
  event: { id: string; title: string };
  poll: OverlayPoll | null;
  question: OverlayQuestion | null;
  segment: OverlaySegment | null;
}

export type OverlayKind = 'poll' | 'question' | 'segment';
export const OVERLAY_KINDS: readonly OverlayKind[] = ['poll', 'question', 'segment'];
export const POLL_INTERVAL_MS = 1000;

export function isOverlayKind(kind: string): kind is OverlayKind {
  return (OVERLAY_KINDS as readonly string[]).includes(kind);
}

/**
 * Whole-number shares of `counts` that add up to exactly 100 (largest remainder), so
 * the bars never read 33 + 33 + 33. All zero when nobody voted.
 */
export function wholePercents(counts: readonly number[]): number[] {
  const total = counts.reduce((a, b) => a + Math.max(0, b), 0);
  if (total <= 0) return counts.map(() => 0);
  const exact = counts.map((c) => (Math.max(0, c) * 100) / total);
  const floors = exact.map(Math.floor);
  let left = 100 - floors.reduce((a, b) => a + b, 0);
  const byRemainder = exact
    .map((x, i) => ({ i, rest: x - floors[i] }))
    .sort((a, b) => b.rest - a.rest || a.i - b.i);
  for (const { i } of byRemainder) {
    if (left <= 0) break;
    floors[i] += 1;
    left -= 1;
  }
  return floors;
}

export interface PollBar {
  position: number;
  label: string;
  votes: number;
  percent: number; // whole number, the bars' widths add up to 100
  leading: boolean;
}

/**
 * The bars to draw: in the poll's own order (a rating: 1…5) or, with byVotes, most
 * votes first (ties keep the poll's order) so the leader is on top.
 */
export function pollBars(poll: OverlayPoll, byVotes = false): PollBar[] {
  const percents = wholePercents(poll.options.map((o) => o.votes));
  const top = Math.max(0, ...poll.options.map((o) => o.votes));
  const bars = poll.options.map((o, i) => ({
    position: o.position,
    label: o.label,
    votes: o.votes,
    percent: percents[i],
    leading: top > 0 && o.votes === top,
  }));
  if (byVotes) bars.sort((a, b) => b.votes - a.votes || a.position - b.position);
  return bars;
}

/** "4:05", "0:09", "-1:30" when overrunning; "" for an untimed segment. */
export function countdown(remaining: number | null): string {
  if (remaining === null || !Number.isFinite(remaining)) return '';
  const whole = remaining >= 0 ? Math.ceil(remaining) : Math.floor(remaining);
  const sign = whole < 0 ? '-' : '';
  const abs = Math.abs(whole);
  const h = Math.floor(abs / 3600);
  const m = Math.floor((abs % 3600) / 60);
  const s = String(abs % 60).padStart(2, '0');
  return h > 0 ? `${sign}${h}:${String(m).padStart(2, '0')}:${s}` : `${sign}${m}:${s}`;
}

export type OverlayFetch = (url: string, init?: RequestInit) => Promise<Response>;

export class OverlayAuthError extends Error {}

/** One poll of the state; OverlayAuthError on 401 (a revoked or wrong token). */
export async function fetchOverlayState(
  token: string,
  fetcher: OverlayFetch = fetch,
): Promise<OverlayState> {
  const resp = await fetcher(`/api/overlay/state?token=${encodeURIComponent(token)}`, {
    cache: 'no-store',
  });
  if (resp.status === 401) throw new OverlayAuthError('overlay token refused');
  if (!resp.ok) throw new Error(`overlay state: HTTP ${resp.status}`);
  return (await resp.json()) as OverlayState;
}
