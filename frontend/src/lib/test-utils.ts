// A fake WebSocket for unit tests (not bundled: only imported from *.test.ts).

import type { ChatMessage, Gauges, ModerationResult, Question } from './types';
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

export function gauges(at: string, total = 100, mpm = 10): Gauges {
  return {
    at,
    viewers: { total, by_platform: { twitch: total } },
    messages_per_min: mpm,
    unique_chatters_per_min: 5,
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
