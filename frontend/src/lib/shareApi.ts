// REST calls of the share panel (docs/PROTOCOL.md "Audience page" and "Overlays"), the
// types of their answers, and the small pure helpers the panel shows them with.

import { ApiError, errorText, request, write } from './api';

/** The event's audience page: `url` and `qr_url` are absolute, made by the server. */
export interface AudienceLink {
  code: string;
  url: string;
  qr_url: string;
  source_id: string;
  /** false: the audience source is paused, so the page and its QR code answer 404 */
  enabled: boolean;
}

/** An overlay token as listed: never the token, only the first characters of its secret. */
export interface OverlayToken {
  id: string;
  prefix: string;
  created_at: string;
  created_by: string;
}

export type OverlayKind = 'poll' | 'question' | 'segment';

/** Paths (`/overlay/poll?token=…`) or URLs, one per overlay page. */
export type OverlayUrls = Record<OverlayKind, string>;

/** The answer to a create: the only time the whole token (and its URLs) is shown. */
export interface OverlayTokenCreated extends OverlayToken {
  token: string;
  urls: OverlayUrls;
}

const ev = (id: string) => `/api/events/${encodeURIComponent(id)}`;

export const shareApi = {
  /** null before the page is made */
  audience: async (eventId: string) => (await request<AudienceLink | null>('GET', `${ev(eventId)}/audience`)) ?? null,
  /**
   * Made on the first call, the same link afterwards: a retry after a network error
   * cannot make a second page, so write()'s retries are safe here.
   */
  createAudience: (eventId: string) => write<AudienceLink>('POST', `${ev(eventId)}/audience`),
  /** Not retried: the old link is dead the moment one call gets through. */
  rotateAudience: (eventId: string) => request<AudienceLink>('POST', `${ev(eventId)}/audience/rotate`),
  overlays: async (eventId: string) => (await request<OverlayToken[]>('GET', `${ev(eventId)}/overlays`)) ?? [],
  /**
   * Not retried and without an Idempotency-Key: a retry would make a second token whose
   * secret nobody saw, and the server keeps no answer that would hold the secret.
   */
  createOverlay: (eventId: string) => request<OverlayTokenCreated>('POST', `${ev(eventId)}/overlays`),
  revokeOverlay: (eventId: string, tokenId: string) =>
    request<{ revoked: string }>('DELETE', `${ev(eventId)}/overlays/${encodeURIComponent(tokenId)}`),
};

/** The overlay pages in the order the panel lists them, with what each shows. */
export const OVERLAY_PAGES: readonly { kind: OverlayKind; label: string }[] = [
  { kind: 'poll', label: 'Poll results' },
  { kind: 'question', label: 'Question on screen' },
  { kind: 'segment', label: 'Segment lower-third' },
];

/**
 * An http(s) URL to put in an href, an img src or the clipboard: a path is resolved
 * against `origin` (overlay URLs are paths); anything else (javascript:, data:,
 * garbage) is null, so nothing the server sends can become a script link.
 */
export function shareUrl(value: unknown, origin: string): string | null {
  if (typeof value !== 'string' || value.trim() === '') return null;
  let url: URL;
  try {
    url = new URL(value, origin);
  } catch {
    return null;
  }
  return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
}

/** The words for a failed share call; a 403 says who may do it instead of the server's role list. */
export function shareErrorText(e: unknown): string {
  if (e instanceof ApiError && e.status === 403)
    return 'Only hosts, ops leads and admins of this event can share the audience page and make overlay links.';
  return errorText(e);
}

/** A 404 from a revoke: the token was already gone (someone else revoked it). */
export function isNotFound(e: unknown): boolean {
  return e instanceof ApiError && e.status === 404;
}

/** Newest first; unparsable times last. */
export function sortTokens(tokens: Iterable<OverlayToken>): OverlayToken[] {
  const t = (x: OverlayToken) => {
    const ms = Date.parse(x.created_at);
    return Number.isFinite(ms) ? ms : -Infinity;
  };
  return [...tokens].sort((a, b) => t(b) - t(a) || a.id.localeCompare(b.id));
}

/** "14:03" today, "2030-01-05 14:03" on another day (local time); "–" when unparsable. */
export function tokenWhen(iso: string, now: number = Date.now()): string {
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms)) return '–';
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  const time = `${p(d.getHours())}:${p(d.getMinutes())}`;
  const today = new Date(now);
  const sameDay =
    d.getFullYear() === today.getFullYear() && d.getMonth() === today.getMonth() && d.getDate() === today.getDate();
  return sameDay ? time : `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${time}`;
}
