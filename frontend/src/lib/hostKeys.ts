// The host view's keyboard: "g" presses GO, as the button does.

import type { KeyInput } from './keymap';

/** Where keys type text: an input, textarea, select or contenteditable element. */
export function typesText(el: { tagName?: string; isContentEditable?: boolean } | null | undefined): boolean {
  if (!el) return false;
  if (el.isContentEditable) return true;
  const tag = (el.tagName ?? '').toUpperCase();
  return tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT';
}

/**
 * "g" (Caps Lock too) with no modifier held, outside text fields, not auto-repeated:
 * holding the key must not run through the sheet.
 */
export function isGoKey(e: KeyInput & { isComposing?: boolean }, inTextField: boolean): boolean {
  if (inTextField || e.isComposing || e.repeat) return false;
  if (e.ctrlKey || e.metaKey || e.altKey || e.shiftKey) return false;
  return e.key === 'g' || e.key === 'G';
}
