// Live WebSocket client for /ws/events/{id} (docs/PROTOCOL.md). Framework-agnostic:
// the UI subscribes with onChange() and reads the public fields.

import type {
  BatchMsg,
  ChatMessage,
  Cue,
  CueLive,
  Delta,
  DetectorSignal,
  Gauges,
  HelloMsg,
  Incident,
  IncidentNotify,
  ModerationResult,
  ModerationStatus,
  Poll,
  Question,
  ServerMsg,
  Snapshot,
  SubscribeMsg,
  TimelineEntry,
  Topic,
} from './types';
import { applyCue, applyCueLive, applyPoll, applyPollResults } from './host';
import { applyIncident, applySignal, applyTimeline, isOpen } from './incidents';
import { applySourceDelta, mergeSource, newBook, noteMessage, type SourceView } from './sources';

/**
 * connecting   – first connection attempt, nothing received yet
 * live         – hello received, deltas flowing
 * reconnecting – connection lost, waiting (backoff) or re-connecting
 * resumed      – reconnected and resumed from lastSeqTo; falls back to live after resumedHoldMs
 * closed       – stopped (stop(), 4401, 4403, 4404): no more reconnects
 */
export type LiveStatus = 'connecting' | 'live' | 'reconnecting' | 'resumed' | 'closed';

export interface LiveError {
  code: number;
  message: string;
}

/** The subset of the browser WebSocket the client uses (a fake one in tests). */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason?: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

export type SocketFactory = (url: string) => SocketLike;

const utf8 = new TextDecoder();

export interface GaugeSample {
  /** server time (ms since epoch) of gauges.at */
  t: number;
  g: Gauges;
}

export interface LiveOptions {
  url: string;
  createSocket?: SocketFactory;
  topics?: Topic[];
  /** random source for the backoff jitter, [0, 1) */
  random?: () => number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** how long "resumed" is shown before going back to "live" */
  resumedHoldMs?: number;
  /** no frame (the server pings every 15 s) for this long → drop and reconnect */
  idleTimeoutMs?: number;
  maxChat?: number;
  gaugeHistoryMs?: number;
  /** close code 4401: the session is gone */
  onUnauthorized?: () => void;
  /** close codes 4403 / 4404: not allowed / no such event; reconnecting stops */
  onFatal?: (err: LiveError) => void;
  /** incident.notify: an escalation for the consoles of `role` (the page decides whose) */
  onIncidentNotify?: (n: IncidentNotify) => void;
}

export const DEFAULT_TOPICS: Topic[] = ['chat', 'questions', 'polls', 'cues', 'gauges', 'sources', 'incidents'];

const FATAL_MESSAGES: Record<number, string> = {
  4401: 'Your session has ended. Please sign in again.',
  4403: 'You are not allowed to open this event (not a member, or this page’s origin is not allowed).',
  4404: 'This event does not exist.',
};

/** Full-jitter exponential backoff: uniform in [0, min(cap, base·2^attempt)). */
export function backoffDelay(
  attempt: number,
  random: () => number = Math.random,
  baseMs = 500,
  capMs = 10_000,
): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt));
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.min(Math.floor(r * ceiling), Math.max(0, ceiling - 1));
}

export function wsUrl(
  eventId: string,
  loc: { protocol: string; host: string } = globalThis.location,
): string {
  const scheme = loc.protocol === 'https:' ? 'wss' : 'ws';
  return `${scheme}://${loc.host}/ws/events/${encodeURIComponent(eventId)}`;
}

/** Pending questions, newest first. */
export function pendingNewestFirst(questions: Iterable<Question>): Question[] {
  const out: Question[] = [];
  for (const q of questions) if (q.state === 'pending') out.push(q);
  out.sort((a, b) => (a.received_at < b.received_at ? 1 : a.received_at > b.received_at ? -1 : 0));
  return out;
}

/**
 * Fill the fields a Question may lack (a server older than the triage API sends the
 * short shape) so the UI can rely on them. Returns the same object when complete.
 */
export function normalizeQuestion(q: Question): Question {
  const p = q as Partial<Question> & Pick<Question, 'id'>;
  if (
    Array.isArray(p.tags) &&
    typeof p.score === 'number' &&
    typeof p.boost === 'number' &&
    typeof p.pinned === 'boolean' &&
    p.original_text !== undefined &&
    p.claimed_by !== undefined &&
    typeof p.updated_at === 'string'
  )
    return q;
  const votes = typeof p.votes === 'number' ? p.votes : 0;
  const boost = typeof p.boost === 'number' ? p.boost : 0;
  return {
    ...q,
    original_text: p.original_text ?? null,
    votes,
    boost,
    score: typeof p.score === 'number' ? p.score : votes + boost,
    version: typeof p.version === 'number' ? p.version : 0,
    pinned: p.pinned ?? false,
    tags: Array.isArray(p.tags) ? p.tags : [],
    anonymous: p.anonymous ?? false,
    host_note: p.host_note ?? '',
    claimed_by: p.claimed_by ?? null,
    claimed_by_name: p.claimed_by_name ?? null,
    claimed_until: p.claimed_until ?? null,
    merged_into: p.merged_into ?? null,
    merged_count: p.merged_count ?? 0,
    duplicate_of: p.duplicate_of ?? null,
    duplicate_score: p.duplicate_score ?? null,
    updated_at: p.updated_at ?? p.received_at ?? '',
  };
}

/**
 * The question reducer: store `q` only when we hold nothing for its id or an older
 * version (deltas, REST answers and 409 `current` bodies may arrive in any order and
 * twice). Questions stay whatever their state: the triage queue filters by state.
 * Returns true when the map changed.
 */
export function applyQuestion(map: Map<string, Question>, q: Question | null | undefined): boolean {
  if (!q || typeof q !== 'object' || typeof q.id !== 'string') return false;
  const cur = map.get(q.id);
  if (cur && !((q.version ?? 0) > (cur.version ?? 0))) return false;
  map.set(q.id, normalizeQuestion(q));
  return true;
}

// ---- chat moderation reducers ------------------------------------------------------

/** Per chat message: its platform actions by action id (docs/PROTOCOL.md moderation.result). */
export type ModerationMap = Map<string, Map<string, ModerationResult>>;

const STATUS_RANK: Record<ModerationStatus, number> = { pending: 0, done: 1, failed: 1, not_supported: 1 };
const statusRank = (s: unknown) => STATUS_RANK[s as ModerationStatus] ?? 1;

/**
 * Store a ModerationResult under its message and action id. A result never goes back
 * to `pending` once it has an answer (the REST answer may arrive after the delta that
 * carries the platform's answer, and deltas may come twice). Returns true on a change.
 */
export function applyModerationResult(map: ModerationMap, r: ModerationResult | null | undefined): boolean {
  if (!r || typeof r !== 'object' || typeof r.chat_message_id !== 'string') return false;
  const actionId = typeof r.action_id === 'string' ? r.action_id : r.id;
  if (typeof actionId !== 'string') return false;
  let per = map.get(r.chat_message_id);
  const cur = per?.get(actionId);
  if (cur) {
    if (statusRank(r.status) < statusRank(cur.status)) return false;
    if (cur.status === r.status && cur.reason === r.reason && cur.completed_at === r.completed_at) return false;
  }
  if (!per) {
    per = new Map();
    map.set(r.chat_message_id, per);
  }
  per.set(actionId, r);
  return true;
}

/** The message's most recently requested action (its answer if it came), or null. */
export function latestModeration(map: ModerationMap, messageId: string): ModerationResult | null {
  const per = map.get(messageId);
  if (!per) return null;
  let best: ModerationResult | null = null;
  for (const r of per.values()) if (!best || !(r.created_at < best.created_at)) best = r; // ties: the later one
  return best;
}

function isChatMessage(m: unknown): m is ChatMessage {
  return !!m && typeof m === 'object' && typeof (m as ChatMessage).id === 'string';
}

/** Insert `m` into `list` (oldest first by received_at), searching from the end. Returns its index. */
function insertByTime(list: ChatMessage[], m: ChatMessage): number {
  let i = list.length;
  while (i > 0 && list[i - 1].received_at > m.received_at) i--;
  list.splice(i, 0, m);
  return i;
}

function lastIndexById(list: readonly ChatMessage[], id: string): number {
  for (let i = list.length - 1; i >= 0; i--) if (list[i].id === id) return i;
  return -1;
}

function parseTime(iso: string): number {
  const t = Date.parse(iso);
  return Number.isFinite(t) ? t : NaN;
}

export class LiveClient {
  // ---- public, read-only for consumers -------------------------------------
  status: LiveStatus = 'connecting';
  /** deltas replayed on the last resume (hello.replayed) */
  replayed = 0;
  /** the seq_to of the last batch, or hello.seq of the last snapshot */
  lastSeqTo: number | null = null;
  /** oldest first, at most maxChat */
  chat: ChatMessage[] = [];
  /** count of messages ever appended by deltas (for "N new messages") */
  chatAppended = 0;
  /** count of messages ever dropped from the front by the maxChat cap */
  chatTrimmed = 0;
  /** messages held for review (held: true), oldest first; never in `chat` */
  held: ChatMessage[] = [];
  /** platform actions per chat message id, by action id (see latestModeration) */
  moderation: ModerationMap = new Map();
  /** every question we know of, in any state (replaced by each snapshot) */
  questions = new Map<string, Question>();
  /** incremented whenever a snapshot replaced the questions (time to re-fetch closed ones) */
  snapshots = 0;
  /** drill.started / drill.stopped deltas seen: another console began or ended a drill */
  drillChanges = 0;
  gauges: Gauges | null = null;
  /** this session's gauges, oldest first, last gaugeHistoryMs of server time */
  gaugeHistory: GaugeSample[] = [];
  /** sources and their health: REST answers (mergeSources) and `sources` deltas; kept across snapshots */
  sources = newBook();
  /** run-of-show cues by id: GET /cues (mergeCues) and `cues` deltas; kept across snapshots */
  cues = new Map<string, Cue>();
  /** the live cue's id as cue.live / the sheet last said (undefined: not known yet) */
  liveCueId: string | null | undefined = undefined;
  /** polls by id: REST answers (mergePolls), the snapshot's open poll, `polls` deltas */
  polls = new Map<string, Poll>();
  /**
   * incidents by id: the snapshot's open ones, `incident.updated` deltas, REST answers
   * (mergeIncidents). Resolved ones seen this session stay (they are closed from here).
   */
  incidents = new Map<string, Incident>();
  /** timeline entries per incident id, in id order: GET /incidents/{iid} and deltas */
  incidentTimelines = new Map<string, TimelineEntry[]>();
  /** detector signals that did not open an incident: GET /signals and `signal.detected` */
  signals = new Map<string, DetectorSignal>();
  /** server clock − local clock, ms (estimated from hello/ping server_time) */
  clockOffsetMs = 0;
  error: LiveError | null = null;
  resyncs = 0;
  lastResyncReason: string | null = null;
  /** incremented on every change; lets UIs cheaply detect updates */
  rev = 0;

  // ---- private --------------------------------------------------------------
  private readonly opts: Required<
    Omit<LiveOptions, 'onUnauthorized' | 'onFatal' | 'onIncidentNotify'>
  > &
    Pick<LiveOptions, 'onUnauthorized' | 'onFatal' | 'onIncidentNotify'>;
  private ws: SocketLike | null = null;
  private chatIds = new Set<string>();
  private attempt = 0;
  private stopped = true;
  private everConnected = false;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private resumedTimer: ReturnType<typeof setTimeout> | null = null;
  private idleTimer: ReturnType<typeof setTimeout> | null = null;
  private listeners = new Set<(c: LiveClient) => void>();

  constructor(options: LiveOptions) {
    this.opts = {
      createSocket: (url) => {
        const ws = new WebSocket(url);
        ws.binaryType = 'arraybuffer';
        return ws as unknown as SocketLike;
      },
      topics: DEFAULT_TOPICS,
      random: Math.random,
      baseDelayMs: 500,
      maxDelayMs: 10_000,
      resumedHoldMs: 4_000,
      idleTimeoutMs: 45_000,
      maxChat: 10_000,
      gaugeHistoryMs: 30 * 60_000,
      ...options,
    };
  }

  onChange(fn: (c: LiveClient) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Server clock now (ms since epoch). */
  serverNow(): number {
    return Date.now() + this.clockOffsetMs;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.error = null;
    this.attempt = 0;
    this.setStatus(this.everConnected ? 'reconnecting' : 'connecting');
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    this.clearTimers();
    this.dropSocket(1000, 'client stopped');
    this.setStatus('closed');
  }

  /** Skip the backoff wait (e.g. the browser came back online). */
  reconnectNow(): void {
    if (this.stopped || this.ws || this.reconnectTimer === null) return;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.connect();
  }

  /**
   * Apply chat messages from REST answers (hide/unhide/release/reject, a 409's
   * `current`) as `chat.updated` deltas. Returns how many changed.
   */
  mergeChat(ms: Iterable<ChatMessage | null | undefined>): number {
    let n = 0;
    for (const m of ms) if (this.updateChat(m)) n++;
    if (n > 0) {
      this.trimChat();
      this.emit();
    }
    return n;
  }

  /**
   * Merge GET /chat/held. A message the feed already shows was released (or rejected)
   * after the server answered: it stays where the deltas put it.
   */
  mergeHeld(ms: Iterable<ChatMessage | null | undefined>): number {
    let n = 0;
    for (const m of ms) {
      if (!isChatMessage(m) || this.chatIds.has(m.id)) continue;
      const i = lastIndexById(this.held, m.id);
      if (i >= 0) this.held[i] = { ...m, held: true };
      else insertByTime(this.held, { ...m, held: true });
      n++;
    }
    if (n > 0) {
      this.trimHeld();
      this.emit();
    }
    return n;
  }

  /** Merge ModerationResults from REST answers (same rule as the deltas). */
  mergeModeration(rs: Iterable<ModerationResult | null | undefined>): number {
    let n = 0;
    for (const r of rs) if (applyModerationResult(this.moderation, r)) n++;
    if (n > 0) this.emit();
    return n;
  }

  /**
   * Merge questions from elsewhere (a REST answer, a 409's `current`, a backfill) with
   * the same version rule as deltas. Returns how many changed.
   */
  mergeQuestions(qs: Iterable<Question | null | undefined>): number {
    let n = 0;
    for (const q of qs) if (applyQuestion(this.questions, q)) n++;
    if (n > 0) this.emit();
    return n;
  }

  /** Merge sources from REST answers (the list, a write, a 409's `current`). */
  mergeSources(list: Iterable<SourceView | null | undefined>): number {
    let n = 0;
    for (const src of list) if (mergeSource(this.sources, src)) n++;
    if (n > 0) this.emit();
    return n;
  }

  /** Merge the cue sheet (GET /cues) or cues from a write's answer. */
  mergeCues(cues: Iterable<Cue | null | undefined>, liveCueId?: string | null): number {
    let n = 0;
    for (const c of cues) if (applyCue(this.cues, c)) n++;
    if (liveCueId !== undefined && liveCueId !== this.liveCueId) {
      this.liveCueId = liveCueId;
      n++;
    }
    if (n > 0) this.emit();
    return n;
  }

  /** Merge a GO answer (the same body as cue.live). */
  mergeCueLive(body: CueLive | null | undefined): void {
    const live = applyCueLive(this.cues, body);
    if (live !== undefined) this.liveCueId = live;
    this.emit();
  }

  /** Merge polls from REST answers (the list, a write, a 409's `current`). */
  mergePolls(polls: Iterable<Poll | null | undefined>): number {
    let n = 0;
    for (const p of polls) if (applyPoll(this.polls, p)) n++;
    if (n > 0) this.emit();
    return n;
  }

  /** Merge incidents from REST answers (the list, a write, a 409's `current`). */
  mergeIncidents(list: Iterable<Incident | null | undefined>): number {
    let n = 0;
    for (const i of list) if (applyIncident(this.incidents, i)) n++;
    if (n > 0) this.emit();
    return n;
  }

  /** Merge timeline entries (GET /incidents/{iid}); known ids are skipped. */
  mergeTimeline(entries: Iterable<TimelineEntry | null | undefined>): number {
    let n = 0;
    for (const t of entries) if (applyTimeline(this.incidentTimelines, t)) n++;
    if (n > 0) this.emit();
    return n;
  }

  /** Merge detector signals (GET /signals). */
  mergeSignals(list: Iterable<DetectorSignal | null | undefined>): number {
    let n = 0;
    for (const s of list) if (applySignal(this.signals, s)) n++;
    if (n > 0) this.emit();
    return n;
  }

  // ---- connection -----------------------------------------------------------

  private connect(): void {
    this.reconnectTimer = null;
    let ws: SocketLike;
    try {
      ws = this.opts.createSocket(this.opts.url);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      const msg: SubscribeMsg = { type: 'subscribe', topics: this.opts.topics, since: this.lastSeqTo };
      ws.send(JSON.stringify(msg));
      this.armIdle();
    };
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return;
      this.armIdle();
      this.handleRaw(ev.data);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.onDisconnected(ev.code);
    };
    ws.onerror = () => {
      /* a close event follows */
    };
  }

  private dropSocket(code: number, reason: string): void {
    const ws = this.ws;
    if (!ws) return;
    this.ws = null;
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    try {
      ws.close(code, reason);
    } catch {
      /* already closed */
    }
  }

  private onDisconnected(code: number): void {
    this.clearTimer('idle');
    this.clearTimer('resumed');
    if (this.stopped) return;
    const message = FATAL_MESSAGES[code];
    if (message) {
      this.stopped = true;
      this.clearTimers();
      this.error = { code, message };
      this.setStatus('closed');
      if (code === 4401) this.opts.onUnauthorized?.();
      else this.opts.onFatal?.(this.error);
      return;
    }
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    const delay = backoffDelay(this.attempt, this.opts.random, this.opts.baseDelayMs, this.opts.maxDelayMs);
    this.attempt += 1;
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
    this.setStatus('reconnecting');
  }

  private armIdle(): void {
    this.clearTimer('idle');
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      // Half-open connection: no ping for too long. Don't wait for the browser's close.
      this.dropSocket(4000, 'idle timeout');
      this.onDisconnected(4000);
    }, this.opts.idleTimeoutMs);
  }

  private clearTimer(which: 'idle' | 'resumed' | 'reconnect'): void {
    const key = `${which}Timer` as const;
    const t = this[key];
    if (t !== null) clearTimeout(t);
    this[key] = null;
  }

  private clearTimers(): void {
    this.clearTimer('idle');
    this.clearTimer('resumed');
    this.clearTimer('reconnect');
  }

  private setStatus(s: LiveStatus): void {
    this.status = s;
    this.emit();
  }

  private emit(): void {
    this.rev += 1;
    for (const fn of this.listeners) fn(this);
  }

  // ---- messages ---------------------------------------------------------------

  private handleRaw(raw: unknown): void {
    // The server sends UTF-8 JSON as binary frames (built once, written to every
    // console as they are); text frames are accepted too.
    if (raw instanceof ArrayBuffer) raw = utf8.decode(raw);
    if (typeof raw !== 'string') return;
    let msg: ServerMsg;
    try {
      msg = JSON.parse(raw) as ServerMsg;
    } catch {
      return;
    }
    if (!msg || typeof msg !== 'object') return;
    switch (msg.type) {
      case 'hello':
        this.handleHello(msg);
        break;
      case 'batch':
        this.handleBatch(msg);
        break;
      case 'resync':
        this.resyncs += 1;
        this.lastResyncReason = msg.reason ?? null;
        this.emit();
        break;
      case 'ping':
        this.noteServerTime(msg.server_time);
        this.emit();
        break;
      default:
        break; // unknown frame types are ignored (forward compatible)
    }
  }

  private handleHello(msg: HelloMsg): void {
    this.noteServerTime(msg.server_time);
    this.attempt = 0;
    this.everConnected = true;
    if (msg.snapshot) {
      this.replaceState(msg.snapshot);
      this.lastSeqTo = msg.seq;
    } else if (!msg.resumed || this.lastSeqTo === null) {
      this.lastSeqTo = msg.seq;
    }
    // On a resume, lastSeqTo stays at `since`: the replayed deltas follow in batches
    // and advance it, so a drop mid-replay resumes from the right place.
    this.clearTimer('resumed');
    if (msg.resumed) {
      this.replayed = msg.replayed ?? 0;
      this.resumedTimer = setTimeout(() => {
        this.resumedTimer = null;
        if (this.status === 'resumed') this.setStatus('live');
      }, this.opts.resumedHoldMs);
      this.setStatus('resumed');
    } else {
      this.replayed = 0;
      this.setStatus('live');
    }
  }

  private handleBatch(msg: BatchMsg): void {
    for (const d of msg.items ?? []) this.applyDelta(d);
    this.trimChat();
    this.trimHeld();
    if (typeof msg.seq_to === 'number') this.lastSeqTo = msg.seq_to;
    this.emit();
  }

  private applyDelta(d: Delta): void {
    switch (d.type) {
      case 'chat.message':
        if (this.addChat(d.data)) this.chatAppended += 1;
        noteMessage(this.sources, d.data?.source_id, d.data?.received_at);
        break;
      case 'chat.updated':
        this.updateChat(d.data);
        break;
      case 'moderation.result':
        applyModerationResult(this.moderation, d.data);
        break;
      case 'question.created':
      case 'question.updated':
        applyQuestion(this.questions, d.data);
        break;
      case 'gauges.update':
        this.applyGauges(d.data);
        break;
      case 'poll.updated':
        applyPoll(this.polls, d.data);
        break;
      case 'poll.results':
        applyPollResults(this.polls, d.data);
        break;
      case 'drill.started':
      case 'drill.stopped':
        this.drillChanges += 1; // the drill panel reads the drill again
        break;
      case 'poll.deleted':
        if (d.data && typeof d.data.id === 'string') this.polls.delete(d.data.id);
        break;
      case 'cue.updated':
      case 'cue.overrun':
        applyCue(this.cues, d.data);
        break;
      case 'cue.live': {
        const live = applyCueLive(this.cues, d.data);
        if (live !== undefined) this.liveCueId = live;
        break;
      }
      case 'cue.deleted':
        if (d.data && typeof d.data.id === 'string') this.cues.delete(d.data.id);
        break;
      case 'cue.action':
        break; // shown by the overlays; the host view reads actions_fired on the cue
      case 'incident.updated':
        applyIncident(this.incidents, d.data);
        break;
      case 'incident.timeline':
        applyTimeline(this.incidentTimelines, d.data);
        break;
      case 'signal.detected':
        applySignal(this.signals, d.data);
        break;
      case 'incident.notify':
        if (d.data && typeof d.data === 'object') {
          try {
            this.opts.onIncidentNotify?.(d.data);
          } catch {
            /* a page's handler must not stop the batch */
          }
        }
        break;
      default:
        // source.updated, source.health (topic `sources`)
        applySourceDelta(this.sources, d as unknown as { type: string; data: unknown });
        break;
    }
  }

  private replaceState(s: Snapshot): void {
    this.chat = [];
    this.chatIds = new Set();
    this.held = [];
    for (const m of s.chat ?? []) this.addChat(m);
    this.trimChat();
    this.trimHeld();
    // Keep the answers of messages it still shows, then take the snapshot's (newer win).
    for (const id of [...this.moderation.keys()])
      if (!this.chatIds.has(id) && lastIndexById(this.held, id) < 0) this.moderation.delete(id);
    for (const r of s.moderation ?? []) applyModerationResult(this.moderation, r);
    this.questions = new Map();
    for (const q of s.questions ?? []) applyQuestion(this.questions, q);
    this.snapshots += 1;
    this.gauges = null;
    if (s.gauges) this.applyGauges(s.gauges);
    // The snapshot carries only the open poll: drafts and closed ones stay (the host
    // view re-fetches the list after each snapshot).
    for (const p of s.polls ?? []) applyPoll(this.polls, p);
    if (s.cues) {
      for (const c of s.cues.cues ?? []) applyCue(this.cues, c);
      this.liveCueId = s.cues.live_cue_id ?? null;
    }
    // The snapshot lists every open incident: one we hold as open that it lacks has
    // moved on meanwhile (resolved, cancelled; the Ops view re-fetches them all).
    if (s.incidents) {
      const open = new Set(s.incidents.map((i) => i?.id));
      for (const [id, i] of [...this.incidents]) if (isOpen(i.state) && !open.has(id)) this.incidents.delete(id);
      for (const i of s.incidents) applyIncident(this.incidents, i);
    }
  }

  /** A new line (chat.message, snapshot): held ones go to the hold queue. False if known. */
  private addChat(m: ChatMessage): boolean {
    if (!isChatMessage(m) || this.chatIds.has(m.id)) return false;
    if (m.held === true) {
      if (lastIndexById(this.held, m.id) < 0) this.held.push(m);
      return false;
    }
    if (lastIndexById(this.held, m.id) >= 0) return false; // held, and no chat.updated yet
    this.chatIds.add(m.id);
    this.chat.push(m);
    return true;
  }

  /**
   * chat.updated (and REST answers): replace the message by id, moving it between the
   * hold queue and the feed. Released → feed; rejected (held: false, hidden: true) →
   * feed as a hidden line; held again → hold queue. Returns true on a change.
   * Like questions, a version no newer than the one shown changes nothing: a REST answer
   * that arrives after a later moderator's delta must not roll the line back.
   */
  private updateChat(m: ChatMessage | null | undefined): boolean {
    if (!isChatMessage(m)) return false;
    const h = lastIndexById(this.held, m.id);
    const f = this.chatIds.has(m.id) ? lastIndexById(this.chat, m.id) : -1;
    const shown = h >= 0 ? this.held[h] : f >= 0 ? this.chat[f] : undefined;
    if (shown && typeof m.version === 'number' && typeof shown.version === 'number' && m.version <= shown.version) {
      return false;
    }
    if (m.held === true) {
      if (f >= 0) {
        this.chat.splice(f, 1);
        this.chatIds.delete(m.id);
      }
      if (h >= 0) this.held[h] = m;
      else insertByTime(this.held, m);
      return true;
    }
    if (h >= 0) this.held.splice(h, 1);
    if (f >= 0) {
      this.chat[f] = m;
      return true;
    }
    // Not in the feed: leaving the hold queue, or a line the feed dropped long ago
    // (older than everything kept: leave it out rather than shift the feed).
    const full = this.chat.length >= this.opts.maxChat;
    if (h < 0 && full && this.chat.length > 0 && m.received_at < this.chat[0].received_at) return false;
    const at = insertByTime(this.chat, m);
    this.chatIds.add(m.id);
    if (at === this.chat.length - 1) this.chatAppended += 1;
    return true;
  }

  private trimChat(): void {
    const excess = this.chat.length - this.opts.maxChat;
    if (excess <= 0) return;
    const removed = this.chat.splice(0, excess);
    for (const m of removed) {
      this.chatIds.delete(m.id);
      this.moderation.delete(m.id);
    }
    this.chatTrimmed += removed.length;
  }

  /** The hold queue is capped like the feed (the server keeps every held message). */
  private trimHeld(): void {
    const excess = this.held.length - this.opts.maxChat;
    if (excess > 0) for (const m of this.held.splice(0, excess)) this.moderation.delete(m.id);
  }

  private applyGauges(g: Gauges): void {
    const t = parseTime(g.at);
    if (this.gauges) {
      const cur = parseTime(this.gauges.at);
      if (Number.isFinite(cur) && Number.isFinite(t) && t < cur) return; // stale duplicate
    }
    this.gauges = g;
    if (!Number.isFinite(t)) return;
    const h = this.gaugeHistory;
    const last = h[h.length - 1];
    if (last && last.t === t) h[h.length - 1] = { t, g };
    else if (!last || t > last.t) h.push({ t, g });
    const cutoff = t - this.opts.gaugeHistoryMs;
    let drop = 0;
    while (drop < h.length && h[drop].t < cutoff) drop += 1;
    if (drop > 0) h.splice(0, drop);
  }

  private noteServerTime(iso: string): void {
    const t = parseTime(iso);
    if (Number.isFinite(t)) this.clockOffsetMs = t - Date.now();
  }
}
