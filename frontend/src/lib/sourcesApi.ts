// REST calls of the sources panel (docs/PROTOCOL.md "Sources"). Writes carry an
// Idempotency-Key and the version last seen; a stale one is 409 with `current`.

import { ApiError, request, write } from './api';
import type { DeadLetter, SourceCreate, SourcePatch, SourceView } from './sources';
import type { ApiErrorBody } from './types';

const ev = (id: string) => `/api/events/${encodeURIComponent(id)}`;
const spath = (eventId: string, sid: string) => `${ev(eventId)}/sources/${encodeURIComponent(sid)}`;

export const sourcesApi = {
  list: async (eventId: string) => (await request<SourceView[]>('GET', `${ev(eventId)}/sources`)) ?? [],
  create: (eventId: string, body: SourceCreate) => write<SourceView>('POST', `${ev(eventId)}/sources`, body),
  edit: (eventId: string, s: Pick<SourceView, 'id' | 'version'>, patch: SourcePatch) =>
    write<SourceView>('PATCH', spath(eventId, s.id), { ...patch, version: s.version }),
  pause: (eventId: string, s: Pick<SourceView, 'id' | 'version'>) =>
    write<SourceView>('POST', `${spath(eventId, s.id)}/pause`, { version: s.version }),
  resume: (eventId: string, s: Pick<SourceView, 'id' | 'version'>) =>
    write<SourceView>('POST', `${spath(eventId, s.id)}/resume`, { version: s.version }),

  /** Newest first, and the total from X-Total-Count (of that source, when filtered). */
  deadLetters: async (
    eventId: string,
    opts: { limit?: number; sourceId?: string | null } = {},
  ): Promise<{ letters: DeadLetter[]; total: number }> => {
    const params = new URLSearchParams({ limit: String(opts.limit ?? 100) });
    if (opts.sourceId) params.set('source_id', opts.sourceId);
    let res: Response;
    try {
      res = await fetch(`${ev(eventId)}/dead-letters?${params}`, {
        credentials: 'include',
        headers: { Accept: 'application/json' },
      });
    } catch {
      throw new ApiError(0, 'network_error', 'Cannot reach the server. Check your connection and try again.');
    }
    const data: unknown = await res.json().catch(() => null);
    if (!res.ok) {
      const err = (data as ApiErrorBody | null)?.error;
      throw new ApiError(res.status, err?.code ?? `http_${res.status}`, err?.message ?? `Request failed (${res.status}).`);
    }
    const letters = Array.isArray(data) ? (data as DeadLetter[]) : [];
    const total = Number(res.headers.get('X-Total-Count'));
    return { letters, total: Number.isFinite(total) ? total : letters.length };
  },
};
