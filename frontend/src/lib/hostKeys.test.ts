import { describe, expect, it } from 'vitest';
import { isGoKey, typesText } from './hostKeys';

describe('g presses GO', () => {
  it('on g or G (Caps Lock) with no modifier, outside text fields', () => {
    expect(isGoKey({ key: 'g' }, false)).toBe(true);
    expect(isGoKey({ key: 'G' }, false)).toBe(true);
  });

  it('not in a text field, with a modifier, on auto-repeat or while composing', () => {
    expect(isGoKey({ key: 'g' }, true)).toBe(false);
    for (const mod of ['ctrlKey', 'metaKey', 'altKey', 'shiftKey'] as const) expect(isGoKey({ key: 'g', [mod]: true }, false)).toBe(false);
    expect(isGoKey({ key: 'g', repeat: true }, false)).toBe(false);
    expect(isGoKey({ key: 'g', isComposing: true }, false)).toBe(false);
    expect(isGoKey({ key: 'h' }, false)).toBe(false);
    expect(isGoKey({ key: 'Enter' }, false)).toBe(false);
  });

  it('knows where keys type text', () => {
    for (const tagName of ['INPUT', 'TEXTAREA', 'SELECT', 'input']) expect(typesText({ tagName })).toBe(true);
    expect(typesText({ tagName: 'DIV', isContentEditable: true })).toBe(true);
    expect(typesText({ tagName: 'BUTTON' })).toBe(false);
    expect(typesText({ tagName: 'SECTION' })).toBe(false);
    expect(typesText(null)).toBe(false);
  });
});
