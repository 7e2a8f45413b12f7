// Keyboard/mouse selection over the triage list (pure: list = ids in display order).
//
// cursor: the question actions apply to (highlighted, scrolled into view)
// anchor: where a Shift-extension started
// ids:    the selected questions (always holds the cursor; >1 means a bulk selection)

export interface Selection {
  cursor: string | null;
  anchor: string | null;
  ids: ReadonlySet<string>;
}

export const EMPTY_SELECTION: Selection = Object.freeze({ cursor: null, anchor: null, ids: new Set<string>() });

export function single(id: string | null): Selection {
  return id === null ? EMPTY_SELECTION : { cursor: id, anchor: id, ids: new Set([id]) };
}

/** ids between a and b (inclusive, either order) in list order. */
function range(list: readonly string[], a: number, b: number): Set<string> {
  const lo = Math.min(a, b);
  const hi = Math.max(a, b);
  return new Set(list.slice(lo, hi + 1));
}

function extendToIndex(sel: Selection, list: readonly string[], target: number): Selection {
  const cur = sel.cursor === null ? -1 : list.indexOf(sel.cursor);
  let anchor = sel.anchor === null ? -1 : list.indexOf(sel.anchor);
  if (anchor < 0) anchor = cur >= 0 ? cur : target;
  return { cursor: list[target], anchor: list[anchor], ids: range(list, anchor, target) };
}

/** j/k (delta ±1), with Shift (extend) growing or shrinking a range from the anchor. */
export function moveSelection(
  sel: Selection,
  list: readonly string[],
  delta: 1 | -1,
  extend = false,
): Selection {
  if (list.length === 0) return sel;
  const idx = sel.cursor === null ? -1 : list.indexOf(sel.cursor);
  if (idx < 0) return single(list[delta > 0 ? 0 : list.length - 1]); // nothing (visible) selected yet
  const target = Math.min(list.length - 1, Math.max(0, idx + delta));
  return extend ? extendToIndex(sel, list, target) : single(list[target]);
}

/** Home/End. */
export function edgeSelection(
  sel: Selection,
  list: readonly string[],
  to: 'first' | 'last',
  extend = false,
): Selection {
  if (list.length === 0) return sel;
  const target = to === 'first' ? 0 : list.length - 1;
  const idx = sel.cursor === null ? -1 : list.indexOf(sel.cursor);
  return extend && idx >= 0 ? extendToIndex(sel, list, target) : single(list[target]);
}

/** A click: plain selects one, Shift extends from the anchor, Ctrl/⌘ toggles one. */
export function clickSelection(
  sel: Selection,
  list: readonly string[],
  id: string,
  mode: 'single' | 'extend' | 'toggle',
): Selection {
  const target = list.indexOf(id);
  if (target < 0) return sel;
  if (mode === 'extend' && sel.cursor !== null) return extendToIndex(sel, list, target);
  if (mode === 'toggle' && sel.cursor !== null) {
    const ids = new Set(sel.ids);
    if (ids.has(id) && ids.size > 1) {
      ids.delete(id);
      const cursor = id === sel.cursor ? list.find((x) => ids.has(x)) ?? null : sel.cursor;
      return { cursor, anchor: cursor, ids };
    }
    ids.add(id);
    return { cursor: id, anchor: id, ids };
  }
  return single(id);
}

/** The selected questions that are in the list (what a bulk action acts on), in list order. */
export function selectedInList(sel: Selection, list: readonly string[]): string[] {
  if (sel.ids.size === 0) return [];
  return list.filter((id) => sel.ids.has(id));
}

/**
 * After acting on `acted`: select the next question in the list that was not acted
 * on (after the last acted one), else the closest one before, else nothing.
 */
export function afterAction(sel: Selection, list: readonly string[], acted: readonly string[]): Selection {
  const done = new Set(acted);
  let last = -1;
  for (let i = 0; i < list.length; i++) if (done.has(list[i])) last = i;
  if (last < 0) return sel;
  for (let i = last + 1; i < list.length; i++) if (!done.has(list[i])) return single(list[i]);
  for (let i = last - 1; i >= 0; i--) if (!done.has(list[i])) return single(list[i]);
  return EMPTY_SELECTION;
}

/** Esc: a multi-selection collapses to its cursor, a single one clears. */
export function escapeSelection(sel: Selection): Selection {
  if (sel.ids.size > 1 && sel.cursor !== null) return single(sel.cursor);
  return EMPTY_SELECTION;
}
