// Window math for fixed-row-height virtual lists.

export interface Range {
  /** first index to render (inclusive) */
  start: number;
  /** last index to render (exclusive) */
  end: number;
}

/**
 * Rows intersecting [scrollTop, scrollTop + viewportHeight), widened by `overscan`
 * rows on each side and clamped to [0, count).
 */
export function visibleRange(
  scrollTop: number,
  viewportHeight: number,
  rowHeight: number,
  count: number,
  overscan = 0,
): Range {
  if (!(count > 0) || !(rowHeight > 0)) return { start: 0, end: 0 };
  const top = Math.max(0, scrollTop || 0);
  const height = Math.max(0, viewportHeight || 0);
  const os = Math.max(0, Math.floor(overscan || 0));
  const first = Math.floor(top / rowHeight);
  const last = Math.ceil((top + height) / rowHeight); // exclusive
  const end = Math.min(count, last + os);
  const start = Math.min(Math.max(0, first - os), end);
  return { start, end };
}

/** Is the viewport scrolled to (within `slack` px of) the bottom? */
export function isAtBottom(
  scrollTop: number,
  viewportHeight: number,
  contentHeight: number,
  slack = 4,
): boolean {
  return scrollTop + viewportHeight >= contentHeight - slack;
}
