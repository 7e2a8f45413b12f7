// The audience page's client: its API calls and the rules the page shows before sending.
// Everything the audience writes is shown with text interpolation only, never as HTML.

export const POLL_INTERVAL_MS = 2000;

export type PollKind = 'single' | 'multiple' | 'rating';

export interface AudiencePoll {
  id: string;
  title: string;
  kind: PollKind;
  state: 'open' | 'closed';
  options: string[];
  closes_at: string | null;
  /** absent when fetched without `mine`: the page fills it from what it keeps */
  my_choices?: number[] | null;
  results: { options: number[]; total_voters: number; average: number | null } | null;
}

export interface AudienceQuestion {
  id: string;
  text: string;
  author: string;
  votes: number;
  state: string;
  /** absent when fetched without `mine`: the page fills it from what it keeps */
  voted?: boolean;
}

export interface AudienceState {
  event: { title: string; status: string };
  poll: AudiencePoll | null;
  questions: AudienceQuestion[];
  limits: { max_text: number; max_name: number };
}

export const DEFAULT_LIMITS = { max_text: 500, max_name: 60 };

export class AudienceError extends Error {
  readonly status: number;
  readonly code: string;
  /** seconds to wait, from Retry-After on a 429 */
  readonly retryAfterS: number | null;

  constructor(status: number, code: string, message: string, retryAfterS: number | null = null) {
    super(message);
    this.name = 'AudienceError';
    this.status = status;
    this.code = code;
    this.retryAfterS = retryAfterS;
  }
}

/** Length as the server counts it (code points, after trimming), so emoji count once. */
export function textLength(text: string): number {
  return [...text.trim()].length;
}

/** Characters left, negative when over. */
export function remaining(text: string, max: number): number {
  return max - textLength(text);
}

// Control characters other than newline and tab, and bidirectional overrides.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

/** Why the question cannot be sent yet (shown under the form), or null when it can. */
export function questionProblem(
  text: string,
  name: string,
  limits: { max_text: number; max_name: number } = DEFAULT_LIMITS,
): string | null {
  const length = textLength(text);
  if (length === 0) return 'Write your question first.';
  if (length > limits.max_text)
    return `Your question is ${length} characters: shorten it to ${limits.max_text}.`;
  if (textLength(name) > limits.max_name) return `Your name is at most ${limits.max_name} characters.`;
  if (CONTROL.test(text) || CONTROL.test(name)) return 'Remove the special control characters.';
  return null;
}

/** The choices after a tap: single and rating keep one, multiple toggles. */
export function toggleChoice(kind: PollKind, current: number[], position: number): number[] {
  if (kind !== 'multiple') return [position];
  const next = current.includes(position)
    ? current.filter((p) => p !== position)
    : [...current, position];
  return next.sort((a, b) => a - b);
}

export interface ResultBar {
  label: string;
  votes: number;
  percent: number;
}

/** One bar per option, as whole percentages of the voters; empty until results are shown. */
export function resultBars(poll: AudiencePoll): ResultBar[] {
  if (!poll.results) return [];
  const total = poll.results.total_voters;
  return poll.options.map((label, i) => {
    const votes = poll.results?.options[i] ?? 0;
    return { label, votes, percent: total ? Math.round((votes / total) * 100) : 0 };
  });
}

/** A fresh id per question: a resend of the same question is filed once. */
export function newRequestId(): string {
  if (typeof crypto !== 'undefined' && typeof crypto.randomUUID === 'function') {
    return crypto.randomUUID();
  }
  const hex = Array.from({ length: 32 }, () => Math.floor(Math.random() * 16).toString(16));
  return hex.join('');
}

/** What to tell the person about a refused send. */
export function explain(error: unknown): string {
  if (error instanceof AudienceError) {
    if (error.status === 429 && error.retryAfterS !== null) {
      return `Slow down a little: you can send again in ${error.retryAfterS} s.`;
    }
    return error.message;
  }
  return 'Could not reach the server: check your connection and try again.';
}

async function call<T>(method: string, url: string, body?: unknown): Promise<T> {
  const response = await fetch(url, {
    method,
    credentials: 'same-origin',
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const error = (data as { error?: { code?: string; message?: string } } | null)?.error;
    const retry = response.headers.get('Retry-After');
    throw new AudienceError(
      response.status,
      error?.code ?? 'error',
      error?.message ?? `the server answered ${response.status}`,
      retry === null ? null : Number(retry),
    );
  }
  return data as T;
}

function base(code: string): string {
  return `/api/a/${encodeURIComponent(code)}`;
}

/**
 * The page. With `mine`, the server adds this browser's ballot and upvotes (a first load);
 * without, it answers from what every page shares, and the page fills in its own.
 */
export function fetchState(code: string, mine = true): Promise<AudienceState> {
  return call('GET', mine ? base(code) : `${base(code)}?mine=false`);
}

/** What this browser did: its ballot per poll and the questions it upvoted. */
export interface Own {
  choices: Record<string, number[] | null>;
  voted: Set<string>;
}

export function emptyOwn(): Own {
  return { choices: {}, voted: new Set() };
}

/** Takes what a `mine` load says about this browser into what the page keeps. */
export function learnOwn(own: Own, state: AudienceState): Own {
  const choices = { ...own.choices };
  if (state.poll && state.poll.my_choices !== undefined && !(state.poll.id in choices)) {
    choices[state.poll.id] = state.poll.my_choices;
  }
  const voted = new Set(own.voted);
  for (const q of state.questions) if (q.voted) voted.add(q.id);
  return { choices, voted };
}

/** The state as shown: this browser's ballot and upvotes filled in from what it keeps. */
export function withOwn(state: AudienceState, own: Own): AudienceState {
  return {
    ...state,
    poll: state.poll && { ...state.poll, my_choices: own.choices[state.poll.id] ?? null },
    questions: state.questions.map((q) => ({ ...q, voted: own.voted.has(q.id) || !!q.voted })),
  };
}

export function sendQuestion(
  code: string,
  question: { id: string; text: string; name: string; anonymous: boolean },
): Promise<{ id: string; status: string }> {
  const body = {
    id: question.id,
    text: question.text.trim(),
    anonymous: question.anonymous,
    name: question.anonymous ? null : question.name.trim() || null,
  };
  return call('POST', `${base(code)}/questions`, body);
}

export function sendVote(code: string, pollId: string, choices: number[]): Promise<unknown> {
  return call('POST', `${base(code)}/votes`, { poll_id: pollId, choices });
}

export function sendUpvote(code: string, questionId: string): Promise<{ votes: number }> {
  return call('POST', `${base(code)}/upvotes`, { question_id: questionId });
}
