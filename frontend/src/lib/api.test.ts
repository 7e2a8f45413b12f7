import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError, newIdempotencyKey, triage } from './api';
import { question } from './test-utils';

type Call = { url: string; method: string; headers: Record<string, string>; body: unknown };
let calls: Call[] = [];
let answers: (() => Response)[] = [];

function json(status: number, body: unknown): () => Response {
  return () => new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
}

beforeEach(() => {
  calls = [];
  answers = [];
  vi.stubGlobal('fetch', async (url: string, init: RequestInit) => {
    calls.push({
      url,
      method: init.method ?? 'GET',
      headers: init.headers as Record<string, string>,
      body: init.body ? JSON.parse(init.body as string) : undefined,
    });
    const next = answers.shift();
    if (!next) throw new TypeError('Failed to fetch');
    return next();
  });
});

afterEach(() => {
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('triage writes', () => {
  it('send a fresh Idempotency-Key and the version we saw', async () => {
    const q = question({ version: 4 });
    answers.push(json(200, { ...q, version: 5 }), json(200, { ...q, version: 6 }), json(200, { ...q, version: 7 }));
    const r = await triage.transition('ev1', q, 'approved');
    await triage.boost('ev1', q, -1);
    await triage.patch('ev1', q, { pinned: true });
    expect(r.version).toBe(5);
    expect(calls.map((c) => [c.method, c.url])).toEqual([
      ['POST', `/api/events/ev1/questions/${q.id}/transition`],
      ['POST', `/api/events/ev1/questions/${q.id}/boost`],
      ['PATCH', `/api/events/ev1/questions/${q.id}`],
    ]);
    expect(calls.map((c) => c.body)).toEqual([
      { to: 'approved', version: 4 },
      { version: 4, amount: -1 },
      { pinned: true, version: 4 },
    ]);
    const keys = calls.map((c) => c.headers['Idempotency-Key']);
    for (const k of keys) expect(k).toMatch(UUID);
    expect(new Set(keys).size).toBe(3);
  });

  it('claims, releases, bulk and undo carry a key too', async () => {
    const q = question({ version: 2 });
    answers.push(json(200, q), json(200, q), json(200, { done: [q], failed: [{ id: 'x', error: 'nope' }] }), json(200, q));
    await triage.claim('ev1', q);
    await triage.unclaim('ev1', q.id);
    const bulk = await triage.bulk('ev1', [q.id, 'x'], 'archived');
    await triage.undo('ev1');
    expect(calls.map((c) => `${c.method} ${c.url}`)).toEqual([
      `POST /api/events/ev1/questions/${q.id}/claim`,
      `DELETE /api/events/ev1/questions/${q.id}/claim`,
      'POST /api/events/ev1/questions/bulk',
      'POST /api/events/ev1/undo',
    ]);
    expect(calls[0].body).toEqual({ version: 2 });
    expect(calls[2].body).toEqual({ ids: [q.id, 'x'], to: 'archived' });
    expect(bulk.failed).toHaveLength(1);
    for (const c of calls) expect(c.headers['Idempotency-Key']).toMatch(UUID);
  });

  it('a 409 version_conflict carries the current question', async () => {
    const q = question({ version: 1 });
    const current = { ...q, version: 3, state: 'approved' };
    answers.push(json(409, { error: { code: 'version_conflict', message: 'stale version', current } }));
    const err = await triage.transition('ev1', q, 'rejected').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(409);
    expect((err as ApiError).code).toBe('version_conflict');
    expect((err as ApiError).current).toMatchObject({ id: q.id, version: 3, state: 'approved' });
  });

  it('other errors carry the server message and no current', async () => {
    answers.push(json(422, { error: { code: 'illegal_transition', message: 'answered → approved is not allowed' } }));
    const err = (await triage.transition('ev1', question(), 'approved').catch((e: unknown) => e)) as ApiError;
    expect(err.message).toBe('answered → approved is not allowed');
    expect(err.current).toBeNull();
  });

  it('retries a network failure with the same key', async () => {
    vi.useFakeTimers();
    const q = question();
    answers.push(() => {
      throw new TypeError('Failed to fetch');
    }, json(200, q));
    const p = triage.boost('ev1', q, 1);
    await vi.runAllTimersAsync();
    await p;
    expect(calls).toHaveLength(2);
    expect(calls[0].headers['Idempotency-Key']).toBe(calls[1].headers['Idempotency-Key']);
  });
});

describe('newIdempotencyKey', () => {
  it('makes v4 UUIDs without crypto.randomUUID (plain-http consoles)', () => {
    const real = globalThis.crypto;
    vi.stubGlobal('crypto', { getRandomValues: (a: Uint8Array) => real.getRandomValues(a) });
    const a = newIdempotencyKey();
    const b = newIdempotencyKey();
    expect(a).toMatch(UUID);
    expect(a).not.toBe(b);
  });
});
