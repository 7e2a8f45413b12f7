// REST calls of the poll controls (docs/PROTOCOL.md "Polls"). Writes carry an
// Idempotency-Key and the version last seen; each answers with the poll and its results.

import { request, write } from './api';
import type { Poll, PollEdit, PollKind } from './types';

const ev = (id: string) => `/api/events/${encodeURIComponent(id)}`;
const ppath = (eventId: string, pid: string) => `${ev(eventId)}/polls/${encodeURIComponent(pid)}`;

export interface PollCreate {
  title: string;
  kind: PollKind;
  options: string[];
  duration_s?: number | null;
  cue_id?: string | null;
}

export const pollsApi = {
  list: async (eventId: string) => (await request<Poll[]>('GET', `${ev(eventId)}/polls`)) ?? [],
  get: (eventId: string, pollId: string) => request<Poll>('GET', ppath(eventId, pollId)),
  create: (eventId: string, body: PollCreate) => write<Poll>('POST', `${ev(eventId)}/polls`, body),
  /** drafts only (409 poll_state); a stale version is 409 version_conflict with `current` */
  edit: (eventId: string, pollId: string, body: PollEdit) => write<Poll>('PATCH', ppath(eventId, pollId), body),
  /** a draft only; 409 poll_in_use while a cue still to come opens or closes it */
  remove: (eventId: string, p: Pick<Poll, 'id' | 'version'>) =>
    write<{ id: string; deleted: boolean }>('DELETE', `${ppath(eventId, p.id)}?version=${p.version}`),
  launch: (eventId: string, p: Pick<Poll, 'id' | 'version'>) =>
    write<Poll>('POST', `${ppath(eventId, p.id)}/launch`, { version: p.version }),
  close: (eventId: string, p: Pick<Poll, 'id' | 'version'>) =>
    write<Poll>('POST', `${ppath(eventId, p.id)}/close`, { version: p.version }),
};
