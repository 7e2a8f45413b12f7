// REST calls of the run-of-show (docs/PROTOCOL.md "Run-of-show"). Writes carry an
// Idempotency-Key; GO names the cue we saw live (409 live_cue_changed when another
// host pressed it first, with `current: {live, server_time}`).

import { request, write } from './api';
import type { CueLive, CueSheet } from './types';

const ev = (id: string) => `/api/events/${encodeURIComponent(id)}`;

export const cuesApi = {
  sheet: (eventId: string) => request<CueSheet>('GET', `${ev(eventId)}/cues`),
  go: (eventId: string, expectedLive: string | null) =>
    write<CueLive>('POST', `${ev(eventId)}/cues/go`, { expected_live: expectedLive }),
};
