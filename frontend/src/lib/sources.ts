// Sources (connector instances) and their health: types mirroring docs/PROTOCOL.md
// "Sources", the reducers for REST answers and `sources` deltas, and display helpers.
// Pure: no fetch, no DOM (the REST calls are in sourcesApi.ts).

import { ago } from './format';

export const PLATFORMS = ['simulator', 'twitch', 'youtube', 'zoom', 'owncast', 'webhook'] as const;
/** platforms that receive deliveries at POST /hooks/{id} */
export const WEBHOOK_PLATFORMS: readonly string[] = ['zoom', 'owncast', 'webhook'];

/** Who may add, edit, pause and resume sources (everyone on the event may read them). */
export const SOURCE_EDIT_ROLES: readonly string[] = ['admin', 'ops_lead'];

export type SourceState = 'connected' | 'reconnecting' | 'starting' | 'failed' | 'paused' | 'stopped' | 'unknown';
export type Tone = 'ok' | 'warn' | 'bad' | 'off';

/** What a running connector last reported (bus health); every field may be missing. */
export interface SourceHealth {
  state: string;
  last_event_at?: string | null;
  last_keepalive_at?: string | null;
  connected_at?: string | null;
  reconnects?: number;
  lag_s?: number;
  quota_left?: number | null;
  quota_note?: string | null;
  malformed?: number;
  dropped?: number;
  last_error?: string | null;
  errors?: { at: string | null; message: string }[];
  platform?: string;
  capabilities?: string[];
  queued?: number;
  /** the connector's clock when it reported: the newer report wins */
  reported_at?: string;
}

/** GET /api/events/{id}/sources item; credentials come back by name only. */
export interface SourceView {
  id: string;
  platform: string;
  name: string;
  kind: 'chat' | 'qa';
  enabled: boolean;
  version: number;
  config: Record<string, unknown>;
  credentials_set: string[];
  capabilities: string[];
  /** path of the delivery URL (webhook platforms), e.g. /hooks/abc; null otherwise */
  webhook_url: string | null;
  /** null when the connector never reported */
  health: SourceHealth | null;
  /** input from this source set aside since the event began (all runs, and the pipeline's) */
  dead_letters?: number;
  created_at?: string;
  updated_at?: string;
}

/** GET /api/events/{id}/dead-letters item. `payload` and `reason` may quote audience text. */
export interface DeadLetter {
  at: string;
  source_id: string | null;
  reason: string;
  payload: string;
  truncated: boolean;
  size: number;
}

/** POST /api/events/{id}/sources body */
export interface SourceCreate {
  platform: string;
  name: string;
  kind?: 'chat' | 'qa';
  config?: Record<string, unknown>;
  credentials?: Record<string, string>;
}

/** PATCH body: config and credentials are merged, a null value removes a key. */
export interface SourcePatch {
  name?: string;
  kind?: 'chat' | 'qa';
  config?: Record<string, unknown>;
  credentials?: Record<string, string | null>;
}

// ---- the reducers -------------------------------------------------------------------

/** The sources an event page knows, plus health reported for sources not listed yet. */
export interface SourceBook {
  byId: Map<string, SourceView>;
  strayHealth: Map<string, SourceHealth>;
}

export function newBook(): SourceBook {
  return { byId: new Map(), strayHealth: new Map() };
}

export function isSourceView(x: unknown): x is SourceView {
  const s = x as Partial<SourceView> | null;
  return !!s && typeof s === 'object' && typeof s.id === 'string' && typeof s.version === 'number';
}

function time(iso: string | null | undefined): number {
  const t = iso ? Date.parse(iso) : NaN;
  return Number.isFinite(t) ? t : NaN;
}

/**
 * Which health to show: the report with the later `reported_at`. A report without one
 * (the server's "paused" for a disabled source) is the server's view now, so it wins;
 * a missing report never replaces a known one.
 */
export function pickHealth(cur: SourceHealth | null | undefined, next: SourceHealth | null | undefined): SourceHealth | null {
  if (!next || typeof next !== 'object') return cur ?? null;
  if (!cur) return next;
  const a = time(cur.reported_at);
  const b = time(next.reported_at);
  if (Number.isFinite(a) && Number.isFinite(b) && b < a) return cur;
  // The last message may be newer here than in the report (seen live in the feed).
  if (time(cur.last_event_at) > time(next.last_event_at)) return { ...next, last_event_at: cur.last_event_at };
  return next;
}

/** Below this, a newer message does not redraw the row: freshness is shown in seconds. */
const SEEN_STEP_MS = 1000;

/**
 * A chat line from a source reached the console: its freshness is at least that line's.
 * Health reports come every few seconds; the feed shows what a source sends as it
 * arrives, so "last message 5 s ago" beside a scrolling feed would be wrong.
 */
export function noteMessage(book: SourceBook, sourceId: unknown, receivedAt: unknown): boolean {
  if (typeof sourceId !== 'string' || typeof receivedAt !== 'string') return false;
  const cur = book.byId.get(sourceId);
  const at = time(receivedAt);
  if (!cur?.health || !Number.isFinite(at)) return false;
  const shown = time(cur.health.last_event_at);
  if (Number.isFinite(shown) && at - shown < SEEN_STEP_MS) return false;
  book.byId.set(sourceId, { ...cur, health: { ...cur.health, last_event_at: receivedAt } });
  return true;
}

/**
 * A source from a REST answer, a 409's `current` or a `source.updated` delta: its
 * settings are taken when its version is not older than the one held; its health by
 * pickHealth. Returns true when what is shown changed.
 */
export function mergeSource(book: SourceBook, s: SourceView | null | undefined): boolean {
  if (!isSourceView(s)) return false;
  const cur = book.byId.get(s.id);
  const stray = book.strayHealth.get(s.id);
  book.strayHealth.delete(s.id);
  const incoming = { ...s, health: pickHealth(stray, s.health) };
  if (!cur) {
    book.byId.set(s.id, incoming);
    return true;
  }
  const base = s.version > cur.version || (s.version === cur.version && !sameSettings(s, cur)) ? incoming : cur;
  const health = pickHealth(cur.health, incoming.health);
  if (base === cur && sameJson(health, cur.health)) return false;
  book.byId.set(s.id, { ...base, health });
  return true;
}

const sameJson = (a: unknown, b: unknown) => a === b || JSON.stringify(a) === JSON.stringify(b);

function sameSettings(a: SourceView, b: SourceView): boolean {
  const pick = (s: SourceView) => [s.name, s.kind, s.enabled, s.config, s.credentials_set, s.capabilities, s.webhook_url];
  return sameJson(pick(a), pick(b));
}

/** A `source.health` delta (the connector's report plus source_id). */
export function applyHealth(book: SourceBook, sourceId: string, h: SourceHealth): boolean {
  const cur = book.byId.get(sourceId);
  if (!cur) {
    book.strayHealth.set(sourceId, pickHealth(book.strayHealth.get(sourceId), h) as SourceHealth);
    return false;
  }
  const health = pickHealth(cur.health, h);
  if (health === cur.health) return false;
  book.byId.set(sourceId, { ...cur, health });
  return true;
}

/** Applies a delta of topic `sources`; false for anything else. */
export function applySourceDelta(book: SourceBook, d: { type?: unknown; data?: unknown }): boolean {
  if (!d || typeof d !== 'object') return false;
  if (d.type === 'source.updated') return mergeSource(book, d.data as SourceView);
  if (d.type === 'source.health') {
    const data = d.data as (SourceHealth & { source_id?: unknown }) | null;
    if (!data || typeof data !== 'object' || typeof data.source_id !== 'string') return false;
    const { source_id, ...health } = data;
    return applyHealth(book, source_id as string, health as SourceHealth);
  }
  return false;
}

// ---- display -------------------------------------------------------------------

const KNOWN_STATES: readonly string[] = ['connected', 'reconnecting', 'starting', 'failed', 'paused', 'stopped'];

/** The state to draw: a disabled source is paused whatever its connector said last. */
export function displayState(s: Pick<SourceView, 'enabled' | 'health'>): SourceState {
  if (!s.enabled) return 'paused';
  const st = s.health?.state;
  if (!st) return 'unknown';
  return (KNOWN_STATES.includes(st) ? st : 'unknown') as SourceState;
}

export function stateTone(state: SourceState): Tone {
  switch (state) {
    case 'connected':
      return 'ok';
    case 'reconnecting':
    case 'starting':
      return 'warn';
    case 'failed':
      return 'bad';
    default:
      return 'off';
  }
}

/** Trouble first, so what needs a look is at the top: failed, reconnecting, …, connected. */
const STATE_RANK: Record<SourceState, number> = {
  failed: 0,
  reconnecting: 1,
  starting: 2,
  unknown: 3,
  stopped: 4,
  paused: 5,
  connected: 6,
};

export function stateRank(state: SourceState): number {
  return STATE_RANK[state];
}

/** By state (trouble first), then name, then id: a stable order. */
export function sortSources(list: Iterable<SourceView>): SourceView[] {
  return [...list].sort(
    (a, b) =>
      stateRank(displayState(a)) - stateRank(displayState(b)) ||
      a.name.localeCompare(b.name) ||
      a.id.localeCompare(b.id),
  );
}

/** A message within this long is fresh (green); then amber until stale (red). */
export const FRESH_MS = 10_000;
export const STALE_MS = 60_000;

export interface Freshness {
  /** "last message 2 s ago", "no messages yet" */
  text: string;
  /** 1 just now → 0 at STALE_MS and beyond: the width of the freshness bar */
  fraction: number;
  tone: Tone;
  ageMs: number;
}

/** How long ago the last message came, against the server's clock. */
export function freshness(lastEventAt: string | null | undefined, serverNow: number, enabled = true): Freshness {
  const t = time(lastEventAt);
  if (!Number.isFinite(t)) return { text: 'no messages yet', fraction: 0, tone: 'off', ageMs: NaN };
  const ageMs = Math.max(0, serverNow - t);
  const fraction = Math.max(0, Math.min(1, 1 - ageMs / STALE_MS));
  const tone: Tone = !enabled ? 'off' : ageMs <= FRESH_MS ? 'ok' : ageMs <= STALE_MS ? 'warn' : 'bad';
  return { text: `last message ${ago(ageMs)}`, fraction, tone, ageMs };
}

/** "0.4 s", "12 s", "–" */
export function lagText(lag: number | null | undefined): string {
  if (typeof lag !== 'number' || !Number.isFinite(lag)) return '–';
  return lag < 10 ? `${lag.toFixed(1)} s` : `${Math.round(lag)} s`;
}

/** "9,850 left", or "–" when the platform has no quota. */
export function quotaText(h: SourceHealth | null | undefined): string {
  const q = h?.quota_left;
  if (typeof q !== 'number' || !Number.isFinite(q)) return '–';
  return `${q.toLocaleString('en-US')} left`;
}

/** The absolute delivery URL to paste into the platform. */
export function absoluteWebhookUrl(path: string | null, origin: string): string | null {
  if (!path) return null;
  return /^https?:\/\//.test(path) ? path : origin.replace(/\/$/, '') + path;
}

// ---- the add / edit form -------------------------------------------------------

export interface ConfigRow {
  key: string;
  /** as typed: JSON numbers, booleans, arrays and objects are parsed; anything else is a string */
  value: string;
}

export interface CredentialRow {
  name: string;
  /** typed now (write-only); empty keeps what is set */
  value: string;
  /** the server holds a value for this name */
  isSet: boolean;
  /** remove it on save */
  remove: boolean;
}

export interface SourceForm {
  platform: string;
  name: string;
  kind: 'chat' | 'qa';
  config: ConfigRow[];
  credentials: CredentialRow[];
}

/**
 * Credential rows offered per platform (the names the connectors read); rows left empty
 * are not sent, and the server says which ones are required.
 */
export const CREDENTIAL_HINTS: Record<string, string[]> = {
  twitch: ['token', 'client_id'],
  youtube: ['access_token'],
  zoom: ['webhook_secret', 'account_id', 'client_id', 'client_secret'],
  owncast: ['webhook_secret', 'access_token'],
  webhook: ['secret'],
};

export function configText(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

export function parseConfigValue(text: string): unknown {
  const t = text.trim();
  if (t === '') return '';
  if (/^(-?\d|true$|false$|\[|\{)/.test(t)) {
    try {
      return JSON.parse(t);
    } catch {
      return text;
    }
  }
  return text;
}

export function emptyForm(platform = 'webhook'): SourceForm {
  return {
    platform,
    name: '',
    kind: 'chat',
    config: [],
    credentials: (CREDENTIAL_HINTS[platform] ?? []).map((name) => ({ name, value: '', isSet: false, remove: false })),
  };
}

export function formFromSource(s: SourceView): SourceForm {
  return {
    platform: s.platform,
    name: s.name,
    kind: s.kind,
    config: Object.entries(s.config ?? {}).map(([key, v]) => ({ key, value: configText(v) })),
    credentials: s.credentials_set.map((name) => ({ name, value: '', isSet: true, remove: false })),
  };
}

export type FormCheck = { ok: true } | { ok: false; problem: string };

export function checkForm(f: SourceForm): FormCheck {
  if (!f.name.trim()) return { ok: false, problem: 'Give the source a name.' };
  const keys = f.config.map((r) => r.key.trim()).filter(Boolean);
  if (new Set(keys).size !== keys.length) return { ok: false, problem: 'Each config key may appear once.' };
  const names = f.credentials.map((r) => r.name.trim()).filter(Boolean);
  if (new Set(names).size !== names.length) return { ok: false, problem: 'Each credential name may appear once.' };
  if (f.config.some((r) => !r.key.trim() && r.value.trim())) return { ok: false, problem: 'A config value needs a key.' };
  if (f.credentials.some((r) => !r.name.trim() && r.value))
    return { ok: false, problem: 'A credential value needs a name.' };
  return { ok: true };
}

function configOf(rows: ConfigRow[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const r of rows) if (r.key.trim()) out[r.key.trim()] = parseConfigValue(r.value);
  return out;
}

/** The POST body of a new source: only credentials that were typed. */
export function createBody(f: SourceForm): SourceCreate {
  const credentials: Record<string, string> = {};
  for (const r of f.credentials) if (r.name.trim() && r.value) credentials[r.name.trim()] = r.value;
  return { platform: f.platform, name: f.name.trim(), kind: f.kind, config: configOf(f.config), credentials };
}

/**
 * The PATCH body for what changed against `s`: config keys set or removed (null),
 * credentials typed or removed (null), name and kind when different. Empty when nothing.
 */
export function patchBody(s: SourceView, f: SourceForm): SourcePatch {
  const out: SourcePatch = {};
  if (f.name.trim() !== s.name) out.name = f.name.trim();
  if (f.kind !== s.kind) out.kind = f.kind;
  const next = configOf(f.config);
  const config: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(next))
    if (!(k in (s.config ?? {})) || JSON.stringify(s.config[k]) !== JSON.stringify(v)) config[k] = v;
  for (const k of Object.keys(s.config ?? {})) if (!(k in next)) config[k] = null;
  if (Object.keys(config).length > 0) out.config = config;
  const credentials: Record<string, string | null> = {};
  const kept = new Set<string>();
  for (const r of f.credentials) {
    const name = r.name.trim();
    if (!name) continue;
    if (r.remove) {
      if (s.credentials_set.includes(name)) credentials[name] = null;
      continue;
    }
    kept.add(name);
    if (r.value) credentials[name] = r.value;
  }
  // A row deleted from the form removes that credential too.
  for (const name of s.credentials_set) if (!kept.has(name) && !(name in credentials)) credentials[name] = null;
  if (Object.keys(credentials).length > 0) out.credentials = credentials;
  return out;
}
