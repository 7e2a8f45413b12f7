// REST calls of the run-of-show (docs/PROTOCOL.md "Run-of-show"). Writes carry an
// Idempotency-Key; GO names the cue we saw live (409 live_cue_changed when another
// host pressed it first, with `current: {live, server_time}`). Every sheet write
// answers with the whole sheet; a stale `version` is 409 version_conflict with `current`.

import { ApiError, newIdempotencyKey, request, write } from './api';
import type { ApiErrorBody, Cue, CueCreate, CueLive, CuePatch, CueSheet } from './types';

const ev = (id: string) => `/api/events/${encodeURIComponent(id)}`;
const cpath = (eventId: string, cueId: string) => `${ev(eventId)}/cues/${encodeURIComponent(cueId)}`;

export type SheetFormat = 'yaml' | 'csv';
/** What the import route reads, by Content-Type. */
export type SheetType = 'application/yaml' | 'text/csv';

/** The export route: a plain link downloads it (the session cookie goes along). */
export function exportUrl(eventId: string, format: SheetFormat): string {
  return `${ev(eventId)}/cues/export?format=${format}`;
}

/**
 * POST a sheet file as it is (not JSON-encoded), with an Idempotency-Key; errors come
 * back as ApiError like every other call (422 invalid_sheet names the line in `details`).
 */
async function postSheet(eventId: string, text: string, type: SheetType): Promise<CueSheet> {
  let res: Response;
  try {
    res = await fetch(`${ev(eventId)}/cues/import`, {
      method: 'POST',
      credentials: 'include',
      headers: { Accept: 'application/json', 'Content-Type': type, 'Idempotency-Key': newIdempotencyKey() },
      body: text,
    });
  } catch {
    throw new ApiError(0, 'network_error', 'Cannot reach the server. Check your connection and try again.');
  }
  let data: unknown = null;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  if (!res.ok) {
    const err = (data as ApiErrorBody | null)?.error;
    throw new ApiError(
      res.status,
      err?.code ?? `http_${res.status}`,
      err?.message ?? `Import failed (${res.status} ${res.statusText}).`,
      err?.details,
      err?.current,
    );
  }
  return data as CueSheet;
}

export const cuesApi = {
  sheet: (eventId: string) => request<CueSheet>('GET', `${ev(eventId)}/cues`),
  go: (eventId: string, expectedLive: string | null) =>
    write<CueLive>('POST', `${ev(eventId)}/cues/go`, { expected_live: expectedLive }),
  /** appends the cue, or inserts it at `position` */
  create: (eventId: string, body: CueCreate) => write<CueSheet>('POST', `${ev(eventId)}/cues`, body),
  /** edits, moves (`position`) or skips a cue, at the version we saw */
  patch: (eventId: string, cueId: string, body: CuePatch) => write<CueSheet>('PATCH', cpath(eventId, cueId), body),
  /** pending or skipped cues only (409 cue_locked otherwise) */
  remove: (eventId: string, cue: Pick<Cue, 'id' | 'version'>) =>
    write<CueSheet>('DELETE', `${cpath(eventId, cue.id)}?version=${encodeURIComponent(String(cue.version))}`),
  /** replaces the pending cues with the file's; nothing changes on a 422 */
  importSheet: postSheet,
  exportUrl,
};
