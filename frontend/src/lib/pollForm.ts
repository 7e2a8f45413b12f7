// Poll drafts in the console (docs/PROTOCOL.md "Polls", app/polls/service.py): the form,
// the API's rules checked before sending, and the body for create and edit.

import { pollFormProblem } from './host';
import type { Poll, PollKind } from './types';

export const POLL_KINDS: readonly { kind: PollKind; label: string }[] = [
  { kind: 'single', label: 'Single choice' },
  { kind: 'multiple', label: 'Multiple choice' },
  { kind: 'rating', label: 'Rating 1–5' },
];

/** The API's limits (PollIn and _clean_options). */
export const POLL_LIMITS = {
  minOptions: 2,
  maxOptions: 10,
  title: 300,
  option: 200,
  minDurationS: 5,
  maxDurationS: 24 * 3600,
} as const;

export interface PollForm {
  title: string;
  kind: PollKind;
  /** kept while the kind is rating (sent as []), so switching back restores them */
  options: string[];
  /** seconds, '' for no timer */
  duration: string;
}

export type PollFormErrors = Partial<Record<'title' | 'options' | 'duration', string>>;

export function emptyPollForm(kind: PollKind = 'single'): PollForm {
  return { title: '', kind, options: ['', ''], duration: '' };
}

export function pollFormFrom(p: Poll): PollForm {
  const options = p.kind === 'rating' || p.options.length === 0 ? ['', ''] : [...p.options];
  return { title: p.title, kind: p.kind, options, duration: p.duration_s == null ? '' : String(p.duration_s) };
}

/** '' → null (no timer); a whole number of seconds in range, or undefined. */
export function parseDuration(text: string): number | null | undefined {
  const t = text.trim();
  if (!t) return null;
  if (!/^\d+$/.test(t)) return undefined;
  const s = Number(t);
  return s >= POLL_LIMITS.minDurationS && s <= POLL_LIMITS.maxDurationS ? s : undefined;
}

/** What the API would refuse, per field (empty: send it). */
export function pollFormErrors(f: PollForm): PollFormErrors {
  const out: PollFormErrors = {};
  const title = f.title.trim();
  if (!title) out.title = 'Give the poll a question.';
  else if (title.length > POLL_LIMITS.title) out.title = `At most ${POLL_LIMITS.title} characters.`;
  if (f.kind !== 'rating') {
    const labels = f.options.map((o) => o.trim());
    const empty = labels.findIndex((o) => !o);
    if (labels.length < POLL_LIMITS.minOptions || labels.length > POLL_LIMITS.maxOptions)
      out.options = `A ${f.kind} choice poll needs ${POLL_LIMITS.minOptions} to ${POLL_LIMITS.maxOptions} options.`;
    else if (empty >= 0) out.options = `Option ${empty + 1} is empty: fill it in or remove it.`;
    else if (labels.some((o) => o.length > POLL_LIMITS.option)) out.options = `Options are at most ${POLL_LIMITS.option} characters.`;
    else if (new Set(labels.map((o) => o.toLocaleLowerCase())).size !== labels.length)
      out.options = 'Two options are the same: voters could not tell them apart.';
  }
  if (parseDuration(f.duration) === undefined)
    out.duration = `A whole number of seconds, ${POLL_LIMITS.minDurationS} to ${POLL_LIMITS.maxDurationS}, or empty for no timer.`;
  return out;
}

/** The fields create and edit send (a rating has no options). */
export function pollFormBody(f: PollForm): { title: string; kind: PollKind; options: string[]; duration_s: number | null } {
  return {
    title: f.title.trim(),
    kind: f.kind,
    options: f.kind === 'rating' ? [] : f.options.map((o) => o.trim()),
    duration_s: parseDuration(f.duration) ?? null,
  };
}

/** The form's state as its fields would be saved: equal fingerprints, nothing to save. */
export function pollFingerprint(f: PollForm): string {
  return JSON.stringify(pollFormBody(f));
}

/** A 409's `current`, if it is a poll. */
export function asPoll(x: unknown): Poll | null {
  const p = x as Partial<Poll> | null | undefined;
  return p && typeof p === 'object' && typeof p.id === 'string' && typeof p.version === 'number' && typeof p.kind === 'string'
    ? (p as Poll)
    : null;
}

/** One line per 422 detail ("duration_s: Input should be greater than or equal to 5"). */
export function detailLines(details: unknown): string[] {
  if (!Array.isArray(details)) return [];
  return details
    .filter((d) => d && typeof d === 'object' && typeof (d as { problem?: unknown }).problem === 'string')
    .map((d) => {
      const { field, problem } = d as { field?: string; problem: string };
      return field ? `${field}: ${problem}` : problem;
    });
}

/** A poll in one line, to compare yours with theirs after a 409. */
export function pollSummary(p: { title: string; kind: PollKind; options: string[]; duration_s: number | null }): string {
  const opts = p.kind === 'rating' ? 'rating 1–5' : p.options.join(' / ');
  return `“${p.title}” · ${POLL_KINDS.find((k) => k.kind === p.kind)?.label ?? p.kind} · ${opts} · ${
    p.duration_s ? `${p.duration_s} s` : 'no timer'
  }`;
}

/** The host view's quick poll: 2–6 distinct options for single or multiple, none for a rating. */
export function adHocPollProblem(kind: PollKind, title: string, options: readonly string[]): string | null {
  if (kind === 'rating') return title.trim() ? null : 'Give the poll a title.';
  return pollFormProblem(title, options);
}
