// Small display helpers shared by the components.

/** HH:MM:SS in local time; "--:--:--" for unparsable input. */
export function hms(iso: string): string {
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return '--:--:--';
  const d = new Date(t);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** Integers as-is, other numbers with one decimal. */
export function num(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '–';
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}

/** "3 s ago", "4 min ago", "2 h ago". */
export function ago(ms: number): string {
  if (!Number.isFinite(ms)) return '–';
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s} s ago`;
  const m = Math.round(s / 60);
  if (m < 120) return `${m} min ago`;
  return `${Math.round(m / 60)} h ago`;
}

const PLATFORM_COLORS: Record<string, string> = {
  twitch: '#9146ff',
  youtube: '#ff3b30',
  zoom: '#2d8cff',
  owncast: '#7c6cf0',
  webhook: '#14b8a6',
  simulator: '#8b95a5',
};

/** Stable color per platform (known ones fixed, others hashed to a hue). */
export function platformColor(platform: string): string {
  const key = (platform || '').toLowerCase();
  const known = PLATFORM_COLORS[key];
  if (known) return known;
  let h = 0;
  for (let i = 0; i < key.length; i++) h = (h * 31 + key.charCodeAt(i)) >>> 0;
  return `hsl(${h % 360} 65% 55%)`;
}

export interface SparkPoint {
  t: number;
  v: number;
}

/** SVG polyline "x,y x,y …" for points scaled into width×height (t on x, v on y). */
export function sparkPath(points: SparkPoint[], width: number, height: number, pad = 2): string {
  const pts = points.filter((p) => Number.isFinite(p.t) && Number.isFinite(p.v));
  if (pts.length === 0) return '';
  let tMin = pts[0].t;
  let tMax = pts[pts.length - 1].t;
  let vMin = Infinity;
  let vMax = -Infinity;
  for (const p of pts) {
    if (p.v < vMin) vMin = p.v;
    if (p.v > vMax) vMax = p.v;
    if (p.t < tMin) tMin = p.t;
    if (p.t > tMax) tMax = p.t;
  }
  const w = width - 2 * pad;
  const h = height - 2 * pad;
  const x = (t: number) => (tMax === tMin ? pad + w : pad + ((t - tMin) / (tMax - tMin)) * w);
  const y = (v: number) => (vMax === vMin ? pad + h / 2 : pad + h - ((v - vMin) / (vMax - vMin)) * h);
  const out: string[] = [];
  if (pts.length === 1) out.push(`${pad.toFixed(1)},${y(pts[0].v).toFixed(1)}`);
  for (const p of pts) out.push(`${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`);
  return out.join(' ');
}
