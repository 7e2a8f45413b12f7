import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError, chatMod, moderationRules, newIdempotencyKey, triage } from './api';
import { type FetchCall, chatMsg, fakeFetch, json, modResult, question } from './test-utils';

let calls: FetchCall[] = [];
let answers: (() => Response)[] = [];

beforeEach(() => {
  ({ calls, answers } = fakeFetch({ parseJson: true }));
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

describe('chat moderation writes', () => {
  it('hide/unhide/release/reject/actions POST to their paths, each with its own Idempotency-Key', async () => {
    const m = chatMsg();
    answers.push(
      json(200, { ...m, hidden: true }),
      json(200, m),
      json(200, { ...m, held: false }),
      json(200, { ...m, held: false, hidden: true }),
      json(200, modResult({ chat_message_id: m.id, action: 'timeout' })),
      json(200, [m]),
    );
    expect((await chatMod.hide('ev1', m)).hidden).toBe(true);
    await chatMod.unhide('ev1', { ...m, version: 2 });
    await chatMod.release('ev1', { ...m, version: 3 });
    await chatMod.reject('ev1', { ...m, version: 4 });
    const r = await chatMod.action('ev1', m.id, { type: 'timeout', duration_s: 300 });
    expect(r.status).toBe('pending');
    expect(await chatMod.held('ev1')).toHaveLength(1);
    expect(calls.map((c) => `${c.method} ${c.url}`)).toEqual([
      `POST /api/events/ev1/chat/${m.id}/hide`,
      `POST /api/events/ev1/chat/${m.id}/unhide`,
      `POST /api/events/ev1/chat/${m.id}/release`,
      `POST /api/events/ev1/chat/${m.id}/reject`,
      `POST /api/events/ev1/chat/${m.id}/actions`,
      'GET /api/events/ev1/chat/held',
    ]);
    // each review sends the version it acted on, so a stale one gets 409
    expect(calls.slice(0, 4).map((c) => c.body)).toEqual([1, 2, 3, 4].map((version) => ({ version })));
    expect(calls[4].body).toEqual({ type: 'timeout', duration_s: 300 });
    const keys = calls.slice(0, 5).map((c) => c.headers['Idempotency-Key']);
    for (const k of keys) expect(k).toMatch(UUID);
    expect(new Set(keys).size).toBe(5);
    expect(calls[5].headers['Idempotency-Key']).toBeUndefined();
  });

  it('a 409 not_held carries the current message as currentRaw (not as a question)', async () => {
    const m = chatMsg({ held: false, hidden: true });
    answers.push(json(409, { error: { code: 'not_held', message: 'this message is not held for review', current: m } }));
    const err = (await chatMod.release('ev1', m).catch((e: unknown) => e)) as ApiError;
    expect(err.code).toBe('not_held');
    expect(err.currentRaw).toEqual(m);
    expect(err.current).toBeNull();
  });
});

describe('moderation rules', () => {
  const rules = { banned_terms: [], flood: null, spam: null, exempt_roles: [], trusted_authors: [] };

  it('PUTs the version with an Idempotency-Key; a 409 brings the current rules', async () => {
    answers.push(json(200, { version: 2, rules }));
    answers.push(json(409, { error: { code: 'version_conflict', message: 'the rules changed', current: { version: 5, rules } } }));
    answers.push(json(422, { error: { code: 'invalid_rules', message: 'fix these rules: x', details: ['flood.per_seconds: bad'] } }));
    expect(await moderationRules.put('ev1', { version: 1, rules })).toEqual({ version: 2, rules });
    expect(calls[0]).toMatchObject({ method: 'PUT', url: '/api/events/ev1/moderation/rules', body: { version: 1, rules } });
    expect(calls[0].headers['Idempotency-Key']).toMatch(UUID);
    const conflict = (await moderationRules.put('ev1', { version: 1, rules }).catch((e: unknown) => e)) as ApiError;
    expect(conflict.status).toBe(409);
    expect(conflict.currentRaw).toEqual({ version: 5, rules });
    const invalid = (await moderationRules.put('ev1', { version: 5, rules }).catch((e: unknown) => e)) as ApiError;
    expect(invalid.status).toBe(422);
    expect(invalid.details).toEqual(['flood.per_seconds: bad']);
  });
});
