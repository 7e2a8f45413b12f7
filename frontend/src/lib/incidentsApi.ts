// REST calls of the Ops view (docs/PROTOCOL.md "Incidents") and the active playbook.
// Writes carry an Idempotency-Key and, where the route takes one, the version we saw
// (409 version_conflict / transition_not_allowed with the incident as `current`).

import { request, write } from './api';
import type {
  DetectorSignal,
  EventMember,
  Incident,
  IncidentMetrics,
  IncidentOpen,
  IncidentState,
  IncidentStep,
  IncidentWithTimeline,
  Playbook,
  Severity,
  StepState,
} from './types';

const ev = (id: string) => `/api/events/${encodeURIComponent(id)}`;
const ipath = (eventId: string, iid: string) => `${ev(eventId)}/incidents/${encodeURIComponent(iid)}`;

type Seen = Pick<Incident, 'id' | 'version'>;

export const incidentsApi = {
  /** oldest first, each with its steps and current roles */
  list: async (eventId: string, state: 'open' | 'all' = 'open') =>
    (await request<Incident[]>('GET', `${ev(eventId)}/incidents?state=${state}`)) ?? [],
  /** the incident and its timeline */
  get: (eventId: string, iid: string) => request<IncidentWithTimeline>('GET', ipath(eventId, iid)),
  /** from a playbook entry (entry_slug) or by hand (title + category); 422 invalid_incident without either */
  open: (eventId: string, body: IncidentOpen) => write<Incident>('POST', `${ev(eventId)}/incidents`, body),
  transition: (eventId: string, it: Seen, to: IncidentState, reason?: string) =>
    write<Incident>('POST', `${ipath(eventId, it.id)}/transition`, {
      to,
      version: it.version,
      ...(reason ? { reason } : {}),
    }),
  setSeverity: (eventId: string, it: Seen, severity: Severity) =>
    write<Incident>('PATCH', ipath(eventId, it.id), { version: it.version, severity }),
  /** confirms the suggested entry, or corrects it to another */
  match: (eventId: string, it: Seen, entrySlug: string) =>
    write<Incident>('POST', `${ipath(eventId, it.id)}/match`, { version: it.version, entry_slug: entrySlug }),
  assignRole: (eventId: string, iid: string, role: string, userId: string) =>
    write<Incident>('POST', `${ipath(eventId, iid)}/roles`, { role, user_id: userId }),
  addNote: (eventId: string, iid: string, text: string) =>
    write<Incident>('POST', `${ipath(eventId, iid)}/notes`, { text }),
  /** an ad-hoc step */
  addStep: (eventId: string, iid: string, text: string, ownerRole?: string) =>
    write<Incident>('POST', `${ipath(eventId, iid)}/steps`, { text, ...(ownerRole ? { owner_role: ownerRole } : {}) }),
  /** skipping needs a reason; a stale step version is 409 with the step as `current` */
  updateStep: (eventId: string, iid: string, step: Pick<IncidentStep, 'id' | 'version'>, state: StepState, reason?: string) =>
    write<Incident>('PATCH', `${ipath(eventId, iid)}/steps/${encodeURIComponent(step.id)}`, {
      state,
      version: step.version,
      ...(reason ? { reason } : {}),
    }),
  metrics: (eventId: string) => request<IncidentMetrics>('GET', `${ev(eventId)}/incidents/metrics`),
  /** what detectors said that did not open an incident, newest first */
  signals: async (eventId: string, limit = 50) =>
    (await request<DetectorSignal[]>('GET', `${ev(eventId)}/signals?limit=${limit}`)) ?? [],
  /** the event's team (GET /api/events/{id}/members): who can be given a role on an incident */
  members: async (eventId: string) => (await request<EventMember[]>('GET', `${ev(eventId)}/members`)) ?? [],
  /** the active playbook with its entries */
  playbook: () => request<Playbook>('GET', '/api/playbook'),
};
