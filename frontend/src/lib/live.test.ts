import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  applyModerationResult,
  applyQuestion,
  backoffDelay,
  latestModeration,
  LiveClient,
  pendingNewestFirst,
  wsUrl,
  type LiveOptions,
  type ModerationMap,
} from './live';
import { chatMsg, FakeSocket, gauges, modResult, question } from './test-utils';

const T0 = Date.parse('2030-01-01T10:00:00Z');

function hello(seq: number, over: Record<string, unknown> = {}) {
  return {
    type: 'hello',
    server_time: new Date(Date.now()).toISOString(),
    seq,
    resumed: false,
    replayed: 0,
    snapshot: { chat: [], questions: [], gauges: null },
    ...over,
  };
}

function batch(seq_from: number, seq_to: number, items: unknown[]) {
  return { type: 'batch', seq_from, seq_to, items };
}

function chatDelta(seq: number, data = chatMsg()) {
  return { seq, topic: 'chat', type: 'chat.message', at: data.received_at, data };
}

function make(over: Partial<LiveOptions> = {}) {
  const client = new LiveClient({
    url: 'ws://test/ws/events/e1',
    createSocket: (url) => new FakeSocket(url),
    random: () => 0.5,
    ...over,
  });
  client.start();
  return client;
}

/** start, open, hello(seq) */
function connected(seq = 10, over: Partial<LiveOptions> = {}) {
  const client = make(over);
  const ws = FakeSocket.last();
  ws.open();
  ws.receive(hello(seq));
  return { client, ws };
}

beforeEach(() => {
  FakeSocket.reset();
  vi.useFakeTimers();
  vi.setSystemTime(T0);
});

afterEach(() => {
  vi.useRealTimers();
});

describe('wsUrl', () => {
  it('uses wss on https and ws on http', () => {
    expect(wsUrl('abc', { protocol: 'https:', host: 'cr.example:8443' })).toBe('wss://cr.example:8443/ws/events/abc');
    expect(wsUrl('abc', { protocol: 'http:', host: '127.0.0.1:8000' })).toBe('ws://127.0.0.1:8000/ws/events/abc');
  });
});

describe('subscribe', () => {
  it('sends subscribe with since=null first, then since=lastSeqTo on reconnect', () => {
    const { client, ws } = connected(10);
    expect(ws.sentJson()).toEqual([
      { type: 'subscribe', topics: ['chat', 'questions', 'polls', 'cues', 'gauges', 'sources', 'incidents'], since: null },
    ]);
    ws.receive(batch(11, 15, [chatDelta(12)]));
    expect(client.lastSeqTo).toBe(15);

    ws.serverClose(1006);
    expect(client.status).toBe('reconnecting');
    vi.advanceTimersByTime(10_000);
    const ws2 = FakeSocket.last();
    expect(ws2).not.toBe(ws);
    expect(ws2.url).toBe('ws://test/ws/events/e1');
    ws2.open();
    expect(ws2.sentJson()[0]).toMatchObject({ type: 'subscribe', since: 15 });
  });

  it('resumes from hello.seq when no batch arrived after the snapshot', () => {
    const { ws } = connected(42);
    ws.serverClose(1001);
    vi.advanceTimersByTime(10_000);
    const ws2 = FakeSocket.last();
    ws2.open();
    expect(ws2.sentJson()[0].since).toBe(42);
  });

  it('keeps since across a resume that drops before its replay arrives', () => {
    const { client, ws } = connected(10);
    ws.receive(batch(11, 20, []));
    ws.serverClose(1006);
    vi.advanceTimersByTime(10_000);
    const ws2 = FakeSocket.last();
    ws2.open();
    ws2.receive(hello(30, { resumed: true, replayed: 10, snapshot: null }));
    expect(client.lastSeqTo).toBe(20); // replay not received yet
    ws2.serverClose(1006);
    vi.advanceTimersByTime(10_000);
    const ws3 = FakeSocket.last();
    ws3.open();
    expect(ws3.sentJson()[0].since).toBe(20);
  });
});

describe('batches', () => {
  it('advances lastSeqTo to seq_to even when items were filtered out', () => {
    const { client, ws } = connected(10);
    ws.receive(batch(11, 13, [chatDelta(11), chatDelta(13)]));
    expect(client.lastSeqTo).toBe(13);
    ws.receive(batch(14, 19, []));
    expect(client.lastSeqTo).toBe(19);
    expect(client.chat).toHaveLength(2);
  });

  it('ignores duplicate chat ids (snapshot + delta, and duplicate deltas)', () => {
    const a = chatMsg();
    const b = chatMsg();
    const client = make();
    const ws = FakeSocket.last();
    ws.open();
    ws.receive(hello(10, { snapshot: { chat: [a], questions: [], gauges: null } }));
    ws.receive(batch(10, 12, [chatDelta(10, a), chatDelta(11, b), chatDelta(12, { ...b })]));
    expect(client.chat.map((m) => m.id)).toEqual([a.id, b.id]);
    expect(client.chatAppended).toBe(1);
  });

  it('ignores duplicate question ids and keeps the higher version', () => {
    const { client, ws } = connected(1);
    const q = question({ version: 2, votes: 5 });
    const qd = (seq: number, data: typeof q) => ({ seq, topic: 'questions', type: 'question.created', at: data.received_at, data });
    ws.receive(batch(2, 4, [qd(2, q), qd(3, { ...q }), qd(4, { ...q, version: 1, votes: 0 })]));
    expect(client.questions.size).toBe(1);
    expect(client.questions.get(q.id)?.votes).toBe(5);
  });

  it('caps chat at maxChat, dropping the oldest', () => {
    const { client, ws } = connected(0, { maxChat: 3 });
    const msgs = [chatMsg(), chatMsg(), chatMsg(), chatMsg(), chatMsg()];
    ws.receive(batch(1, 5, msgs.map((m, i) => chatDelta(i + 1, m))));
    expect(client.chat.map((m) => m.id)).toEqual(msgs.slice(2).map((m) => m.id));
    expect(client.chatTrimmed).toBe(2);
  });

  it('keeps only newer gauges and records history', () => {
    const { client, ws } = connected(0);
    const gd = (seq: number, at: string, total: number) => ({ seq, topic: 'gauges', type: 'gauges.update', at, data: gauges(at, total) });
    ws.receive(batch(1, 3, [gd(1, '2030-01-01T10:00:01Z', 1), gd(2, '2030-01-01T10:00:03Z', 3), gd(3, '2030-01-01T10:00:02Z', 2)]));
    expect(client.gauges?.viewers.total).toBe(3);
    expect(client.gaugeHistory.map((s) => s.g.viewers.total)).toEqual([1, 3]);
  });
});

describe('resync', () => {
  it('replaces state with the snapshot of the hello that follows a resync', () => {
    const { client, ws } = connected(10);
    const old = chatMsg();
    ws.receive(batch(11, 11, [chatDelta(11, old)]));
    ws.receive(
      batch(12, 12, [{ seq: 12, topic: 'questions', type: 'question.created', at: 'x', data: question() }]),
    );
    const fresh = chatMsg();
    const q = question();
    ws.receive({ type: 'resync', reason: 'too far behind' });
    expect(client.resyncs).toBe(1);
    ws.receive(
      hello(500, {
        snapshot: { chat: [fresh], questions: [q], gauges: gauges('2030-01-01T10:00:00Z', 77) },
      }),
    );
    expect(client.chat.map((m) => m.id)).toEqual([fresh.id]);
    expect([...client.questions.keys()]).toEqual([q.id]);
    expect(client.gauges?.viewers.total).toBe(77);
    expect(client.lastSeqTo).toBe(500);
    expect(client.status).toBe('live');
    // the old message is no longer known: it may be delivered again
    ws.receive(batch(501, 501, [chatDelta(501, old)]));
    expect(client.chat.map((m) => m.id)).toEqual([fresh.id, old.id]);
  });
});

describe('binary frames', () => {
  it('decodes UTF-8 JSON from binary frames, as the server sends them', () => {
    const client = make();
    const ws = FakeSocket.last();
    ws.open();
    ws.receiveBinary(hello(5));
    expect(client.status).toBe('live');
    const text = 'naïve question — 日本語? <img src=x>';
    ws.receiveBinary(batch(6, 6, [chatDelta(6, chatMsg({ id: 'b1', text }))]));
    expect(client.chat.map((m) => m.text)).toEqual([text]);
  });
});

describe('status', () => {
  it('goes connecting → live → reconnecting → resumed → live', () => {
    const seen: string[] = [];
    const client = make();
    client.onChange((c) => {
      if (seen[seen.length - 1] !== c.status) seen.push(c.status);
    });
    expect(client.status).toBe('connecting');
    const ws = FakeSocket.last();
    ws.open();
    expect(client.status).toBe('connecting');
    ws.receive(hello(5));
    expect(client.status).toBe('live');
    ws.serverClose(1006);
    expect(client.status).toBe('reconnecting');
    vi.advanceTimersByTime(10_000);
    FakeSocket.last().open();
    expect(client.status).toBe('reconnecting');
    FakeSocket.last().receive(hello(9, { resumed: true, replayed: 4, snapshot: null }));
    expect(client.status).toBe('resumed');
    expect(client.replayed).toBe(4);
    vi.advanceTimersByTime(4_000);
    expect(client.status).toBe('live');
    expect(seen).toEqual(['live', 'reconnecting', 'resumed', 'live']);
  });

  it('4401 calls onUnauthorized and stops reconnecting', () => {
    const onUnauthorized = vi.fn();
    const { client, ws } = connected(1, { onUnauthorized });
    ws.serverClose(4401);
    expect(onUnauthorized).toHaveBeenCalledTimes(1);
    expect(client.status).toBe('closed');
    vi.advanceTimersByTime(60_000);
    expect(FakeSocket.instances).toHaveLength(1);
  });

  it.each([4403, 4404])('%i reports a fatal error and stops reconnecting', (code) => {
    const onFatal = vi.fn();
    const client = make({ onFatal });
    FakeSocket.last().serverClose(code);
    expect(onFatal).toHaveBeenCalledWith(expect.objectContaining({ code }));
    expect(client.error?.code).toBe(code);
    expect(client.status).toBe('closed');
    vi.advanceTimersByTime(60_000);
    expect(FakeSocket.instances).toHaveLength(1);
  });

  it('drops a silent connection after idleTimeoutMs and reconnects', () => {
    const { client, ws } = connected(1, { idleTimeoutMs: 30_000 });
    vi.advanceTimersByTime(29_000);
    ws.receive({ type: 'ping', server_time: new Date(Date.now()).toISOString() });
    vi.advanceTimersByTime(29_000);
    expect(client.status).toBe('live');
    vi.advanceTimersByTime(2_000);
    expect(client.status).toBe('reconnecting');
    expect(ws.closedWith?.code).toBe(4000);
  });

  it('stop() closes the socket and never reconnects', () => {
    const { client, ws } = connected(1);
    client.stop();
    expect(ws.closedWith?.code).toBe(1000);
    vi.advanceTimersByTime(60_000);
    expect(FakeSocket.instances).toHaveLength(1);
    expect(client.status).toBe('closed');
  });
});

describe('clock', () => {
  it('estimates the server clock offset from hello and ping', () => {
    const { client, ws } = connected(1);
    ws.receive({ type: 'ping', server_time: new Date(T0 + 5_000).toISOString() });
    expect(client.clockOffsetMs).toBe(5_000);
    expect(client.serverNow()).toBe(T0 + 5_000);
  });
});

describe('backoff', () => {
  it('stays within [0, min(cap, base·2^attempt))', () => {
    for (let attempt = 0; attempt < 40; attempt++) {
      const ceiling = Math.min(10_000, 500 * 2 ** attempt);
      for (const r of [0, 0.25, 0.5, 0.999999, 1]) {
        const d = backoffDelay(attempt, () => r);
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThan(ceiling);
      }
    }
    expect(backoffDelay(0, () => 0.999)).toBeLessThan(500);
    expect(backoffDelay(20, () => 0.999)).toBeGreaterThan(9_000);
  });

  it('uses full jitter, grows per failed attempt and resets after a hello', () => {
    const delays: number[] = [];
    const realSetTimeout = globalThis.setTimeout;
    const spy = vi.spyOn(globalThis, 'setTimeout').mockImplementation(((fn: () => void, ms?: number) => {
      if (ms !== 4_000 && ms !== 45_000) delays.push(ms ?? 0);
      return realSetTimeout(fn, ms);
    }) as typeof setTimeout);
    const client = make({ random: () => 0.999 });
    for (let i = 0; i < 7; i++) {
      FakeSocket.last().serverClose(1006);
      vi.advanceTimersByTime(10_000);
    }
    expect(delays).toEqual([499, 999, 1998, 3996, 7992, 9990, 9990]);
    const ws = FakeSocket.last();
    ws.open();
    ws.receive(hello(1));
    ws.serverClose(1006);
    expect(delays[delays.length - 1]).toBe(499);
    spy.mockRestore();
    client.stop();
  });
});

describe('pendingNewestFirst', () => {
  it('keeps pending questions only, newest first', () => {
    const a = question({ received_at: '2030-01-01T10:00:01Z' });
    const b = question({ received_at: '2030-01-01T10:00:03Z' });
    const c = question({ received_at: '2030-01-01T10:00:02Z', state: 'answered' });
    const d = question({ received_at: '2030-01-01T10:00:02Z' });
    expect(pendingNewestFirst([a, b, c, d]).map((q) => q.id)).toEqual([b.id, d.id, a.id]);
  });
});

describe('question reducer', () => {
  const qd = (seq: number, data: unknown, type = 'question.updated') => ({
    seq,
    topic: 'questions',
    type,
    at: '2030-01-01T10:00:00Z',
    data,
  });

  it('applies question.updated only when its version is newer, in any arrival order', () => {
    const { client, ws } = connected(1);
    const v1 = question({ version: 1, text: 'v1' });
    const v2 = { ...v1, version: 2, state: 'approved' as const, text: 'v2' };
    const v3 = { ...v1, version: 3, state: 'on_deck' as const, text: 'v3' };
    ws.receive(batch(2, 2, [qd(2, v1, 'question.created')]));
    ws.receive(batch(3, 5, [qd(3, v3), qd(4, v2), qd(5, { ...v3, text: 'same version again' })]));
    expect(client.questions.get(v1.id)?.version).toBe(3);
    expect(client.questions.get(v1.id)?.text).toBe('v3');
    // a late question.created (version 1) does not roll it back either
    ws.receive(batch(6, 6, [qd(6, v1, 'question.created')]));
    expect(client.questions.get(v1.id)?.state).toBe('on_deck');
  });

  it('keeps questions that left pending (the queue filters by state)', () => {
    const { client, ws } = connected(1);
    const q = question({ version: 1 });
    ws.receive(batch(2, 3, [qd(2, q, 'question.created'), qd(3, { ...q, version: 2, state: 'archived' })]));
    expect(client.questions.get(q.id)?.state).toBe('archived');
    expect(pendingNewestFirst(client.questions.values())).toEqual([]);
  });

  it('applies an update for a question it never saw created', () => {
    const { client, ws } = connected(1);
    const q = question({ version: 7, state: 'answered' });
    ws.receive(batch(2, 2, [qd(2, q)]));
    expect(client.questions.get(q.id)?.state).toBe('answered');
  });

  it('takes snapshot questions in every state and fills missing fields', () => {
    const client = make();
    const ws = FakeSocket.last();
    ws.open();
    const full = question({ state: 'rejected', tags: ['x'] });
    const short = { id: 'f'.repeat(32), source_id: 's', platform: 'zoom', author_name: 'z', text: 't?', state: 'pending', votes: 4, version: 1, received_at: '2030-01-01T10:00:00Z' };
    ws.receive(hello(10, { snapshot: { chat: [], questions: [full, short], gauges: null } }));
    expect(client.questions.get(full.id)).toEqual(full);
    expect(client.questions.get(short.id)).toMatchObject({ tags: [], pinned: false, boost: 0, score: 4, original_text: null, claimed_by: null });
    expect(client.snapshots).toBe(1);
  });

  it('mergeQuestions (REST answers, 409 current) follows the same version rule and notifies', () => {
    const { client, ws } = connected(1);
    const q = question({ version: 2 });
    ws.receive(batch(2, 2, [qd(2, q)]));
    let changes = 0;
    client.onChange(() => changes++);
    expect(client.mergeQuestions([{ ...q, version: 1, text: 'stale' }])).toBe(0);
    expect(changes).toBe(0);
    expect(client.mergeQuestions([{ ...q, version: 3, pinned: true }, null])).toBe(1);
    expect(changes).toBe(1);
    expect(client.questions.get(q.id)?.pinned).toBe(true);
  });

  it('applyQuestion: newer replaces, equal or older is ignored', () => {
    const m = new Map();
    const q = question({ version: 2 });
    expect(applyQuestion(m, q)).toBe(true);
    expect(applyQuestion(m, { ...q, text: 'equal' })).toBe(false);
    expect(applyQuestion(m, { ...q, version: 1 })).toBe(false);
    expect(applyQuestion(m, { ...q, version: 10, text: 'newer' })).toBe(true);
    expect(m.get(q.id).text).toBe('newer');
    expect(applyQuestion(m, undefined)).toBe(false);
  });
});

describe('chat moderation reducers', () => {
  const upd = (seq: number, data: unknown) => ({ seq, topic: 'chat', type: 'chat.updated', at: '2030-01-01T10:00:00Z', data });
  const res = (seq: number, data: unknown) => ({ seq, topic: 'chat', type: 'moderation.result', at: '2030-01-01T10:00:00Z', data });
  const ids = (ms: { id: string }[]) => ms.map((m) => m.id);

  it('chat.updated replaces the message by id, in place', () => {
    const { client, ws } = connected(1);
    const a = chatMsg({ received_at: '2030-01-01T10:00:01Z' });
    const b = chatMsg({ received_at: '2030-01-01T10:00:02Z' });
    const c = chatMsg({ received_at: '2030-01-01T10:00:03Z' });
    ws.receive(batch(2, 4, [chatDelta(2, a), chatDelta(3, b), chatDelta(4, c)]));
    ws.receive(batch(5, 5, [upd(5, { ...b, hidden: true, version: 2 })]));
    expect(ids(client.chat)).toEqual([a.id, b.id, c.id]);
    expect(client.chat[1].hidden).toBe(true);
    expect(client.chat[0].hidden).toBe(false);
    ws.receive(batch(6, 6, [upd(6, { ...b, hidden: false, version: 3 })]));
    expect(client.chat[1].hidden).toBe(false);
    expect(client.chatAppended).toBe(3);
  });

  it('routes held lines to the hold queue, never the feed (deltas and snapshot)', () => {
    const client = make();
    const ws = FakeSocket.last();
    ws.open();
    const shown = chatMsg();
    const heldSnap = chatMsg({ held: true, moderation_reason: "held: matched term 'x'" });
    ws.receive(hello(10, { snapshot: { chat: [shown, heldSnap], questions: [], gauges: null } }));
    expect(ids(client.chat)).toEqual([shown.id]);
    expect(ids(client.held)).toEqual([heldSnap.id]);
    const heldLive = chatMsg({ held: true });
    ws.receive(batch(11, 12, [chatDelta(11, heldLive), chatDelta(12, { ...heldLive })]));
    expect(ids(client.chat)).toEqual([shown.id]);
    expect(ids(client.held)).toEqual([heldSnap.id, heldLive.id]);
    expect(client.chatAppended).toBe(0);
    // a chat.message for a held id without held: true does not duplicate it into the feed
    ws.receive(batch(13, 13, [chatDelta(13, { ...heldLive, held: false })]));
    expect(ids(client.chat)).toEqual([shown.id]);
  });

  it('release moves a held line into the feed (in time order); reject takes it out and keeps it hidden', () => {
    const { client, ws } = connected(1);
    const early = chatMsg({ received_at: '2030-01-01T10:00:01Z' });
    const h1 = chatMsg({ held: true, received_at: '2030-01-01T10:00:02Z' });
    const h2 = chatMsg({ held: true, received_at: '2030-01-01T10:00:03Z' });
    const late = chatMsg({ received_at: '2030-01-01T10:00:04Z' });
    ws.receive(batch(2, 5, [chatDelta(2, early), chatDelta(3, h1), chatDelta(4, h2), chatDelta(5, late)]));
    expect(ids(client.held)).toEqual([h1.id, h2.id]);

    ws.receive(batch(6, 6, [upd(6, { ...h1, held: false, hidden: false, version: 2 })]));
    expect(ids(client.held)).toEqual([h2.id]);
    expect(ids(client.chat)).toEqual([early.id, h1.id, late.id]);
    expect(client.chat[1].hidden).toBe(false);

    ws.receive(batch(7, 7, [upd(7, { ...h2, held: false, hidden: true, version: 2 })]));
    expect(client.held).toEqual([]);
    const rejected = client.chat.find((m) => m.id === h2.id);
    expect(rejected?.hidden).toBe(true);
    // the same update again (REST answer + delta) changes nothing
    expect(client.mergeChat([{ ...h2, held: false, hidden: true, version: 2 }])).toBe(0);
    expect(client.chat.filter((m) => m.id === h2.id)).toHaveLength(1);
    expect(client.held).toEqual([]);
  });

  it('an older chat.updated (a late REST answer) does not roll a line back', () => {
    const { client, ws } = connected(1);
    const m = chatMsg();
    ws.receive(batch(2, 2, [chatDelta(2, m)]));
    ws.receive(batch(3, 4, [upd(3, { ...m, hidden: true, version: 2 }), upd(4, { ...m, hidden: false, version: 3 })]));
    expect(client.mergeChat([{ ...m, hidden: true, version: 2 }])).toBe(0);
    expect(client.chat.find((x) => x.id === m.id)?.hidden).toBe(false);
    expect(client.chat.find((x) => x.id === m.id)?.version).toBe(3);
  });

  it('mergeHeld (GET /chat/held) skips lines the feed already shows and dedupes', () => {
    const { client, ws } = connected(1);
    const released = chatMsg();
    ws.receive(batch(2, 2, [chatDelta(2, released)]));
    const h = chatMsg({ held: true });
    ws.receive(batch(3, 3, [chatDelta(3, h)]));
    const other = chatMsg({ held: true, received_at: '2029-12-31T23:59:00Z' });
    client.mergeHeld([{ ...released, held: true }, h, other]);
    expect(ids(client.chat)).toEqual([released.id]);
    expect(ids(client.held)).toEqual([other.id, h.id]);
  });

  it('moderation.result: pending then its answer; a late pending does not undo it', () => {
    const { client, ws } = connected(1);
    const m = chatMsg();
    ws.receive(batch(2, 2, [chatDelta(2, m)]));
    const pending = modResult({ chat_message_id: m.id, action: 'delete', status: 'pending' });
    ws.receive(batch(3, 3, [res(3, pending)]));
    expect(latestModeration(client.moderation, m.id)?.status).toBe('pending');
    const done = { ...pending, status: 'done' as const, completed_at: '2030-01-01T10:00:05Z' };
    ws.receive(batch(4, 4, [res(4, done)]));
    expect(latestModeration(client.moderation, m.id)?.status).toBe('done');
    // the REST answer (pending) arriving after the delta
    expect(client.mergeModeration([pending])).toBe(0);
    expect(latestModeration(client.moderation, m.id)?.status).toBe('done');
  });

  it('takes platform answers from the snapshot, so a reload still shows them', () => {
    const m = chatMsg();
    const done = modResult({ chat_message_id: m.id, action: 'delete', status: 'done' });
    const client = make();
    const ws = FakeSocket.last();
    ws.open();
    ws.receive(hello(5, { snapshot: { chat: [m], questions: [], gauges: null, moderation: [done] } }));
    expect(latestModeration(client.moderation, m.id)?.status).toBe('done');
  });

  it('keeps one entry per action and shows the most recently requested one', () => {
    const map: ModerationMap = new Map();
    const del = modResult({ chat_message_id: 'm1', action: 'delete', status: 'failed', reason: 'unknown message', created_at: '2030-01-01T10:00:01Z' });
    const ban = modResult({ chat_message_id: 'm1', action: 'ban', status: 'pending', created_at: '2030-01-01T10:00:02Z' });
    expect(applyModerationResult(map, ban)).toBe(true);
    expect(applyModerationResult(map, del)).toBe(true);
    expect(map.get('m1')?.size).toBe(2);
    expect(latestModeration(map, 'm1')?.action).toBe('ban');
    expect(applyModerationResult(map, { ...ban, status: 'not_supported', reason: 'zoom cannot ban' })).toBe(true);
    expect(latestModeration(map, 'm1')?.status).toBe('not_supported');
    expect(applyModerationResult(map, { ...ban })).toBe(false); // pending after an answer
    expect(applyModerationResult(map, null)).toBe(false);
    expect(latestModeration(map, 'nope')).toBeNull();
  });

  it('forgets platform answers of lines trimmed from the feed', () => {
    const { client, ws } = connected(0, { maxChat: 2 });
    const a = chatMsg();
    ws.receive(batch(1, 2, [chatDelta(1, a), res(2, modResult({ chat_message_id: a.id }))]));
    expect(client.moderation.has(a.id)).toBe(true);
    ws.receive(batch(3, 4, [chatDelta(3), chatDelta(4)]));
    expect(client.moderation.has(a.id)).toBe(false);
  });
});
