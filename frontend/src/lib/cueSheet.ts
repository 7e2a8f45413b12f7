// The run-of-show editor's pure logic (docs/PROTOCOL.md "Run-of-show",
// app/cues/schemas.py): form values ⇄ API fields, validation with the API's limits,
// unsaved edits per cue, moves, 409 comparisons, and keeping up with the live sheet.

import type {
  Cue,
  CueActionSpec,
  CueActionType,
  CuePatch,
  OwnerRole,
  Poll,
  Question,
  SheetProblem,
} from './types';

/** The roles the API takes as a cue's owner (app/cues/schemas.py OwnerRole). */
export const OWNER_ROLES: readonly OwnerRole[] = ['host', 'ops_lead', 'moderator', 'admin'];
export const OWNER_LABELS: Record<OwnerRole, string> = {
  host: 'Host',
  ops_lead: 'Ops lead',
  moderator: 'Moderator',
  admin: 'Admin',
};

/** Every action type the API takes, in the order the editor offers them. */
export const ACTION_TYPES: readonly { type: CueActionType; label: string }[] = [
  { type: 'open_poll', label: 'Open poll' },
  { type: 'close_poll', label: 'Close poll' },
  { type: 'open_qa', label: 'Open Q&A' },
  { type: 'close_qa', label: 'Close Q&A' },
  { type: 'show_question', label: 'Put a question on screen' },
  { type: 'show_checklist', label: 'Show a checklist' },
];

/** The API's limits (CueSpec and its actions). */
export const LIMITS = {
  title: 200,
  notes: 10_000,
  durationS: 24 * 3600,
  actions: 20,
  checklistItems: 50,
  checklistText: 200,
  id: 64,
} as const;

/** A cue as its inputs show it. */
export interface CueForm {
  title: string;
  /** `<input type="datetime-local">`: local time, '' for none */
  start: string;
  /** planned duration in minutes, '0' untimed */
  minutes: string;
  owner_role: OwnerRole;
  notes: string;
  actions: CueActionSpec[];
}
export type CueField = keyof CueForm;

/** What the user changed on one cue and has not saved yet; position/state: a move or a skip. */
export type CueEdits = Partial<CueForm> & { position?: number; state?: 'pending' | 'skipped' };
export type EditKey = keyof CueEdits;

const pad = (n: number) => String(n).padStart(2, '0');

/** An ISO time as a datetime-local value in the browser's zone ('' for none or garbage). */
export function toLocalInput(iso: string | null | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** A datetime-local value (local time) as an ISO UTC time; '' is null, garbage undefined. */
export function fromLocalInput(value: string): string | null | undefined {
  const t = value.trim();
  if (!t) return null;
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(t);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = [m[1], m[2], m[3], m[4], m[5], m[6] ?? '0'].map(Number);
  const at = new Date(y, mo - 1, d, h, mi, s);
  if (Number.isNaN(at.getTime()) || at.getMonth() !== mo - 1 || at.getDate() !== d) return undefined;
  return at.toISOString();
}

/** 300 → "5", 90 → "1.5", 0 → "0". */
export function minutesText(seconds: number | null | undefined): string {
  const s = Math.max(0, seconds ?? 0);
  const m = s / 60;
  return Number.isInteger(m) ? String(m) : String(Math.round(m * 100) / 100);
}

/** "7.5" minutes → 450 s; '' is 0 (untimed); negative, garbage or over a day: undefined. */
export function secondsFromMinutes(text: string): number | undefined {
  const t = text.trim().replace(',', '.');
  if (!t) return 0;
  if (!/^\d+(\.\d+)?$/.test(t)) return undefined;
  const s = Math.round(Number(t) * 60);
  return s <= LIMITS.durationS ? s : undefined;
}

function cloneAction(a: CueActionSpec): CueActionSpec {
  return a.type === 'show_checklist' ? { ...a, items: [...(a.items ?? [])] } : { ...a };
}

export function formFromCue(c: Cue): CueForm {
  const owner = OWNER_ROLES.includes(c.owner_role as OwnerRole) ? (c.owner_role as OwnerRole) : 'host';
  return {
    title: c.title,
    start: toLocalInput(c.planned_start_at),
    minutes: minutesText(c.planned_duration_s),
    owner_role: owner,
    notes: c.notes ?? '',
    actions: ((c.actions ?? []) as CueActionSpec[]).map(cloneAction),
  };
}

/** Values compared as the API would see them (arrays and objects by content). */
export function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function savedValue(cue: Cue, key: EditKey): unknown {
  if (key === 'position') return cue.position;
  if (key === 'state') return cue.state;
  return formFromCue(cue)[key];
}

/**
 * `edits` with `key` set to `value`; a value equal to the saved one drops the edit
 * (unless `keepEqual`: a save is on its way and the saved value may still change).
 */
export function withEdit<K extends EditKey>(
  edits: CueEdits | undefined,
  cue: Cue,
  key: K,
  value: CueEdits[K],
  keepEqual = false,
): CueEdits {
  const next: CueEdits = { ...(edits ?? {}) };
  if (!keepEqual && same(value, savedValue(cue, key))) delete next[key];
  else next[key] = value;
  return next;
}

/** After a save: the edits made since it left stay; those it carried are done. */
export function afterSave(edits: CueEdits | undefined, sent: CueEdits): CueEdits {
  const next: CueEdits = { ...(edits ?? {}) };
  for (const key of Object.keys(sent) as EditKey[]) if (same(next[key], sent[key])) delete next[key];
  return next;
}

export function hasEdits(edits: CueEdits | undefined): boolean {
  return !!edits && Object.keys(edits).length > 0;
}

/** What is wrong with one action, or null. */
export function actionProblem(a: CueActionSpec): string | null {
  switch (a.type) {
    case 'open_poll':
    case 'close_poll':
      return a.poll_id?.trim() ? null : 'pick a poll';
    case 'show_question':
      return a.question_id?.trim() ? null : 'pick a question';
    case 'show_checklist': {
      const items = (a.items ?? []).map((i) => i.trim()).filter(Boolean);
      if (items.length === 0) return 'a checklist needs at least one item';
      if (items.length > LIMITS.checklistItems) return `at most ${LIMITS.checklistItems} checklist items`;
      if (items.some((i) => i.length > LIMITS.checklistText)) return `checklist items are at most ${LIMITS.checklistText} characters`;
      if ((a.title ?? '').length > LIMITS.checklistText) return `the checklist title is at most ${LIMITS.checklistText} characters`;
      return null;
    }
    case 'open_qa':
    case 'close_qa':
      return null;
    default:
      return `unknown action ${(a as { type: string }).type}`;
  }
}

export function actionsProblem(actions: readonly CueActionSpec[]): string | null {
  if (actions.length > LIMITS.actions) return `at most ${LIMITS.actions} actions per cue`;
  for (const [i, a] of actions.entries()) {
    const p = actionProblem(a);
    if (p) return `action ${i + 1}: ${p}`;
  }
  return null;
}

/** Per field, what is wrong with the edits (empty: all fine). */
export function editProblems(edits: CueEdits): Partial<Record<CueField, string>> {
  const out: Partial<Record<CueField, string>> = {};
  if (edits.title !== undefined) {
    const t = edits.title.trim();
    if (!t) out.title = 'Give the cue a title.';
    else if (t.length > LIMITS.title) out.title = `At most ${LIMITS.title} characters.`;
  }
  if (edits.start !== undefined && fromLocalInput(edits.start) === undefined) out.start = 'Pick a date and time, or clear it.';
  if (edits.minutes !== undefined && secondsFromMinutes(edits.minutes) === undefined)
    out.minutes = `0 to ${LIMITS.durationS / 60} minutes (0: untimed).`;
  if (edits.notes !== undefined && edits.notes.length > LIMITS.notes) out.notes = `Notes are at most ${LIMITS.notes} characters.`;
  if (edits.actions !== undefined) {
    const p = actionsProblem(edits.actions);
    if (p) out.actions = p;
  }
  if (edits.owner_role !== undefined && !OWNER_ROLES.includes(edits.owner_role)) out.owner_role = 'Pick an owner.';
  return out;
}

/** Actions as the API takes them: only their own keys (it forbids others), checklists trimmed. */
export function cleanActions(actions: readonly CueActionSpec[]): CueActionSpec[] {
  return actions.map((a): CueActionSpec => {
    switch (a.type) {
      case 'open_poll':
      case 'close_poll':
        return { type: a.type, poll_id: a.poll_id.trim() };
      case 'show_question':
        return { type: a.type, question_id: a.question_id.trim() };
      case 'show_checklist':
        return {
          type: a.type,
          title: (a.title ?? '').trim(),
          items: (a.items ?? []).map((i) => i.trim()).filter(Boolean),
        };
      default:
        return { type: a.type };
    }
  });
}

/** The PATCH body for valid edits (check editProblems first), at the version we saw. */
export function patchBody(edits: CueEdits, version: number): CuePatch {
  const body: CuePatch = { version };
  if (edits.title !== undefined) body.title = edits.title.trim();
  if (edits.start !== undefined) body.planned_start_at = fromLocalInput(edits.start) ?? null;
  if (edits.minutes !== undefined) body.planned_duration_s = secondsFromMinutes(edits.minutes) ?? 0;
  if (edits.owner_role !== undefined) body.owner_role = edits.owner_role;
  if (edits.notes !== undefined) body.notes = edits.notes;
  if (edits.actions !== undefined) body.actions = cleanActions(edits.actions);
  if (edits.position !== undefined) body.position = edits.position;
  if (edits.state !== undefined) body.state = edits.state;
  return body;
}

/** A new action of `type`, with the first fitting poll or question already picked. */
export function newAction(type: CueActionType, polls: readonly Poll[] = [], questions: readonly Question[] = []): CueActionSpec {
  switch (type) {
    case 'open_poll':
      return { type, poll_id: polls.find((p) => p.state === 'draft')?.id ?? '' };
    case 'close_poll':
      return { type, poll_id: polls.find((p) => p.state !== 'closed')?.id ?? '' };
    case 'show_question':
      return { type, question_id: questions[0]?.id ?? '' };
    case 'show_checklist':
      return { type, title: '', items: [] };
    default:
      return { type };
  }
}

/** What the locked parts of a cue are: a played cue is fixed; the live one keeps its actions and place. */
export function lockedParts(c: Pick<Cue, 'state'>): { all: boolean; actions: boolean; place: boolean } {
  if (c.state === 'done') return { all: true, actions: true, place: true };
  if (c.state === 'live') return { all: false, actions: true, place: true };
  return { all: false, actions: false, place: false };
}

/** Only pending and skipped cues may be deleted (409 cue_locked otherwise). */
export function canDelete(c: Pick<Cue, 'state'>): boolean {
  return c.state === 'pending' || c.state === 'skipped';
}

/** Cues in running order. */
export function inOrder(cues: Iterable<Cue>): Cue[] {
  return [...cues].sort((a, b) => a.position - b.position);
}

/**
 * Where a move by `delta` takes the cue, or null when it cannot go there. `from` is its
 * place if a move is already on its way. The editor keeps pending cues after the ones
 * live or played: GO starts the first pending cue wherever it stands, so one above the
 * live cue would come next while looking played.
 */
export function moveTarget(order: readonly Cue[], id: string, delta: number, from?: number): number | null {
  const index = order.findIndex((c) => c.id === id);
  if (index < 0 || lockedParts(order[index]).place) return null;
  let floor = 0;
  order.forEach((c, i) => {
    if (c.state === 'live' || c.state === 'done') floor = i + 1;
  });
  const to = (from ?? index) + delta;
  if (to < floor || to > order.length - 1 || to === index) return null;
  return to;
}

/** A short description of an action, e.g. 'Open poll “Best talk?”'. */
export function describeAction(
  a: CueActionSpec,
  polls?: ReadonlyMap<string, Poll>,
  questions?: ReadonlyMap<string, Question>,
): string {
  const label = ACTION_TYPES.find((t) => t.type === a.type)?.label ?? a.type;
  switch (a.type) {
    case 'open_poll':
    case 'close_poll': {
      const p = polls?.get(a.poll_id);
      return `${label} “${p ? p.title : a.poll_id || '?'}”`;
    }
    case 'show_question': {
      const q = questions?.get(a.question_id);
      return `${label}: “${q ? q.text.slice(0, 60) : a.question_id || '?'}”`;
    }
    case 'show_checklist':
      return `${label}${a.title ? ` “${a.title}”` : ''} (${(a.items ?? []).filter((i) => i.trim()).length} items)`;
    default:
      return label;
  }
}

const FIELD_LABELS: Record<EditKey, string> = {
  title: 'Title',
  start: 'Planned start',
  minutes: 'Duration',
  owner_role: 'Owner',
  notes: 'Notes',
  actions: 'Actions',
  position: 'Place',
  state: 'State',
};

function shown(key: EditKey, value: unknown, polls?: ReadonlyMap<string, Poll>): string {
  switch (key) {
    case 'start':
      return value ? String(value).replace('T', ' ') : '—';
    case 'minutes':
      return `${value} min`;
    case 'owner_role':
      return OWNER_LABELS[value as OwnerRole] ?? String(value);
    case 'position':
      return `#${Number(value) + 1}`;
    case 'actions': {
      const list = value as CueActionSpec[];
      return list.length ? list.map((a) => describeAction(a, polls)).join('; ') : 'none';
    }
    default:
      return String(value ?? '') || '—';
  }
}

export interface ConflictRow {
  key: EditKey;
  label: string;
  mine: string;
  theirs: string;
}

/** After a 409: each field the user changed, with their value and the one saved now. */
export function conflictRows(mine: CueEdits, theirs: Cue, polls?: ReadonlyMap<string, Poll>): ConflictRow[] {
  return (Object.keys(mine) as EditKey[])
    .filter((key) => mine[key] !== undefined)
    .map((key) => ({
      key,
      label: FIELD_LABELS[key],
      mine: shown(key, mine[key], polls),
      theirs: shown(key, savedValue(theirs, key), polls),
    }));
}

/** A 409's `current`, if it is a cue. */
export function asCue(x: unknown): Cue | null {
  const c = x as Partial<Cue> | null | undefined;
  return c && typeof c === 'object' && typeof c.id === 'string' && typeof c.version === 'number' && typeof c.state === 'string'
    ? (c as Cue)
    : null;
}

/**
 * How the live sheet (cue deltas) differs from the editor's: cues someone else changed
 * since (newer versions), and whether cues came or went (then the editor re-reads the
 * sheet once per new `signature`: a cue deleted here may linger there until its delta).
 */
export function sheetDrift(
  known: ReadonlyMap<string, Cue>,
  live: ReadonlyMap<string, Cue>,
): { newer: Cue[]; idsDiffer: boolean; signature: string } {
  const newer: Cue[] = [];
  let idsDiffer = live.size !== known.size;
  for (const c of live.values()) {
    const k = known.get(c.id);
    if (!k) idsDiffer = true;
    else if ((c.version ?? 0) > (k.version ?? 0)) newer.push(c);
  }
  return { newer, idsDiffer, signature: [...live.keys()].sort().join(',') };
}

/** Which Content-Type the import route needs for a file, by its name; null: not a sheet. */
export function importContentType(name: string): 'application/yaml' | 'text/csv' | null {
  if (/\.csv$/i.test(name)) return 'text/csv';
  if (/\.ya?ml$/i.test(name)) return 'application/yaml';
  return null;
}

/** A 422 invalid_sheet's `details`, the lines that are well formed. */
export function sheetProblems(details: unknown): SheetProblem[] {
  if (!Array.isArray(details)) return [];
  return details
    .filter((d): d is SheetProblem => !!d && typeof d === 'object' && typeof (d as SheetProblem).problem === 'string')
    .map((d) => ({ line: Number(d.line) || 0, field: String(d.field ?? ''), problem: d.problem }));
}

/** Questions a cue may put on screen: approved and on deck first, then pending, by score. */
export function questionChoices(questions: Iterable<Question>, limit = 100): Question[] {
  const rank: Partial<Record<Question['state'], number>> = { on_deck: 0, approved: 1, pending: 2 };
  return [...questions]
    .filter((q) => rank[q.state] !== undefined)
    .sort((a, b) => rank[a.state]! - rank[b.state]! || (b.score ?? 0) - (a.score ?? 0))
    .slice(0, limit);
}
