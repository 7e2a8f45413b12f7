// The Ops view's rules as pure functions: the lifecycle (mirrors app/incidents/lifecycle.py),
// ranking, countdowns, step counts, the one-key map, and the reducers the live client uses.

import { mmss } from './host';
import type { KeyInput } from './keymap';
import type {
  DetectorSignal,
  Incident,
  IncidentState,
  IncidentStep,
  Severity,
  StepState,
  TimelineEntry,
} from './types';

export const SEVERITIES: readonly Severity[] = ['sev1', 'sev2', 'sev3', 'sev4']; // sev1 is the worst
export const STATES: readonly IncidentState[] = [
  'triage',
  'acknowledged',
  'mitigating',
  'monitoring',
  'resolved',
  'closed',
  'cancelled',
];
export const OPEN_STATES: readonly IncidentState[] = ['triage', 'acknowledged', 'mitigating', 'monitoring'];

/** Exactly app/incidents/lifecycle.py ALLOWED (a test keeps them equal). */
export const ALLOWED: Readonly<Record<IncidentState, readonly IncidentState[]>> = {
  triage: ['acknowledged', 'mitigating', 'monitoring', 'resolved', 'cancelled'],
  acknowledged: ['mitigating', 'monitoring', 'resolved', 'cancelled'],
  mitigating: ['monitoring', 'resolved', 'cancelled'],
  monitoring: ['mitigating', 'resolved', 'cancelled'],
  resolved: ['closed', 'mitigating'],
  closed: [],
  cancelled: [],
};

/** The categories the playbook knows (app/playbooks/schemas.py CATEGORIES). */
export const CATEGORIES: readonly string[] = [
  'stream',
  'audio',
  'connector',
  'chat',
  'speaker',
  'schedule',
  'content',
  'platform',
  'engagement',
  'questions',
];

export function isOpen(state: IncidentState | string): boolean {
  return (OPEN_STATES as readonly string[]).includes(state);
}

/** The states `from` may move to (none for an unknown state). */
export function nextStates(from: IncidentState | string): readonly IncidentState[] {
  return ALLOWED[from as IncidentState] ?? [];
}

export function canMove(from: IncidentState | string, to: IncidentState): boolean {
  return nextStates(from).includes(to);
}

/** Why `incident` cannot move to `to` (the words the server would use), or null. */
export function moveProblem(incident: Pick<Incident, 'number' | 'state'>, to: IncidentState): string | null {
  if (incident.state === to) return `#${incident.number} is already ${to}.`;
  if (canMove(incident.state, to)) return null;
  const next = nextStates(incident.state);
  return next.length === 0
    ? `#${incident.number} is ${incident.state}: it is over.`
    : `#${incident.number} is ${incident.state}: it can go to ${next.join(', ')}, not ${to}.`;
}

function sevRank(s: string): number {
  const i = SEVERITIES.indexOf(s as Severity);
  return i < 0 ? SEVERITIES.length : i;
}

/** When the incident started for the people working it: detected, else declared, else created. */
export function startedAt(i: Pick<Incident, 'detected_at' | 'declared_at' | 'created_at'>): number {
  for (const iso of [i.detected_at, i.declared_at, i.created_at]) {
    const t = iso ? Date.parse(iso) : NaN;
    if (Number.isFinite(t)) return t;
  }
  return NaN;
}

/**
 * The playbook target this incident has missed, if any: acknowledged within
 * `acknowledge_s` of detection, mitigated (monitoring or later) within `mitigate_s`.
 */
export function overdue(
  i: Pick<Incident, 'state' | 'plan' | 'detected_at' | 'declared_at' | 'created_at' | 'acknowledged_at' | 'mitigated_at'>,
  nowMs: number,
): string | null {
  const targets = i.plan?.targets ?? {};
  const since = startedAt(i);
  if (!isOpen(i.state) || !Number.isFinite(since)) return null;
  const late = (target: number | undefined, done: string | null | undefined) =>
    target !== undefined && !done && nowMs - since > target * 1000;
  if (late(targets.acknowledge_s, i.acknowledged_at)) return `not acknowledged within ${targets.acknowledge_s} s`;
  if (late(targets.mitigate_s, i.mitigated_at)) return `not mitigated within ${targets.mitigate_s} s`;
  return null;
}

/** Open incidents, worst severity first, then the oldest first (then by number). */
export function rankOpen(incidents: Iterable<Incident>): Incident[] {
  const out: Incident[] = [];
  for (const i of incidents) if (isOpen(i.state)) out.push(i);
  return out.sort((a, b) => {
    const s = sevRank(a.severity) - sevRank(b.severity);
    if (s !== 0) return s;
    const ta = startedAt(a);
    const tb = startedAt(b);
    if (ta !== tb && Number.isFinite(ta) && Number.isFinite(tb)) return ta - tb;
    return a.number - b.number;
  });
}

/** Resolved incidents (waiting to be closed), the most recently resolved first. */
export function resolvedList(incidents: Iterable<Incident>): Incident[] {
  const out: Incident[] = [];
  for (const i of incidents) if (i.state === 'resolved') out.push(i);
  const t = (i: Incident) => (i.resolved_at ? Date.parse(i.resolved_at) : 0) || 0;
  return out.sort((a, b) => t(b) - t(a) || b.number - a.number);
}

/** "4:07" since the incident started, at server time `nowMs`. */
export function ageText(i: Pick<Incident, 'detected_at' | 'declared_at' | 'created_at'>, nowMs: number): string {
  const t = startedAt(i);
  if (!Number.isFinite(t)) return '–';
  return mmss(Math.max(0, Math.floor((nowMs - t) / 1000)));
}

/**
 * The escalation countdown while an incident waits in triage: "escalates in 0:42", or
 * "escalating…" once due (the server applies it within seconds). Null when nothing will.
 */
export function escalationText(
  i: Pick<Incident, 'state' | 'next_escalation_at'>,
  serverNowMs: number,
): string | null {
  if (i.state !== 'triage' || !i.next_escalation_at) return null;
  const at = Date.parse(i.next_escalation_at);
  if (!Number.isFinite(at)) return null;
  const left = Math.ceil((at - serverNowMs) / 1000);
  return left > 0 ? `escalates in ${mmss(left)}` : 'escalating…';
}

export interface StepCounts {
  total: number;
  done: number;
  skipped: number;
  /** todo or in progress */
  open: number;
  adHoc: number;
}

export function stepCounts(steps: readonly Pick<IncidentStep, 'state' | 'from_playbook'>[]): StepCounts {
  const c: StepCounts = { total: steps.length, done: 0, skipped: 0, open: 0, adHoc: 0 };
  for (const s of steps) {
    if (s.state === 'done') c.done++;
    else if (s.state === 'skipped') c.skipped++;
    else c.open++;
    if (!s.from_playbook) c.adHoc++;
  }
  return c;
}

/** Space / Enter on a step: done ↔ todo (a skipped one goes back to todo). */
export function toggledStepState(state: StepState): StepState {
  return state === 'done' ? 'todo' : 'done';
}

export const MILESTONES: readonly { key: keyof Incident; label: string }[] = [
  { key: 'impact_started_at', label: 'impact started' },
  { key: 'detected_at', label: 'detected' },
  { key: 'declared_at', label: 'declared' },
  { key: 'acknowledged_at', label: 'acknowledged' },
  { key: 'mitigated_at', label: 'mitigated' },
  { key: 'resolved_at', label: 'resolved' },
  { key: 'closed_at', label: 'closed' },
];

/** The milestones reached, in lifecycle order. */
export function milestones(i: Incident): { label: string; at: string }[] {
  const out: { label: string; at: string }[] = [];
  for (const m of MILESTONES) {
    const v = i[m.key];
    if (typeof v === 'string' && v) out.push({ label: m.label, at: v });
  }
  return out;
}

/** A short mark and a word per timeline kind (text only: the page never renders HTML). */
export const TIMELINE_KIND: Readonly<Record<string, { icon: string; label: string }>> = {
  opened: { icon: '●', label: 'opened' },
  state: { icon: '→', label: 'state' },
  note: { icon: '✎', label: 'note' },
  step: { icon: '☑', label: 'step' },
  role: { icon: '◉', label: 'role' },
  severity: { icon: '▲', label: 'severity' },
  match: { icon: '≡', label: 'playbook' },
  escalation: { icon: '⏫', label: 'escalation' },
};

export function timelineKind(kind: string): { icon: string; label: string } {
  return TIMELINE_KIND[kind] ?? { icon: '·', label: kind };
}

/** "user:lee" → "lee"; "detector:viewers_drop" stays as it is. */
export function actorText(actor: string): string {
  return actor.startsWith('user:') ? actor.slice(5) : actor;
}

// ---- reducers (the live client and the REST answers) ---------------------------------

function isObj(x: unknown): x is Record<string, unknown> {
  return !!x && typeof x === 'object';
}

export function isIncident(x: unknown): x is Incident {
  return (
    isObj(x) &&
    typeof x.id === 'string' &&
    typeof x.number === 'number' &&
    typeof x.state === 'string' &&
    typeof x.version === 'number'
  );
}

/**
 * Store `inc` unless we hold a newer version (deltas, REST answers and 409 `current`
 * bodies arrive in any order; an equal version replaces). Returns true on a change.
 */
export function applyIncident(map: Map<string, Incident>, inc: Incident | null | undefined): boolean {
  if (!isIncident(inc)) return false;
  const cur = map.get(inc.id);
  if (cur && inc.version < cur.version) return false;
  map.set(inc.id, { ...inc, steps: Array.isArray(inc.steps) ? inc.steps : [], roles: Array.isArray(inc.roles) ? inc.roles : [] });
  return true;
}

/** Add a timeline entry under its incident, in id order, once. Returns true when new. */
export function applyTimeline(map: Map<string, TimelineEntry[]>, t: TimelineEntry | null | undefined): boolean {
  if (!isObj(t) || typeof t.id !== 'number' || typeof t.incident_id !== 'string') return false;
  let list = map.get(t.incident_id);
  if (!list) {
    list = [];
    map.set(t.incident_id, list);
  }
  let i = list.length;
  while (i > 0 && list[i - 1].id > t.id) i--;
  if (i > 0 && list[i - 1].id === t.id) return false;
  list.splice(i, 0, t);
  return true;
}

export function applySignal(map: Map<string, DetectorSignal>, s: DetectorSignal | null | undefined): boolean {
  if (!isObj(s) || typeof s.id !== 'string') return false;
  map.set(s.id, s);
  return true;
}

/** Detector signals, newest first (the list keeps the latest `limit`). */
export function signalsNewestFirst(signals: Iterable<DetectorSignal>, limit = 50): DetectorSignal[] {
  const out = [...signals];
  out.sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : a.id < b.id ? -1 : 1));
  return out.slice(0, limit);
}

/** How the "Open incident" form starts: an entry (a suggestion's) or a hand-made one. */
export interface OpenPrefill {
  slug?: string | null;
  title?: string;
  category?: string;
  note?: string;
}

/** The form for a detector's suggestion: its entry (or its signal as the title) and its words as the note. */
export function prefillFromSignal(s: Pick<DetectorSignal, 'signal' | 'scope' | 'entry_slug' | 'explanation'>): OpenPrefill {
  const note = s.explanation ? `Detector: ${s.explanation}`.slice(0, 5000) : undefined;
  if (s.entry_slug) return { slug: s.entry_slug, note };
  return { slug: null, title: `${s.signal.replace(/_/g, ' ')} (${s.scope})`, note };
}

/** What a 409 tells the operator: the incident as it is now. */
export function conflictText(before: Incident | undefined, now: Incident): string {
  const parts = [`#${now.number} is now ${now.state}`];
  if (before && before.severity !== now.severity) parts.push(`severity ${now.severity}`);
  return `Someone got there first: ${parts.join(', ')} (version ${now.version}). Check it and try again.`;
}

// ---- keyboard ----------------------------------------------------------------------------

export type OpsAction =
  | { kind: 'move'; delta: 1 | -1 }
  | { kind: 'edge'; to: 'first' | 'last' }
  | { kind: 'transition'; to: IncidentState }
  | { kind: 'note' }
  | { kind: 'steps' }
  | { kind: 'new' }
  | { kind: 'escape' };

/** One key per move; the legend and the buttons are built from this. */
export const MOVE_KEYS: readonly { key: string; to: IncidentState; label: string }[] = [
  { key: 'a', to: 'acknowledged', label: 'Acknowledge' },
  { key: 'm', to: 'mitigating', label: 'Mitigating' },
  { key: 'o', to: 'monitoring', label: 'Monitoring' },
  { key: 'r', to: 'resolved', label: 'Resolve' },
  { key: 'c', to: 'closed', label: 'Close' },
];
const LETTER_MOVES: Record<string, IncidentState> = Object.fromEntries(MOVE_KEYS.map((m) => [m.key, m.to]));

export const OPS_LEGEND: readonly { keys: string; what: string }[] = [
  { keys: 'j / k', what: 'next / previous incident' },
  ...MOVE_KEYS.map((m) => ({ keys: m.key, what: m.label.toLowerCase() })),
  { keys: 's', what: 'go to the steps (Space ticks one)' },
  { keys: 'n', what: 'write a note (Enter adds it)' },
  { keys: 'i', what: 'open an incident' },
  { keys: 'Esc', what: 'leave a field, then close' },
];

/**
 * The Ops view's key map. `inText`: the focus is in an input, select or textarea, where
 * only Esc means something here (leave the field).
 */
export function opsKeyAction(e: KeyInput & { isComposing?: boolean }, inText: boolean): OpsAction | null {
  if (e.isComposing) return null;
  if (e.key === 'Escape') return { kind: 'escape' };
  if (inText) return null;
  if (e.ctrlKey || e.metaKey || e.altKey) return null;
  const key = e.key;
  if (key === 'ArrowDown') return { kind: 'move', delta: 1 };
  if (key === 'ArrowUp') return { kind: 'move', delta: -1 };
  if (key === 'Home') return { kind: 'edge', to: 'first' };
  if (key === 'End') return { kind: 'edge', to: 'last' };
  if (key.length !== 1 || e.shiftKey) return null;
  const lower = key.toLowerCase();
  if (lower === 'j') return { kind: 'move', delta: 1 };
  if (lower === 'k') return { kind: 'move', delta: -1 };
  // A held key must not run an incident through its states.
  if (e.repeat) return null;
  const to = LETTER_MOVES[lower];
  if (to) return { kind: 'transition', to };
  if (lower === 's') return { kind: 'steps' };
  if (lower === 'n') return { kind: 'note' };
  if (lower === 'i') return { kind: 'new' };
  return null;
}

/** The next id in `ids` after moving `delta` from `current` (the first when none). */
export function moveCursor(ids: readonly string[], current: string | null, delta: 1 | -1): string | null {
  if (ids.length === 0) return null;
  const i = current === null ? -1 : ids.indexOf(current);
  if (i < 0) return delta > 0 ? ids[0] : ids[ids.length - 1];
  return ids[Math.min(ids.length - 1, Math.max(0, i + delta))];
}
