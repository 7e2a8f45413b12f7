// REST calls of preflight and drills (app/drills/router.py). Reads are open to the team;
// the writes need an ops lead or an admin (403 with the server's words otherwise) and
// carry an Idempotency-Key.

import { request, write } from './api';
import type { Drill, DrillScenario, PreflightResult } from './types';

const ev = (id: string) => `/api/events/${encodeURIComponent(id)}`;

export const readinessApi = {
  /** the checklist; with test messages it posts a line in each chat that allows it (up to ~15 s) */
  preflight: (eventId: string, sendTestMessages: boolean) =>
    write<PreflightResult>('POST', `${ev(eventId)}/preflight`, { send_test_messages: sendTestMessages }),
  /** the drill running now, or null */
  drill: async (eventId: string) => (await request<Drill | null>('GET', `${ev(eventId)}/drills`)) ?? null,
  /** 409 drill_running (with the running one as `current`) when one is on; 422 invalid_drill */
  startDrill: (eventId: string, scenario: DrillScenario, speed: number) =>
    write<Drill>('POST', `${ev(eventId)}/drills`, { scenario, speed }),
  /** the drill that was running (null: none was) */
  stopDrill: async (eventId: string) =>
    (await write<{ stopped: Drill | null }>('DELETE', `${ev(eventId)}/drills`))?.stopped ?? null,
};
