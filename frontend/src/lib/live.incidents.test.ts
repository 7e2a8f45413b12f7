import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LiveClient } from './live';
import { detectorSignal, FakeSocket, incident, timelineEntry } from './test-utils';
import type { IncidentNotify } from './types';

const T0 = Date.parse('2030-01-01T10:00:00Z');

function connected(snapshot: Record<string, unknown> = {}, notified: IncidentNotify[] = []) {
  const client = new LiveClient({
    url: 'ws://test/ws/events/e1',
    createSocket: (u) => new FakeSocket(u),
    random: () => 0.5,
    onIncidentNotify: (n) => notified.push(n),
  });
  client.start();
  const ws = FakeSocket.last();
  ws.open();
  ws.receive(hello(20, snapshot));
  return { client, ws };
}

const hello = (seq: number, snapshot: Record<string, unknown>) => ({
  type: 'hello',
  server_time: new Date(T0 + 2_000).toISOString(),
  seq,
  resumed: false,
  replayed: 0,
  snapshot: { chat: [], questions: [], gauges: null, ...snapshot },
});
const batch = (seq: number, items: unknown[]) => ({ type: 'batch', seq_from: seq, seq_to: seq, items });
const d = (seq: number, type: string, data: unknown) => ({ seq, topic: 'incidents', type, at: '', data });

beforeEach(() => {
  FakeSocket.reset();
  vi.useFakeTimers();
  vi.setSystemTime(T0);
});
afterEach(() => vi.useRealTimers());

describe('LiveClient: incidents', () => {
  it('subscribes to incidents and takes the open ones from the snapshot', () => {
    const { client, ws } = connected({ incidents: [incident({ id: 'a' }), incident({ id: 'b', number: 2 })] });
    expect(ws.sentJson()[0].topics).toContain('incidents');
    expect([...client.incidents.keys()].sort()).toEqual(['a', 'b']);
    expect(client.serverNow()).toBe(T0 + 2_000);
  });

  it('applies incident.updated when its version is newer or equal, never older', () => {
    const { client, ws } = connected({ incidents: [incident({ version: 2 })] });
    const rev = client.rev;
    ws.receive(batch(21, [d(21, 'incident.updated', incident({ version: 3, state: 'acknowledged' }))]));
    expect(client.incidents.get('i1')?.state).toBe('acknowledged');
    expect(client.rev).toBeGreaterThan(rev);
    // a replayed older delta (or a slow REST answer) does not roll it back
    ws.receive(batch(22, [d(22, 'incident.updated', incident({ version: 2, state: 'triage' }))]));
    client.mergeIncidents([incident({ version: 1, state: 'triage' })]);
    expect(client.incidents.get('i1')?.state).toBe('acknowledged');
    // the same version again replaces (it is the server's latest word)
    ws.receive(batch(23, [d(23, 'incident.updated', incident({ version: 3, state: 'acknowledged', severity: 'sev1' }))]));
    expect(client.incidents.get('i1')?.severity).toBe('sev1');
    // a new incident appears
    ws.receive(batch(24, [d(24, 'incident.updated', incident({ id: 'new', number: 2 }))]));
    expect(client.incidents.has('new')).toBe(true);
    expect(client.lastSeqTo).toBe(24);
  });

  it('files incident.timeline under its incident in id order, once, with REST entries merged in', () => {
    const { client, ws } = connected();
    ws.receive(batch(21, [d(21, 'incident.timeline', timelineEntry({ id: 5, kind: 'state' }))]));
    ws.receive(batch(22, [d(22, 'incident.timeline', timelineEntry({ id: 5, kind: 'state' }))]));
    expect(client.mergeTimeline([timelineEntry({ id: 1 }), timelineEntry({ id: 5, kind: 'state' })])).toBe(1);
    ws.receive(batch(23, [d(23, 'incident.timeline', timelineEntry({ id: 7, kind: 'note', text: 'on it' }))]));
    expect(client.incidentTimelines.get('i1')?.map((t) => [t.id, t.kind])).toEqual([
      [1, 'opened'],
      [5, 'state'],
      [7, 'note'],
    ]);
  });

  it('keeps signal.detected and GET /signals by id', () => {
    const { client, ws } = connected();
    client.mergeSignals([detectorSignal({ id: 's1' })]);
    ws.receive(batch(21, [d(21, 'signal.detected', detectorSignal({ id: 's2', outcome: 'monitored' }))]));
    ws.receive(batch(22, [d(22, 'signal.detected', detectorSignal({ id: 's2', outcome: 'monitored' }))]));
    expect([...client.signals.keys()].sort()).toEqual(['s1', 's2']);
  });

  it('hands incident.notify to the page and keeps going when its handler throws', () => {
    const notified: IncidentNotify[] = [];
    const { client, ws } = connected({}, notified);
    const n: IncidentNotify = { incident_id: 'i1', number: 1, title: 'Stream down', role: 'host', severity: 'sev1', text: 'not acknowledged after 120 s' };
    ws.receive(batch(21, [d(21, 'incident.notify', n), d(21, 'incident.updated', incident({ version: 2, severity: 'sev1' }))]));
    expect(notified).toEqual([n]);
    expect(client.incidents.get('i1')?.severity).toBe('sev1');

    const throwing = new LiveClient({
      url: 'ws://x',
      createSocket: (u) => new FakeSocket(u),
      onIncidentNotify: () => {
        throw new Error('page bug');
      },
    });
    throwing.start();
    const ws2 = FakeSocket.last();
    ws2.open();
    ws2.receive(hello(1, {}));
    ws2.receive(batch(2, [d(2, 'incident.notify', n), d(2, 'incident.updated', incident())]));
    expect(throwing.incidents.has('i1')).toBe(true);
  });

  it('a new snapshot drops open incidents it no longer lists, keeps resolved ones and signals', () => {
    const { client, ws } = connected({ incidents: [incident({ id: 'gone' }), incident({ id: 'stays', version: 2 })] });
    client.mergeIncidents([incident({ id: 'done', state: 'resolved', version: 5 })]);
    client.mergeSignals([detectorSignal()]);
    ws.receive({ type: 'resync', reason: 'lagging' });
    ws.receive(hello(40, { incidents: [incident({ id: 'stays', version: 3, state: 'mitigating' })] }));
    expect([...client.incidents.keys()].sort()).toEqual(['done', 'stays']);
    expect(client.incidents.get('stays')?.state).toBe('mitigating');
    expect(client.signals.size).toBe(1);
  });

  it('a snapshot without the incidents key (an older server) leaves them alone', () => {
    const { client, ws } = connected({ incidents: [incident()] });
    ws.receive(hello(40, {}));
    expect(client.incidents.has('i1')).toBe(true);
  });
});
