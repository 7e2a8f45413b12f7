// The moderation rules editor's form: to/from the server's RuleSet, light local
// checks, and 422 `details` lines ("banned_terms.0.term: ...") mapped to form fields.
//
// Fields the form does not show (e.g. the spam rule's weights, or keys a newer server
// adds) travel in `extra` and go back unchanged, so saving never resets them.

import type { RuleAction, RuleSet, RulesDoc } from './types';

export const RULE_ACTIONS: readonly RuleAction[] = ['hide', 'hold', 'flag'];

export interface TermRow {
  /** stable key for the list (not sent) */
  key: number;
  term: string;
  action: RuleAction;
  whole_word: boolean;
}

/** Numbers are null while their input is empty. */
export interface FloodForm {
  enabled: boolean;
  max_messages: number | null;
  per_seconds: number | null;
  max_repeats: number | null;
  repeat_window_s: number | null;
  action: RuleAction;
  extra: Record<string, unknown>;
}

export interface SpamForm {
  enabled: boolean;
  threshold: number | null;
  action: RuleAction;
  extra: Record<string, unknown>;
}

export interface RulesForm {
  version: number;
  terms: TermRow[];
  flood: FloodForm;
  spam: SpamForm;
  /** comma- or line-separated */
  exempt_roles: string;
  /** author ids, comma- or line-separated */
  trusted_authors: string;
  extra: Record<string, unknown>;
}

/** Used when a rule is switched on that was off (the server's defaults). */
export const FLOOD_DEFAULTS = { max_messages: 5, per_seconds: 10, max_repeats: 3, repeat_window_s: 60, action: 'hold' } as const;
export const SPAM_DEFAULTS = { threshold: 0.7, action: 'hold' } as const;

let termKey = 0;
export function newTermRow(term = '', action: RuleAction = 'hide', whole_word = true): TermRow {
  return { key: ++termKey, term, action, whole_word };
}

function isAction(a: unknown): a is RuleAction {
  return typeof a === 'string' && (RULE_ACTIONS as readonly string[]).includes(a);
}

function numOrNull(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function rest(obj: unknown, known: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!obj || typeof obj !== 'object') return out;
  for (const [k, v] of Object.entries(obj)) if (!known.includes(k)) out[k] = v;
  return out;
}

const FLOOD_KEYS = ['max_messages', 'per_seconds', 'max_repeats', 'repeat_window_s', 'action'] as const;
const SPAM_KEYS = ['threshold', 'action'] as const;
const TOP_KEYS = ['banned_terms', 'flood', 'spam', 'exempt_roles', 'trusted_authors'] as const;

/** Split a comma/newline list: trimmed, blanks dropped, order kept. */
export function splitList(text: string): string[] {
  return text
    .split(/[,\n]/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

export function formFromRules(doc: RulesDoc): RulesForm {
  const r = (doc?.rules ?? {}) as Partial<RuleSet>;
  const flood = r.flood && typeof r.flood === 'object' ? r.flood : null;
  const spam = r.spam && typeof r.spam === 'object' ? r.spam : null;
  return {
    version: typeof doc?.version === 'number' ? doc.version : 0,
    terms: (Array.isArray(r.banned_terms) ? r.banned_terms : []).map((t) =>
      newTermRow(String(t?.term ?? ''), isAction(t?.action) ? t.action : 'hide', t?.whole_word !== false),
    ),
    flood: {
      enabled: flood !== null,
      max_messages: flood ? numOrNull(flood.max_messages) : FLOOD_DEFAULTS.max_messages,
      per_seconds: flood ? numOrNull(flood.per_seconds) : FLOOD_DEFAULTS.per_seconds,
      max_repeats: flood ? numOrNull(flood.max_repeats) : FLOOD_DEFAULTS.max_repeats,
      repeat_window_s: flood ? numOrNull(flood.repeat_window_s) : FLOOD_DEFAULTS.repeat_window_s,
      action: flood && isAction(flood.action) ? flood.action : FLOOD_DEFAULTS.action,
      extra: rest(flood, FLOOD_KEYS),
    },
    spam: {
      enabled: spam !== null,
      threshold: spam ? numOrNull(spam.threshold) : SPAM_DEFAULTS.threshold,
      action: spam && isAction(spam.action) ? spam.action : SPAM_DEFAULTS.action,
      extra: rest(spam, SPAM_KEYS),
    },
    exempt_roles: (Array.isArray(r.exempt_roles) ? r.exempt_roles : []).join(', '),
    trusted_authors: (Array.isArray(r.trusted_authors) ? r.trusted_authors : []).join('\n'),
    extra: rest(r, TOP_KEYS),
  };
}

/**
 * The PUT body. Every term row is sent (a blank one gets the server's 422 next to it),
 * in order, so `banned_terms.N` in an error is row N. An empty number goes as null.
 */
export function rulesFromForm(form: RulesForm): RulesDoc {
  const f = form.flood;
  const s = form.spam;
  const rules: RuleSet = {
    ...(form.extra as object),
    banned_terms: form.terms.map((t) => ({ term: t.term.trim(), action: t.action, whole_word: t.whole_word })),
    flood: f.enabled
      ? {
          ...(f.extra as object),
          max_messages: numOrNull(f.max_messages) as number,
          per_seconds: numOrNull(f.per_seconds) as number,
          max_repeats: numOrNull(f.max_repeats) as number,
          repeat_window_s: numOrNull(f.repeat_window_s) as number,
          action: f.action,
        }
      : null,
    spam: s.enabled ? { ...(s.extra as object), threshold: numOrNull(s.threshold) as number, action: s.action } : null,
    exempt_roles: splitList(form.exempt_roles),
    trusted_authors: splitList(form.trusted_authors),
  };
  return { version: form.version, rules };
}

// ---- errors ---------------------------------------------------------------------------

/**
 * Field keys: "banned_terms.N.term" / ".action" / ".whole_word", "banned_terms.N" (the
 * row), "banned_terms" (the list), "flood.<field>", "flood", "spam.threshold",
 * "spam.action", "spam", "exempt_roles", "trusted_authors". What fits none is general.
 */
export interface FormErrors {
  fields: Record<string, string[]>;
  general: string[];
}

export const NO_ERRORS: FormErrors = Object.freeze({ fields: Object.freeze({}) as Record<string, string[]>, general: [] as string[] });

const FLOOD_FIELDS = new Set<string>(FLOOD_KEYS);
const SPAM_FIELDS = new Set<string>(SPAM_KEYS);
const TERM_FIELDS = new Set(['term', 'action', 'whole_word']);

/** Pydantic's "Value error, " and the like say nothing to a moderator. */
function cleanMessage(msg: string): string {
  return msg.replace(/^(Value error|Assertion failed), /i, '').trim();
}

/** One detail → [path, message]: "path: message" lines or {field, problem} / {loc, msg} objects. */
function splitDetail(d: unknown): [string, string] | null {
  if (typeof d === 'string') {
    const m = /^\s*([A-Za-z_][\w]*(?:\.[\w]+)*)\s*:\s*([\s\S]*)$/.exec(d);
    return m ? [m[1], m[2]] : ['', d];
  }
  if (d && typeof d === 'object') {
    const o = d as { field?: unknown; problem?: unknown; loc?: unknown; msg?: unknown; message?: unknown };
    const path = Array.isArray(o.loc) ? o.loc.map(String).join('.') : typeof o.field === 'string' ? o.field : '';
    const msg = [o.problem, o.msg, o.message].find((x) => typeof x === 'string') as string | undefined;
    return [path, msg ?? JSON.stringify(d)];
  }
  return null;
}

/** The form field a server path belongs to, or null (general). */
export function fieldForPath(path: string, message = ''): string | null {
  const parts = path.split('.').filter((p) => p !== '' && p !== 'body');
  if (parts[0] === 'rules') parts.shift();
  const [top, second, third] = parts;
  switch (top) {
    case 'banned_terms': {
      if (second !== undefined && /^\d+$/.test(second)) {
        if (third !== undefined && TERM_FIELDS.has(third)) return `banned_terms.${second}.${third}`;
        return `banned_terms.${second}`;
      }
      // A list-level error naming a row ("banned_terms.3 ('x') is the same term as …"): that row.
      const row = /banned_terms\.(\d+)/.exec(message);
      return row ? `banned_terms.${row[1]}` : 'banned_terms';
    }
    case 'flood':
      return second !== undefined && FLOOD_FIELDS.has(second) ? `flood.${second}` : 'flood';
    case 'spam':
      return second !== undefined && SPAM_FIELDS.has(second) ? `spam.${second}` : 'spam';
    case 'exempt_roles':
    case 'trusted_authors':
      return top;
    default:
      return null;
  }
}

/**
 * Map a 422's error.details to the form's fields. `sent` (the rules that were PUT) lets
 * a list item's message quote the item ("exempt_roles.2" → the third role).
 */
export function mapErrors(details: unknown, fallback?: string, sent?: RuleSet): FormErrors {
  const fields: Record<string, string[]> = {};
  const general: string[] = [];
  const list = Array.isArray(details) ? details : details === undefined || details === null ? [] : [details];
  for (const d of list) {
    const sp = splitDetail(d);
    if (!sp) continue;
    const [path, raw] = sp;
    const msg = cleanMessage(raw);
    const key = path ? fieldForPath(path, msg) : null;
    if (!key) {
      general.push(path ? `${path}: ${msg}` : msg);
      continue;
    }
    // Say the part of the path the field does not (e.g. "link_weight", the 3rd role).
    const parts = path.split('.').filter((p) => p !== '' && p !== 'body');
    if (parts[0] === 'rules') parts.shift();
    const remainder = parts.slice(key.split('.').length);
    let prefix = '';
    if (remainder.length > 0) {
      const idx = /^\d+$/.test(remainder[0]) ? Number(remainder[0]) : -1;
      if ((key === 'exempt_roles' || key === 'trusted_authors') && idx >= 0) {
        const item = sent?.[key]?.[idx];
        prefix = item !== undefined ? `“${item}”: ` : `#${idx + 1}: `;
      } else prefix = `${remainder.join('.')}: `;
    }
    (fields[key] ??= []).push(prefix + msg);
  }
  if (list.length === 0 && fallback) general.push(fallback);
  return { fields, general };
}

export function hasErrors(e: FormErrors): boolean {
  return e.general.length > 0 || Object.keys(e.fields).length > 0;
}

/** What the browser can tell before asking the server (the server has the last word). */
export function checkForm(form: RulesForm): FormErrors {
  const fields: Record<string, string[]> = {};
  const add = (k: string, m: string) => (fields[k] ??= []).push(m);
  form.terms.forEach((t, i) => {
    if (!t.term.trim()) add(`banned_terms.${i}.term`, 'give a word or phrase (or remove the row)');
  });
  const positive = (k: string, v: number | null) => {
    if (v === null || !Number.isFinite(v)) add(k, 'required');
    else if (v <= 0) add(k, 'must be more than 0');
  };
  if (form.flood.enabled) for (const k of ['max_messages', 'per_seconds', 'max_repeats', 'repeat_window_s'] as const) positive(`flood.${k}`, form.flood[k]);
  if (form.spam.enabled) {
    const t = form.spam.threshold;
    if (t === null || !Number.isFinite(t)) add('spam.threshold', 'required');
    else if (t <= 0 || t > 1) add('spam.threshold', 'between 0 (exclusive) and 1');
  }
  return { fields, general: [] };
}
