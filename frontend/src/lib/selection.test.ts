import { describe, expect, it } from 'vitest';
import {
  afterAction,
  clickSelection,
  edgeSelection,
  EMPTY_SELECTION,
  escapeSelection,
  moveSelection,
  selectedInList,
  single,
  type Selection,
} from './selection';

const L = ['a', 'b', 'c', 'd', 'e'];
const ids = (s: Selection) => [...s.ids].sort();

describe('moveSelection', () => {
  it('starts at the top (down) or bottom (up) when nothing is selected', () => {
    expect(moveSelection(EMPTY_SELECTION, L, 1).cursor).toBe('a');
    expect(moveSelection(EMPTY_SELECTION, L, -1).cursor).toBe('e');
  });

  it('also starts over when the cursor is no longer in the list', () => {
    expect(moveSelection(single('zz'), L, 1).cursor).toBe('a');
  });

  it('moves one step and clamps at the ends', () => {
    expect(moveSelection(single('b'), L, 1)).toEqual(single('c'));
    expect(moveSelection(single('b'), L, -1)).toEqual(single('a'));
    expect(moveSelection(single('a'), L, -1)).toEqual(single('a'));
    expect(moveSelection(single('e'), L, 1)).toEqual(single('e'));
  });

  it('extends a range from the anchor with Shift and shrinks it back', () => {
    let s = single('b');
    s = moveSelection(s, L, 1, true);
    s = moveSelection(s, L, 1, true);
    expect(s.cursor).toBe('d');
    expect(s.anchor).toBe('b');
    expect(ids(s)).toEqual(['b', 'c', 'd']);
    s = moveSelection(s, L, -1, true);
    expect(ids(s)).toEqual(['b', 'c']);
    s = moveSelection(s, L, -1, true);
    s = moveSelection(s, L, -1, true);
    expect(s.cursor).toBe('a');
    expect(ids(s)).toEqual(['a', 'b']);
    // a plain move collapses it
    expect(moveSelection(s, L, 1)).toEqual(single('b'));
  });

  it('leaves an empty list alone', () => {
    const s = single('a');
    expect(moveSelection(s, [], 1)).toBe(s);
  });
});

describe('edgeSelection', () => {
  it('jumps to the first/last, extending with Shift', () => {
    expect(edgeSelection(single('c'), L, 'first')).toEqual(single('a'));
    const s = edgeSelection(single('c'), L, 'last', true);
    expect(s.cursor).toBe('e');
    expect(ids(s)).toEqual(['c', 'd', 'e']);
  });
});

describe('clickSelection', () => {
  it('selects one, extends with Shift, toggles with Ctrl', () => {
    let s = clickSelection(EMPTY_SELECTION, L, 'b', 'single');
    expect(s).toEqual(single('b'));
    s = clickSelection(s, L, 'd', 'extend');
    expect(ids(s)).toEqual(['b', 'c', 'd']);
    s = clickSelection(s, L, 'c', 'toggle');
    expect(ids(s)).toEqual(['b', 'd']);
    s = clickSelection(s, L, 'e', 'toggle');
    expect(s.cursor).toBe('e');
    expect(ids(s)).toEqual(['b', 'd', 'e']);
    // removing the cursor moves it to another selected one
    s = clickSelection(s, L, 'e', 'toggle');
    expect(s.cursor).toBe('b');
    expect(ids(s)).toEqual(['b', 'd']);
  });
});

describe('selectedInList (bulk targets)', () => {
  it('keeps list order and drops ids not in the list', () => {
    const s: Selection = { cursor: 'd', anchor: 'd', ids: new Set(['d', 'zz', 'b']) };
    expect(selectedInList(s, L)).toEqual(['b', 'd']);
    expect(selectedInList(EMPTY_SELECTION, L)).toEqual([]);
  });
});

describe('afterAction', () => {
  it('moves to the next question after the one acted on', () => {
    expect(afterAction(single('b'), L, ['b'])).toEqual(single('c'));
  });

  it('moves past a whole bulk range', () => {
    const s = moveSelection(moveSelection(single('b'), L, 1, true), L, 1, true);
    expect(afterAction(s, L, ['b', 'c', 'd'])).toEqual(single('e'));
  });

  it('goes back to the closest one before when the last one was acted on', () => {
    expect(afterAction(single('e'), L, ['e'])).toEqual(single('d'));
    expect(afterAction(single('d'), L, ['d', 'e'])).toEqual(single('c'));
  });

  it('clears when nothing is left, and keeps the selection when nothing acted is listed', () => {
    expect(afterAction(single('a'), ['a'], ['a'])).toEqual(EMPTY_SELECTION);
    const s = single('c');
    expect(afterAction(s, L, ['zz'])).toBe(s);
  });
});

describe('escapeSelection', () => {
  it('collapses a multi-selection to its cursor, then clears', () => {
    const multi = moveSelection(single('a'), L, 1, true);
    const one = escapeSelection(multi);
    expect(one).toEqual(single('b'));
    expect(escapeSelection(one)).toEqual(EMPTY_SELECTION);
  });
});
