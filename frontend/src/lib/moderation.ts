// Pure helpers for chat moderation in the console: who may moderate, what a source can
// do on its platform, and the words of the per-row status chip.

import type { ChatMessage, ModerationResult, PlatformActionRequest, PlatformActionType, Source } from './types';

/** Roles that may moderate (the server decides in the end: 403 otherwise). */
export const MODERATOR_ROLES: ReadonlySet<string> = new Set(['admin', 'ops_lead', 'moderator']);

/** A chat line as the server sent it (e.g. the `current` of a 409). */
export function isChatMessage(x: unknown): x is ChatMessage {
  const m = x as ChatMessage | null;
  return !!m && typeof m === 'object' && typeof m.id === 'string' && typeof m.text === 'string';
}

export function canModerate(role: string | null | undefined): boolean {
  return !!role && MODERATOR_ROLES.has(role);
}

/** Source id → its platform capabilities (EventDetail.sources[].capabilities). */
export function capabilityIndex(sources: readonly Source[]): Map<string, ReadonlySet<string>> {
  const out = new Map<string, ReadonlySet<string>>();
  for (const s of sources) out.set(s.id, new Set(Array.isArray(s.capabilities) ? s.capabilities : []));
  return out;
}

export interface PlatformAction {
  type: PlatformActionType;
  label: string;
  /** keyboard shortcut in the chat feed (a key of KeyboardEvent.key) */
  key: string;
  keyLabel: string;
  confirm: boolean;
  request: PlatformActionRequest;
}

export const TIMEOUT_S = 300;

export const PLATFORM_ACTIONS: readonly PlatformAction[] = [
  { type: 'delete', label: 'Delete', key: 'Delete', keyLabel: 'Del', confirm: false, request: { type: 'delete' } },
  { type: 'timeout', label: 'Timeout 5m', key: 't', keyLabel: 't', confirm: false, request: { type: 'timeout', duration_s: TIMEOUT_S } },
  { type: 'ban', label: 'Ban', key: 'b', keyLabel: 'b', confirm: true, request: { type: 'ban' } },
];

/** The platform actions a message's source supports (none when it says nothing). */
export function actionsFor(caps: ReadonlySet<string> | undefined): PlatformAction[] {
  if (!caps || caps.size === 0) return [];
  return PLATFORM_ACTIONS.filter((a) => caps.has(a.type));
}

export type ChipTone = 'pending' | 'done' | 'failed' | 'unsupported';

export interface StatusChip {
  text: string;
  tone: ChipTone;
  /** longer words for the tooltip */
  title: string;
}

const WORDS: Record<string, { pending: string; done: string; noun: string }> = {
  delete: { pending: 'deleting…', done: 'deleted', noun: 'delete' },
  timeout: { pending: 'timing out…', done: 'timed out', noun: 'timeout' },
  ban: { pending: 'banning…', done: 'banned', noun: 'ban' },
};

/** "5 min", "90 s", "2 h". */
export function duration(seconds: unknown): string {
  const s = typeof seconds === 'number' && Number.isFinite(seconds) ? seconds : NaN;
  if (!(s > 0)) return '';
  if (s % 3600 === 0) return `${s / 3600} h`;
  if (s % 60 === 0) return `${s / 60} min`;
  return `${s} s`;
}

/**
 * The chip for a message's latest platform action: "deleting…", "deleted on twitch",
 * "failed: unknown message", "not supported on zoom". `platform` is the message's.
 * Null when there is no action. The words are plain text (reasons may quote the audience).
 */
export function moderationChip(r: ModerationResult | null | undefined, platform: string): StatusChip | null {
  if (!r) return null;
  const on = platform || 'the platform';
  const w = WORDS[r.action] ?? { pending: `${r.action}…`, done: `${r.action} done`, noun: String(r.action) };
  const d = r.action === 'timeout' ? duration(r.params?.duration_s) : '';
  const what = d ? `${w.noun} (${d})` : w.noun;
  const reason = typeof r.reason === 'string' ? r.reason.trim() : '';
  switch (r.status) {
    case 'pending':
      return { tone: 'pending', text: w.pending, title: `${what} sent to ${on}; waiting for its answer` };
    case 'done':
      return { tone: 'done', text: `${w.done} on ${on}`, title: `${what} done on ${on}${reason ? `: ${reason}` : ''}` };
    case 'failed':
      return {
        tone: 'failed',
        text: `failed: ${reason || 'no reason given'}`,
        title: `${what} failed on ${on}: ${reason || 'no reason given'}`,
      };
    case 'not_supported':
      return { tone: 'unsupported', text: `not supported on ${on}`, title: reason || `${on} cannot ${w.noun}` };
    default:
      return { tone: 'pending', text: `${w.noun}: ${String(r.status)}`, title: `${what}: ${String(r.status)}` };
  }
}

/** A held message's reason for the hold queue ("held: matched term 'x'"). */
export function heldReason(reason: string | null | undefined): string {
  const r = (reason ?? '').trim();
  if (!r) return 'held for review';
  return /^held\b/i.test(r) ? r : `held: ${r}`;
}
