// REST client (same-origin, cookie session). Errors carry the server's error body.

import { normalizeQuestion } from './live';
import type {
  ApiErrorBody,
  BulkResult,
  ChatMessage,
  Event,
  EventDetail,
  ModerationResult,
  PlatformActionRequest,
  Question,
  QuestionCounts,
  QuestionState,
  RulesDoc,
  User,
} from './types';

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: unknown;
  /** on a 409 (version_conflict, or a claim someone else holds): the question as it is now */
  readonly current: Question | null;
  /**
   * the 409's `current` exactly as the server sent it (a ChatMessage for not_held, a
   * RulesDoc for the moderation rules); undefined when there was none
   */
  readonly currentRaw: unknown;

  constructor(status: number, code: string, message: string, details?: unknown, current?: unknown) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.details = details;
    this.currentRaw = current ?? undefined;
    const c = current as Partial<Question> | null | undefined;
    this.current =
      c && typeof c === 'object' && typeof c.id === 'string' && typeof c.state === 'string'
        ? normalizeQuestion(c as Question)
        : null;
  }
}

let onUnauthorized: (() => void) | null = null;

/** Called on any 401 outside of login/me (the session expired). */
export function setUnauthorizedHandler(fn: (() => void) | null): void {
  onUnauthorized = fn;
}

/** The words to show for a failed call. */
export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** A 401: the app is already on its way to the login page, so a panel says nothing more. */
export function isUnauthorized(e: unknown): boolean {
  return e instanceof ApiError && e.status === 401;
}

export async function request<T>(
  method: string,
  path: string,
  body?: unknown,
  opts: { notify401?: boolean; headers?: Record<string, string> } = {},
): Promise<T> {
  let res: Response;
  const headers: Record<string, string> = { Accept: 'application/json', ...opts.headers };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  try {
    res = await fetch(path, {
      method,
      credentials: 'include',
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, 'network_error', 'Cannot reach the server. Check your connection and try again.');
  }
  if (res.status === 204) return undefined as T;
  let data: unknown = null;
  const text = await res.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const err = (data as ApiErrorBody | null)?.error;
    const e = new ApiError(
      res.status,
      err?.code ?? `http_${res.status}`,
      err?.message ?? `Request failed (${res.status} ${res.statusText}).`,
      err?.details,
      err?.current,
    );
    if (res.status === 401 && opts.notify401 !== false) onUnauthorized?.();
    throw e;
  }
  return data as T;
}

/**
 * A fresh idempotency key. crypto.randomUUID() exists only in secure contexts
 * (https, localhost); a console opened over plain http on a LAN address falls back to
 * a v4 UUID from crypto.getRandomValues().
 */
export function newIdempotencyKey(): string {
  const c = globalThis.crypto;
  if (typeof c?.randomUUID === 'function') return c.randomUUID();
  const b = new Uint8Array(16);
  c.getRandomValues(b);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Retries after a network error (the server may or may not have acted): same key. */
export const WRITE_RETRY_DELAYS_MS = [300, 1000];

/**
 * A triage write: one fresh Idempotency-Key per call, reused for its retries, so a
 * request that reached the server before the connection dropped acts once.
 */
export async function write<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers = { 'Idempotency-Key': newIdempotencyKey() };
  for (let attempt = 0; ; attempt++) {
    try {
      return await request<T>(method, path, body, { headers });
    } catch (e) {
      const delay = WRITE_RETRY_DELAYS_MS[attempt];
      if (!(e instanceof ApiError && e.status === 0) || delay === undefined) throw e;
      await sleep(delay);
    }
  }
}

const q = normalizeQuestion;
const ev = (id: string) => `/api/events/${encodeURIComponent(id)}`;
const qpath = (eventId: string, qid: string) => `${ev(eventId)}/questions/${encodeURIComponent(qid)}`;

/** The version we last saw travels with every write on one question. */
export type Versioned = Pick<Question, 'id' | 'version'>;

export interface QuestionQuery {
  state?: QuestionState | 'all';
  platform?: string;
  tag?: string;
  q?: string;
  sort?: 'score' | 'age' | 'platform' | 'state';
}

export type QuestionPatch = Partial<Pick<Question, 'text' | 'tags' | 'anonymous' | 'host_note' | 'pinned'>>;

/** Question triage (docs/PROTOCOL.md "Question triage"). Answers are normalized. */
export const triage = {
  list: async (eventId: string, query: QuestionQuery = {}) => {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') params.set(k, String(v));
    const qs = params.toString();
    const list = await request<Question[]>('GET', `${ev(eventId)}/questions${qs ? `?${qs}` : ''}`);
    return (list ?? []).map(q);
  },
  counts: (eventId: string) => request<QuestionCounts>('GET', `${ev(eventId)}/questions/counts`),
  transition: async (eventId: string, it: Versioned, to: QuestionState) =>
    q(await write<Question>('POST', `${qpath(eventId, it.id)}/transition`, { to, version: it.version })),
  patch: async (eventId: string, it: Versioned, fields: QuestionPatch) =>
    q(await write<Question>('PATCH', qpath(eventId, it.id), { ...fields, version: it.version })),
  boost: async (eventId: string, it: Versioned, amount: 1 | -1) =>
    q(await write<Question>('POST', `${qpath(eventId, it.id)}/boost`, { version: it.version, amount })),
  claim: async (eventId: string, it: Versioned) =>
    q(await write<Question>('POST', `${qpath(eventId, it.id)}/claim`, { version: it.version })),
  /** The protocol's DELETE takes no body, so no version. */
  unclaim: async (eventId: string, qid: string) =>
    q(await write<Question>('DELETE', `${qpath(eventId, qid)}/claim`)),
  bulk: async (eventId: string, ids: string[], to: QuestionState) => {
    const r = await write<BulkResult>('POST', `${ev(eventId)}/questions/bulk`, { ids, to });
    return { done: (r?.done ?? []).map(q), failed: r?.failed ?? [] } satisfies BulkResult;
  },
  /** Fold `it` into `into` (each voter counted once); both come back. */
  merge: async (eventId: string, it: Versioned, into: string) => {
    const r = await write<{ merged: Question; into: Question }>('POST', `${qpath(eventId, it.id)}/merge`, {
      into,
      version: it.version,
    });
    return { merged: q(r.merged), into: q(r.into) };
  },
  /** Undo your last action: the restored question. 404 nothing_to_undo. */
  undo: async (eventId: string) => q(await write<Question>('POST', `${ev(eventId)}/undo`)),
};

const cpath = (eventId: string, mid: string) => `${ev(eventId)}/chat/${encodeURIComponent(mid)}`;

/** Chat moderation (docs/PROTOCOL.md "Chat moderation"). Every write carries an Idempotency-Key. */
export const chatMod = {
  /** hidden in the consoles only; the platform keeps the message */
  hide: (eventId: string, m: ChatMessage) =>
    write<ChatMessage>('POST', `${cpath(eventId, m.id)}/hide`, { version: m.version }),
  unhide: (eventId: string, m: ChatMessage) =>
    write<ChatMessage>('POST', `${cpath(eventId, m.id)}/unhide`, { version: m.version }),
  /** messages held for review, oldest first */
  held: async (eventId: string) => (await request<ChatMessage[]>('GET', `${ev(eventId)}/chat/held`)) ?? [],
  /** shows a held message; 409 not_held (with `current`) when it is not held any more */
  release: (eventId: string, m: ChatMessage) =>
    write<ChatMessage>('POST', `${cpath(eventId, m.id)}/release`, { version: m.version }),
  /** keeps a held message hidden; 409 not_held */
  reject: (eventId: string, m: ChatMessage) =>
    write<ChatMessage>('POST', `${cpath(eventId, m.id)}/reject`, { version: m.version }),
  /** delete / timeout / ban on the platform: `pending` (the answer follows as moderation.result) or `not_supported` */
  action: (eventId: string, mid: string, body: PlatformActionRequest) =>
    write<ModerationResult>('POST', `${cpath(eventId, mid)}/actions`, body),
};

/** Per-event moderation rules: 409 version_conflict with `current` (a RulesDoc), 422 with `details` lines. */
export const moderationRules = {
  get: (eventId: string) => request<RulesDoc>('GET', `${ev(eventId)}/moderation/rules`),
  put: (eventId: string, doc: RulesDoc) => write<RulesDoc>('PUT', `${ev(eventId)}/moderation/rules`, doc),
};

export const api = {
  login: (username: string, password: string) =>
    request<User>('POST', '/api/auth/login', { username, password }, { notify401: false }),
  logout: () => request<void>('POST', '/api/auth/logout'),
  me: () => request<User>('GET', '/api/auth/me', undefined, { notify401: false }),
  events: () => request<Event[]>('GET', '/api/events'),
  event: (id: string) => request<EventDetail>('GET', `/api/events/${encodeURIComponent(id)}`),
};
