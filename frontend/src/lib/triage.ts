// Pure helpers for the moderators' triage queue: states, legal moves, the list's
// filter/sort, claims, and the "changed by someone else" message after a 409.

import type { Question, QuestionState } from './types';

export const STATES: readonly QuestionState[] = ['pending', 'approved', 'on_deck', 'answered', 'rejected', 'archived'];

export const STATE_LABEL: Record<QuestionState, string> = {
  pending: 'pending',
  approved: 'approved',
  on_deck: 'on deck',
  answered: 'answered',
  rejected: 'rejected',
  archived: 'archived',
};

/** Legal moves (docs/PROTOCOL.md); the server has the last word (422 illegal_transition). */
export const LEGAL_MOVES: Record<QuestionState, readonly QuestionState[]> = {
  pending: ['approved', 'rejected', 'on_deck', 'archived'],
  approved: ['on_deck', 'rejected', 'pending', 'archived'],
  on_deck: ['answered', 'approved', 'archived'],
  answered: ['archived', 'on_deck'],
  rejected: ['pending', 'archived'],
  archived: ['pending'],
};

export function canTransition(from: QuestionState, to: QuestionState): boolean {
  return LEGAL_MOVES[from]?.includes(to) ?? false;
}

/** Why a move is refused locally, or null when it is legal. */
export function transitionProblem(from: QuestionState, to: QuestionState): string | null {
  if (canTransition(from, to)) return null;
  if (from === to) return `Already ${STATE_LABEL[to]}.`;
  const allowed = (LEGAL_MOVES[from] ?? []).map((s) => STATE_LABEL[s]).join(', ');
  return `Can't move from ${STATE_LABEL[from]} to ${STATE_LABEL[to]} (allowed: ${allowed || 'none'}).`;
}

export type StateFilter = QuestionState | 'all';
export type SortKey = 'score' | 'age' | 'oldest' | 'platform' | 'state';

export const SORT_LABEL: Record<SortKey, string> = {
  score: 'score',
  age: 'age (newest)',
  oldest: 'age (oldest)',
  platform: 'platform',
  state: 'state',
};

export interface QueueFilter {
  state: StateFilter;
  platform: string; // '' = all
  text: string;
  sort: SortKey;
}

export type Counts = Record<QuestionState, number> & { all: number };

export function countByState(questions: Iterable<Question>): Counts {
  const c: Counts = { pending: 0, approved: 0, on_deck: 0, answered: 0, rejected: 0, archived: 0, all: 0 };
  for (const q of questions) {
    if (q.state in c) c[q.state] += 1;
    c.all += 1;
  }
  return c;
}

const STATE_RANK: Record<QuestionState, number> = {
  pending: 0,
  approved: 1,
  on_deck: 2,
  answered: 3,
  rejected: 4,
  archived: 5,
};

const byNewest = (a: Question, b: Question) =>
  a.received_at < b.received_at ? 1 : a.received_at > b.received_at ? -1 : 0;
const byScore = (a: Question, b: Question) => (b.score ?? 0) - (a.score ?? 0);
const byId = (a: Question, b: Question) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

export function compareQuestions(sort: SortKey): (a: Question, b: Question) => number {
  return (a, b) => {
    if (a.pinned !== b.pinned) return a.pinned ? -1 : 1; // pinned first, whatever the sort
    let d = 0;
    switch (sort) {
      case 'score':
        d = byScore(a, b) || byNewest(a, b);
        break;
      case 'age':
        d = byNewest(a, b);
        break;
      case 'oldest':
        d = -byNewest(a, b);
        break;
      case 'platform':
        d = a.platform.localeCompare(b.platform) || byScore(a, b) || byNewest(a, b);
        break;
      case 'state':
        d = STATE_RANK[a.state] - STATE_RANK[b.state] || byScore(a, b) || byNewest(a, b);
        break;
    }
    return d || byId(a, b);
  };
}

function matchesText(q: Question, needle: string): boolean {
  if (!needle) return true;
  const hay = [q.text, q.original_text ?? '', q.anonymous ? '' : q.author_name, q.platform, ...(q.tags ?? [])];
  return hay.some((s) => s.toLowerCase().includes(needle));
}

/** The queue as shown: filtered by state, platform and text, then sorted (pinned first). */
export function queueList(questions: Iterable<Question>, f: QueueFilter): Question[] {
  const needle = f.text.trim().toLowerCase();
  const out: Question[] = [];
  for (const q of questions) {
    if (q.merged_into) continue; // folded into another question: its asker shows there
    if (f.state !== 'all' && q.state !== f.state) continue;
    if (f.platform && q.platform !== f.platform) continue;
    if (!matchesText(q, needle)) continue;
    out.push(q);
  }
  out.sort(compareQuestions(f.sort));
  return out;
}

// ---- claims ------------------------------------------------------------------

/** Is the claim still held at `now` (ms, server clock)? */
export function claimActive(q: Question, now: number): boolean {
  if (!q.claimed_by) return false;
  if (!q.claimed_until) return true;
  const t = Date.parse(q.claimed_until);
  return !Number.isFinite(t) || t > now;
}

/** Name of someone *else* holding the claim now, or null. */
export function claimedByOther(q: Question, me: string | null, now: number): string | null {
  if (!claimActive(q, now) || q.claimed_by === me) return null;
  return q.claimed_by_name || 'someone else';
}

export function claimedByMe(q: Question, me: string | null, now: number): boolean {
  return me !== null && claimActive(q, now) && q.claimed_by === me;
}

export function isEdited(q: Question): boolean {
  return q.original_text !== null && q.original_text !== undefined && q.original_text !== q.text;
}

// ---- tags ------------------------------------------------------------------------

/** "foo" adds a tag, "-foo" removes it; null when the input changes nothing. */
export function applyTagInput(tags: readonly string[], input: string): string[] | null {
  const raw = input.trim().replace(/\s+/g, ' ');
  if (!raw) return null;
  if (raw.startsWith('-')) {
    const t = raw.slice(1).trim();
    if (!t || !tags.includes(t)) return null;
    return tags.filter((x) => x !== t);
  }
  if (tags.includes(raw)) return null;
  return [...tags, raw];
}

// ---- 409: what changed -------------------------------------------------------------

const quote = (s: string, max = 40) => `“${s.length > max ? `${s.slice(0, max - 1)}…` : s}”`;

/**
 * The differences between the question we acted on and the server's current one, for
 * the fields a moderator cares about: state, text, pinned, tags, claimed_by.
 */
export function describeChanges(before: Question | undefined | null, after: Question): string[] {
  if (!before) return [];
  const out: string[] = [];
  if (before.state !== after.state) out.push(`state ${STATE_LABEL[before.state]} → ${STATE_LABEL[after.state]}`);
  if (before.text !== after.text) out.push(`text → ${quote(after.text)}`);
  if (!!before.pinned !== !!after.pinned) out.push(after.pinned ? 'pinned' : 'unpinned');
  const bt = before.tags ?? [];
  const at = after.tags ?? [];
  const added = at.filter((t) => !bt.includes(t));
  const removed = bt.filter((t) => !at.includes(t));
  if (added.length || removed.length)
    out.push(`tags ${[...added.map((t) => `+${t}`), ...removed.map((t) => `−${t}`)].join(' ')}`);
  if ((before.claimed_by ?? null) !== (after.claimed_by ?? null))
    out.push(after.claimed_by ? `claimed by ${after.claimed_by_name || 'someone else'}` : 'claim released');
  return out;
}

/** The non-blocking notice after a 409: "Changed by someone else: state pending → approved, pinned". */
export function conflictMessage(before: Question | undefined | null, after: Question): string {
  const changes = describeChanges(before, after);
  return `Changed by someone else: ${changes.length ? changes.join(', ') : 'other details (refreshed)'}`;
}

/** The open question `q` re-asks, if the pipeline suggested one that is still in the queue. */
export function duplicateTarget(q: Question, byId: ReadonlyMap<string, Question>): Question | null {
  if (!q.duplicate_of || q.merged_into) return null;
  const target = byId.get(q.duplicate_of);
  if (!target || target.merged_into || target.id === q.id) return null;
  return target;
}
