// The triage queue's keyboard map: a pure function from a key event to an action.

import { STATES as TAB_STATES } from './triage';
import type { QuestionState } from './types';

export type TriageAction =
  | { kind: 'move'; delta: 1 | -1; extend: boolean }
  | { kind: 'edge'; to: 'first' | 'last'; extend: boolean }
  | { kind: 'transition'; to: QuestionState }
  | { kind: 'pin' }
  | { kind: 'claim' }
  | { kind: 'boost'; amount: 1 | -1 }
  | { kind: 'edit' }
  | { kind: 'tag' }
  | { kind: 'undo' }
  | { kind: 'merge' }
  | { kind: 'tab'; state: QuestionState | 'all' }
  | { kind: 'help' }
  | { kind: 'escape' };

/** The parts of a KeyboardEvent the map looks at. */
export interface KeyInput {
  key: string;
  shiftKey?: boolean;
  ctrlKey?: boolean;
  metaKey?: boolean;
  altKey?: boolean;
  repeat?: boolean;
}

/**
 * Where the focus is:
 * - text:  an input, textarea, select or contenteditable → the map stays out of the way
 * - other: another focusable widget (e.g. the chat feed) → letters work, arrows keep
 *          their native meaning there
 * - queue: the page body or the triage queue itself → everything works
 */
export type FocusWhere = 'text' | 'other' | 'queue';

export interface KeyContext {
  where: FocusWhere;
  /** the shortcut overlay is open: only ? and Esc act */
  overlayOpen?: boolean;
}

/** The state moves with a letter of their own; the toolbar's buttons are built from this too. */
export const TRANSITION_KEYS: readonly { key: string; to: QuestionState; label: string }[] = [
  { key: 'a', to: 'approved', label: 'Approve' },
  { key: 'r', to: 'rejected', label: 'Reject' },
  { key: 'd', to: 'on_deck', label: 'On deck' },
  { key: 's', to: 'answered', label: 'Served' },
  { key: 'x', to: 'archived', label: 'Archive' },
];
const LETTER_TRANSITIONS: Record<string, QuestionState> = Object.fromEntries(
  TRANSITION_KEYS.map((t) => [t.key, t.to]),
);

export function keyAction(e: KeyInput, ctx: KeyContext): TriageAction | null {
  if (ctx.where === 'text') return null;
  if (e.ctrlKey || e.metaKey || e.altKey) return null; // browser and OS shortcuts
  const key = e.key;
  const shift = !!e.shiftKey;

  if (key === 'Escape') return { kind: 'escape' };
  if (key === '?') return { kind: 'help' };
  if (ctx.overlayOpen) return null;

  // Navigation (auto-repeat allowed: hold j to run down the list)
  const arrowsOk = ctx.where === 'queue';
  if (key === 'ArrowDown' && arrowsOk) return { kind: 'move', delta: 1, extend: shift };
  if (key === 'ArrowUp' && arrowsOk) return { kind: 'move', delta: -1, extend: shift };
  if (key === 'Home' && arrowsOk) return { kind: 'edge', to: 'first', extend: shift };
  if (key === 'End' && arrowsOk) return { kind: 'edge', to: 'last', extend: shift };
  // Letters are matched case-insensitively (Caps Lock); Shift only means "extend" on j/k.
  const lower = key.length === 1 ? key.toLowerCase() : key;
  if (lower === 'j') return { kind: 'move', delta: 1, extend: shift };
  if (lower === 'k') return { kind: 'move', delta: -1, extend: shift };

  // Actions: never on auto-repeat (a held key must not approve ten questions)
  if (e.repeat) return null;
  if (key === '+' || key === '=') return { kind: 'boost', amount: 1 };
  if (key === '-' || key === '_') return { kind: 'boost', amount: -1 };
  if (shift || key.length !== 1) return null;
  // 1-6 pick a state tab (pending … archived), 0 shows every state.
  if (key >= '0' && key <= '6') return { kind: 'tab', state: key === '0' ? 'all' : TAB_STATES[Number(key) - 1] };
  const to = LETTER_TRANSITIONS[lower];
  if (to) return { kind: 'transition', to };
  switch (lower) {
    case 'p':
      return { kind: 'pin' };
    case 'c':
      return { kind: 'claim' };
    case 'e':
      return { kind: 'edit' };
    case 't':
      return { kind: 'tag' };
    case 'u':
      return { kind: 'undo' };
    case 'm':
      return { kind: 'merge' };
    default:
      return null;
  }
}

/** For the ? overlay: every shortcut, with a key event that triggers it (tested). */
export interface Shortcut {
  keys: string;
  what: string;
  example: KeyInput;
}

export const SHORTCUTS: readonly Shortcut[] = [
  { keys: 'j / ↓', what: 'next question', example: { key: 'j' } },
  { keys: 'k / ↑', what: 'previous question', example: { key: 'k' } },
  { keys: 'Shift + j/k, Shift + ↓/↑', what: 'extend the selection (bulk)', example: { key: 'J', shiftKey: true } },
  { keys: 'Home / End', what: 'first / last question', example: { key: 'Home' } },
  { keys: 'a', what: 'approve (selection: bulk)', example: { key: 'a' } },
  { keys: 'r', what: 'reject (selection: bulk)', example: { key: 'r' } },
  { keys: 'd', what: 'on deck', example: { key: 'd' } },
  { keys: 's', what: 'answered (served)', example: { key: 's' } },
  { keys: 'x', what: 'archive (selection: bulk)', example: { key: 'x' } },
  { keys: 'p', what: 'pin / unpin', example: { key: 'p' } },
  { keys: 'c', what: 'claim / release', example: { key: 'c' } },
  { keys: '+ / −', what: 'boost up / down', example: { key: '+', shiftKey: true } },
  { keys: 'e', what: 'edit the text (Enter saves, Esc cancels)', example: { key: 'e' } },
  { keys: 't', what: 'add a tag (“-tag” removes one)', example: { key: 't' } },
  { keys: 'm', what: 'merge into the suggested duplicate', example: { key: 'm' } },
  { keys: '1 … 6 / 0', what: 'show pending … archived / every state', example: { key: '0' } },
  { keys: 'u', what: 'undo your last action', example: { key: 'u' } },
  { keys: '?', what: 'show / hide this list', example: { key: '?', shiftKey: true } },
  { keys: 'Esc', what: 'close the overlay, then clear the selection', example: { key: 'Escape' } },
];
