import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LiveClient } from './live';
import { cue, FakeSocket, poll, results } from './test-utils';

const T0 = Date.parse('2030-01-01T10:00:00Z');

function connected(snapshot: Record<string, unknown> = {}) {
  const client = new LiveClient({ url: 'ws://test/ws/events/e1', createSocket: (u) => new FakeSocket(u), random: () => 0.5 });
  client.start();
  const ws = FakeSocket.last();
  ws.open();
  ws.receive({
    type: 'hello',
    server_time: new Date(T0 + 5_000).toISOString(),
    seq: 10,
    resumed: false,
    replayed: 0,
    snapshot: { chat: [], questions: [], gauges: null, ...snapshot },
  });
  return { client, ws };
}

const batch = (seq: number, items: unknown[]) => ({ type: 'batch', seq_from: seq, seq_to: seq, items });
const d = (seq: number, topic: string, type: string, data: unknown) => ({ seq, topic, type, at: '', data });

beforeEach(() => {
  FakeSocket.reset();
  vi.useFakeTimers();
  vi.setSystemTime(T0);
});
afterEach(() => vi.useRealTimers());

describe('LiveClient: polls', () => {
  it('takes the open poll from the snapshot and the server clock offset from hello', () => {
    const { client } = connected({ polls: [poll({ state: 'open', version: 2 })] });
    expect(client.polls.get('p1')?.state).toBe('open');
    expect(client.clockOffsetMs).toBe(5_000);
  });

  it('applies poll.updated by version and poll.results onto the poll', () => {
    const { client, ws } = connected();
    client.mergePolls([poll()]);
    ws.receive(batch(11, [d(11, 'polls', 'poll.updated', poll({ state: 'open', version: 2 }))]));
    expect(client.polls.get('p1')?.state).toBe('open');
    ws.receive(batch(12, [d(12, 'polls', 'poll.results', results())]));
    expect(client.polls.get('p1')?.results?.options[0].votes).toBe(2);
    // a replayed older poll.updated changes nothing; the results stay
    ws.receive(batch(13, [d(13, 'polls', 'poll.updated', poll({ version: 1 }))]));
    expect(client.polls.get('p1')?.state).toBe('open');
    expect(client.polls.get('p1')?.results?.total_voters).toBe(3);
  });

  it('counts drills started or stopped elsewhere', () => {
    const { client, ws } = connected();
    ws.receive(batch(11, [d(11, 'incidents', 'drill.started', { scenario: 'spam_raid' })]));
    ws.receive(batch(12, [d(12, 'incidents', 'drill.stopped', {})]));
    expect(client.drillChanges).toBe(2);
  });

  it('drops a deleted draft', () => {
    const { client, ws } = connected();
    client.mergePolls([poll({ id: 'd1' }), poll({ id: 'd2' })]);
    ws.receive(batch(11, [d(11, 'polls', 'poll.deleted', { id: 'd1' })]));
    expect([...client.polls.keys()]).toEqual(['d2']);
  });

  it('keeps drafts across a snapshot', () => {
    const { client, ws } = connected();
    client.mergePolls([poll({ id: 'draft1' })]);
    ws.receive({ type: 'hello', server_time: new Date(T0).toISOString(), seq: 20, resumed: false, replayed: 0, snapshot: { chat: [], questions: [], gauges: null, polls: [] } });
    expect(client.polls.has('draft1')).toBe(true);
  });
});

describe('LiveClient: cues', () => {
  it('takes the run-of-show and its live cue from the snapshot', () => {
    const live = cue({ id: 'c2', position: 1, state: 'live', version: 3 });
    const sheet = { server_time: '', sheet_version: 4, live_cue_id: 'c2', cues: [cue({ id: 'c1' }), live] };
    const { client } = connected({ cues: sheet });
    expect(client.liveCueId).toBe('c2');
    expect([...client.cues.keys()].sort()).toEqual(['c1', 'c2']);
    expect(client.cues.get('c2')?.state).toBe('live');
  });

  it('applies cue.live, cue.updated, cue.overrun and cue.deleted', () => {
    const { client, ws } = connected();
    client.mergeCues([cue({ id: 'c1' }), cue({ id: 'c2', position: 1 }), cue({ id: 'c3', position: 2 })], null);
    expect(client.liveCueId).toBe(null);
    const started = new Date(T0).toISOString();
    const c1 = cue({ id: 'c1', state: 'live', actual_start_at: started, version: 2 });
    ws.receive(batch(11, [d(11, 'cues', 'cue.live', { live: c1, next: cue({ id: 'c2', position: 1 }), ended: null, server_time: started })]));
    expect(client.liveCueId).toBe('c1');
    expect(client.cues.get('c1')?.state).toBe('live');

    ws.receive(batch(12, [d(12, 'cues', 'cue.updated', cue({ id: 'c2', position: 1, title: 'Renamed', version: 2 }))]));
    expect(client.cues.get('c2')?.title).toBe('Renamed');
    ws.receive(batch(13, [d(13, 'cues', 'cue.overrun', { ...c1, overrun: true, overrun_s: 3 })]));
    expect(client.cues.get('c1')?.overrun).toBe(true);
    ws.receive(batch(14, [d(14, 'cues', 'cue.deleted', { id: 'c3' })]));
    expect(client.cues.has('c3')).toBe(false);
    // an older cue.updated (replay) does not roll the live cue back
    ws.receive(batch(15, [d(15, 'cues', 'cue.updated', cue({ id: 'c1', version: 1 }))]));
    expect(client.cues.get('c1')?.state).toBe('live');
    ws.receive(batch(16, [d(16, 'cues', 'cue.action', { cue_id: 'c1', action: { type: 'open_qa' } })]));
    expect(client.lastSeqTo).toBe(16);
  });

  it('merges a GO answer like cue.live', () => {
    const { client } = connected();
    const rev = client.rev;
    client.mergeCueLive({ live: cue({ id: 'c9', state: 'live' }), next: null, ended: null, server_time: '' });
    expect(client.liveCueId).toBe('c9');
    expect(client.rev).toBeGreaterThan(rev);
  });
});
