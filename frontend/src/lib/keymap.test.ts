import { describe, expect, it } from 'vitest';
import { keyAction, SHORTCUTS, type KeyContext, type KeyInput } from './keymap';

const Q: KeyContext = { where: 'queue' };
const k = (key: string, over: Partial<KeyInput> = {}, ctx: KeyContext = Q) => keyAction({ key, ...over }, ctx);

describe('keyAction', () => {
  it('moves with j/k and the arrows, extends with Shift', () => {
    expect(k('j')).toEqual({ kind: 'move', delta: 1, extend: false });
    expect(k('ArrowDown')).toEqual({ kind: 'move', delta: 1, extend: false });
    expect(k('k')).toEqual({ kind: 'move', delta: -1, extend: false });
    expect(k('ArrowUp')).toEqual({ kind: 'move', delta: -1, extend: false });
    expect(k('J', { shiftKey: true })).toEqual({ kind: 'move', delta: 1, extend: true });
    expect(k('K', { shiftKey: true })).toEqual({ kind: 'move', delta: -1, extend: true });
    expect(k('ArrowDown', { shiftKey: true })).toEqual({ kind: 'move', delta: 1, extend: true });
    expect(k('ArrowUp', { shiftKey: true })).toEqual({ kind: 'move', delta: -1, extend: true });
    expect(k('Home')).toEqual({ kind: 'edge', to: 'first', extend: false });
    expect(k('End', { shiftKey: true })).toEqual({ kind: 'edge', to: 'last', extend: true });
  });

  it('maps the state letters to transitions', () => {
    expect(k('a')).toEqual({ kind: 'transition', to: 'approved' });
    expect(k('r')).toEqual({ kind: 'transition', to: 'rejected' });
    expect(k('d')).toEqual({ kind: 'transition', to: 'on_deck' });
    expect(k('s')).toEqual({ kind: 'transition', to: 'answered' });
    expect(k('x')).toEqual({ kind: 'transition', to: 'archived' });
  });

  it('maps the other actions', () => {
    expect(k('p')).toEqual({ kind: 'pin' });
    expect(k('c')).toEqual({ kind: 'claim' });
    expect(k('+', { shiftKey: true })).toEqual({ kind: 'boost', amount: 1 });
    expect(k('=')).toEqual({ kind: 'boost', amount: 1 });
    expect(k('-')).toEqual({ kind: 'boost', amount: -1 });
    expect(k('e')).toEqual({ kind: 'edit' });
    expect(k('t')).toEqual({ kind: 'tag' });
    expect(k('u')).toEqual({ kind: 'undo' });
    expect(k('m')).toEqual({ kind: 'merge' });
    expect(k('0')).toEqual({ kind: 'tab', state: 'all' });
    expect(k('3')).toEqual({ kind: 'tab', state: 'on_deck' });
    expect(k('7')).toBeNull();
    expect(k('?', { shiftKey: true })).toEqual({ kind: 'help' });
    expect(k('Escape')).toEqual({ kind: 'escape' });
  });

  it('treats Caps Lock letters like lowercase, but Shift+letter is not an action', () => {
    expect(k('A')).toEqual({ kind: 'transition', to: 'approved' });
    expect(k('A', { shiftKey: true })).toBeNull();
    expect(k('X', { shiftKey: true })).toBeNull();
  });

  it('stays out of text inputs entirely', () => {
    const text: KeyContext = { where: 'text' };
    for (const key of ['j', 'a', 'ArrowDown', 'Escape', '?', 'u', '+']) expect(k(key, {}, text)).toBeNull();
  });

  it('leaves arrows to other focused widgets but keeps the letters', () => {
    const other: KeyContext = { where: 'other' };
    expect(k('ArrowDown', {}, other)).toBeNull();
    expect(k('Home', {}, other)).toBeNull();
    expect(k('j', {}, other)).toEqual({ kind: 'move', delta: 1, extend: false });
    expect(k('a', {}, other)).toEqual({ kind: 'transition', to: 'approved' });
  });

  it('ignores browser shortcuts (Ctrl/⌘/Alt)', () => {
    expect(k('a', { ctrlKey: true })).toBeNull();
    expect(k('r', { metaKey: true })).toBeNull();
    expect(k('j', { altKey: true })).toBeNull();
  });

  it('lets navigation auto-repeat but never an action', () => {
    expect(k('j', { repeat: true })).toEqual({ kind: 'move', delta: 1, extend: false });
    expect(k('a', { repeat: true })).toBeNull();
    expect(k('+', { repeat: true })).toBeNull();
  });

  it('only ? and Esc act while the overlay is open', () => {
    const ov: KeyContext = { where: 'queue', overlayOpen: true };
    expect(k('?', {}, ov)).toEqual({ kind: 'help' });
    expect(k('Escape', {}, ov)).toEqual({ kind: 'escape' });
    expect(k('a', {}, ov)).toBeNull();
    expect(k('j', {}, ov)).toBeNull();
  });

  it('returns null for unmapped keys', () => {
    for (const key of ['q', 'z', 'Enter', 'Tab', ' ', 'F5']) expect(k(key)).toBeNull();
  });

  it('every shortcut in the overlay does something, and they are all different', () => {
    const seen = new Set<string>();
    for (const s of SHORTCUTS) {
      const a = keyAction(s.example, Q);
      expect(a, s.keys).not.toBeNull();
      seen.add(JSON.stringify(a));
    }
    expect(seen.size).toBe(SHORTCUTS.length);
  });
});
