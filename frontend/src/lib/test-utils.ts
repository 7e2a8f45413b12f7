// Test helpers: a fake WebSocket, a fake fetch, sample objects (not bundled: only
// imported from *.test.ts).

import { vi } from 'vitest';

import type {
  ChatMessage,
  Cue,
  DetectorSignal,
  Gauges,
  Incident,
  IncidentStep,
  ModerationResult,
  Poll,
  PollResults,
  Question,
  TimelineEntry,
} from './types';
import type { SocketLike } from './live';

export class FakeSocket implements SocketLike {
  static instances: FakeSocket[] = [];
  readyState = 0;
  sent: string[] = [];
  closedWith: { code?: number; reason?: string } | null = null;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason?: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;

  constructor(readonly url: string) {
    FakeSocket.instances.push(this);
  }

  static reset(): void {
    FakeSocket.instances = [];
  }

  static last(): FakeSocket {
    const s = FakeSocket.instances[FakeSocket.instances.length - 1];
    if (!s) throw new Error('no socket created');
    return s;
  }

  send(data: string): void {
    if (this.readyState !== 1) throw new Error('send on a socket that is not open');
    this.sent.push(data);
  }

  close(code?: number, reason?: string): void {
    this.closedWith = { code, reason };
    this.readyState = 3;
  }

  // ---- server side ----
  open(): void {
    this.readyState = 1;
    this.onopen?.({});
  }

  receive(msg: unknown): void {
    this.onmessage?.({ data: JSON.stringify(msg) });
  }

  /** As the server sends it: UTF-8 JSON in a binary frame. */
  receiveBinary(msg: unknown): void {
    this.onmessage?.({ data: new TextEncoder().encode(JSON.stringify(msg)).buffer });
  }

  serverClose(code = 1006, reason = ''): void {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }

  sentJson(): Record<string, unknown>[] {
    return this.sent.map((s) => JSON.parse(s) as Record<string, unknown>);
  }
}

let n = 0;
const hex = (i: number) => i.toString(16).padStart(32, '0');

export function chatMsg(over: Partial<ChatMessage> = {}): ChatMessage {
  n += 1;
  return {
    id: hex(n),
    source_id: hex(999),
    platform: 'twitch',
    author_id: 'a1',
    author_name: 'alice',
    text: `message ${n}`,
    truncated: false,
    is_question: false,
    hidden: false,
    version: 1,
    platform_at: '2030-01-01T10:00:00Z',
    received_at: '2030-01-01T10:00:00Z',
    ...over,
  };
}

export function question(over: Partial<Question> = {}): Question {
  n += 1;
  return {
    id: hex(n),
    source_id: hex(999),
    platform: 'youtube',
    author_name: 'bob',
    text: `question ${n}?`,
    original_text: null,
    state: 'pending',
    votes: 0,
    boost: 0,
    score: 0,
    version: 1,
    pinned: false,
    tags: [],
    anonymous: false,
    host_note: '',
    claimed_by: null,
    claimed_by_name: null,
    claimed_until: null,
    merged_into: null,
    merged_count: 0,
    duplicate_of: null,
    duplicate_score: null,
    received_at: '2030-01-01T10:00:00Z',
    updated_at: '2030-01-01T10:00:00Z',
    ...over,
  };
}

export function gauges(at: string, total = 100, mpm = 10, ipm = mpm): Gauges {
  return {
    at,
    viewers: { total, by_platform: { twitch: total } },
    messages_per_min: mpm,
    unique_chatters_per_min: 5,
    interactions_per_min: ipm,
    questions_pending: 1,
    ingest_backlog: 0,
  };
}

export function modResult(over: Partial<ModerationResult> = {}): ModerationResult {
  n += 1;
  return {
    id: hex(n),
    action_id: over.id ?? hex(n),
    chat_message_id: hex(1),
    source_id: hex(999),
    action: 'delete',
    params: {},
    status: 'pending',
    reason: null,
    requested_by: 'user:mod',
    created_at: '2030-01-01T10:00:00Z',
    completed_at: null,
    ...over,
  };
}

export function cue(over: Partial<Cue> = {}): Cue {
  return {
    id: 'c1',
    position: 0,
    title: 'Welcome',
    planned_start_at: null,
    planned_duration_s: 300,
    owner_role: 'host',
    notes: '',
    actions: [],
    state: 'pending',
    actual_start_at: null,
    actual_end_at: null,
    remaining_s: null,
    overrun_s: 0,
    overrun: false,
    actions_fired: [],
    version: 1,
    updated_at: '2030-01-01T09:00:00Z',
    ...over,
  };
}

export function poll(over: Partial<Poll> = {}): Poll {
  return {
    id: 'p1',
    event_id: 'e1',
    title: 'Best talk?',
    kind: 'single',
    state: 'draft',
    options: ['A', 'B'],
    duration_s: null,
    opens_at: null,
    closes_at: null,
    cue_id: null,
    version: 1,
    created_at: '2030-01-01T09:00:00Z',
    updated_at: '2030-01-01T09:00:00Z',
    results: null,
    ...over,
  };
}

export function results(over: Partial<PollResults> = {}): PollResults {
  return {
    poll_id: 'p1',
    state: 'open',
    kind: 'single',
    options: [
      { position: 1, label: 'A', votes: 2 },
      { position: 2, label: 'B', votes: 1 },
    ],
    by_platform: { twitch: { voters: 2, counts: [1, 1] }, youtube: { voters: 1, counts: [1, 0] } },
    total_voters: 3,
    late_votes: 0,
    ...over,
  };
}

export type FetchCall = { url: string; method: string; headers: Record<string, string>; body: unknown };

/** A JSON answer for fakeFetch's queue. */
export function json(status: number, body: unknown): () => Response {
  return () => new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
}

/**
 * Stubs fetch: it records each call and answers from the queue, in order; with nothing
 * queued it fails as the network does (TypeError). parseJson reads request bodies as JSON.
 */
export function fakeFetch(opts: { parseJson?: boolean } = {}): { calls: FetchCall[]; answers: (() => Response)[] } {
  const calls: FetchCall[] = [];
  const answers: (() => Response)[] = [];
  vi.stubGlobal('fetch', async (url: string, init: RequestInit = {}) => {
    const raw = init.body;
    calls.push({
      url,
      method: init.method ?? 'GET',
      headers: init.headers as Record<string, string>,
      body: opts.parseJson && raw ? JSON.parse(raw as string) : raw,
    });
    const next = answers.shift();
    if (!next) throw new TypeError('Failed to fetch');
    return next();
  });
  return { calls, answers };
}

export function incidentStep(over: Partial<IncidentStep> = {}): IncidentStep {
  return {
    id: 's1',
    position: 0,
    text: 'Check the encoder',
    owner_role: 'ops_lead',
    kind: 'manual',
    action: null,
    from_playbook: true,
    state: 'todo',
    reason: null,
    done_by: null,
    done_at: null,
    version: 1,
    ...over,
  };
}

export function incident(over: Partial<Incident> = {}): Incident {
  return {
    id: 'i1',
    event_id: 'e1',
    number: 1,
    title: 'Stream down',
    category: 'stream',
    severity: 'sev2',
    state: 'triage',
    entry_slug: 'stream-down',
    playbook_version: 1,
    suggested_slug: null,
    match_confirmed: true,
    signal: null,
    scope: null,
    explanation: '',
    detection: {},
    drill: false,
    plan: { escalation: [{ after_s: 120, notify_role: 'host' }], targets: {}, templates: {} },
    escalations_done: 0,
    next_escalation_at: '2030-01-01T10:02:00Z',
    impact_started_at: null,
    detected_at: '2030-01-01T10:00:00Z',
    declared_at: '2030-01-01T10:00:00Z',
    acknowledged_at: null,
    mitigated_at: null,
    resolved_at: null,
    closed_at: null,
    version: 1,
    created_by: 'user:lead',
    created_at: '2030-01-01T10:00:00Z',
    updated_at: '2030-01-01T10:00:00Z',
    steps: [incidentStep()],
    roles: [],
    ...over,
  };
}

export function timelineEntry(over: Partial<TimelineEntry> = {}): TimelineEntry {
  return {
    id: 1,
    incident_id: 'i1',
    at: '2030-01-01T10:00:00Z',
    actor: 'user:lead',
    kind: 'opened',
    text: '#1 opened: Stream down (sev2)',
    data: {},
    ...over,
  };
}

export function detectorSignal(over: Partial<DetectorSignal> = {}): DetectorSignal {
  return {
    id: 'sig1',
    at: '2030-01-01T10:00:00Z',
    signal: 'engagement_drop',
    scope: 'total',
    entry_slug: 'engagement-drop',
    mode: 'suggest',
    outcome: 'suggested',
    explanation: 'chat per 100 viewers fell to 0.4 per minute (floor 1.0)',
    data: {},
    incident_id: null,
    drill: false,
    ...over,
  };
}
