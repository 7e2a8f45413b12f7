// Preflight and drills (docs: app/drills/) as pure functions: the checklist's order and
// summary, the drill scenarios, their length and countdown, and who may run them.

import { mmss } from './host';
import type { CheckStatus, Drill, PreflightCheck } from './types';

/** The event roles that run preflight and drills (app/drills/router.py OPS_ROLES). */
export const OPS_ROLES: readonly string[] = ['admin', 'ops_lead'];

/** Admins everywhere, ops leads on their events; the server has the last word (403). */
export function canRunOps(userRole: string | null | undefined, eventRole: string | null | undefined): boolean {
  return userRole === 'admin' || (!!eventRole && OPS_ROLES.includes(eventRole));
}

/** Each status as a mark and a word: colour is never the only sign. */
export const CHECK_STATUS: Readonly<Record<CheckStatus, { icon: string; word: string }>> = {
  fail: { icon: '✗', word: 'fail' },
  warn: { icon: '!', word: 'warn' },
  pass: { icon: '✓', word: 'pass' },
  skip: { icon: '–', word: 'skip' },
};

/** Worst first: what needs fixing before the show is at the top. */
export const STATUS_ORDER: readonly CheckStatus[] = ['fail', 'warn', 'pass', 'skip'];

export function statusOf(status: string): { icon: string; word: string } {
  return CHECK_STATUS[status as CheckStatus] ?? { icon: '?', word: status || 'unknown' };
}

function statusRank(status: string): number {
  const i = STATUS_ORDER.indexOf(status as CheckStatus);
  return i < 0 ? 1 : i; // an unknown status sorts with the warnings: someone should look
}

/** The checks worst first, the server's order kept among equals. */
export function orderChecks(checks: readonly PreflightCheck[]): PreflightCheck[] {
  return checks
    .map((c, i) => ({ c, i }))
    .sort((a, b) => statusRank(a.c.status) - statusRank(b.c.status) || a.i - b.i)
    .map((x) => x.c);
}

export type CheckCounts = Record<CheckStatus, number> & { total: number };

export function countChecks(checks: readonly Pick<PreflightCheck, 'status'>[]): CheckCounts {
  const c: CheckCounts = { fail: 0, warn: 0, pass: 0, skip: 0, total: checks.length };
  for (const x of checks) {
    if (x.status in CHECK_STATUS) c[x.status]++;
    else c.warn++;
  }
  return c;
}

/** "1 fail · 2 warn · 5 pass · 1 skip" (statuses with none left out). */
export function summaryText(counts: CheckCounts): string {
  const parts = STATUS_ORDER.filter((s) => counts[s] > 0).map((s) => `${counts[s]} ${s}`);
  return parts.length > 0 ? parts.join(' · ') : 'no checks';
}

/** The overall banner: the server's `passed`, with the reason in words. */
export function bannerText(passed: boolean, counts: CheckCounts): { word: 'PASS' | 'FAIL'; why: string } {
  if (!passed) {
    const n = counts.fail;
    return { word: 'FAIL', why: n > 0 ? `${n} check${n === 1 ? '' : 's'} failed: fix ${n === 1 ? 'it' : 'them'} before going live` : 'the server reported a failure' };
  }
  const w = counts.warn;
  return { word: 'PASS', why: w > 0 ? `ready, with ${w} warning${w === 1 ? '' : 's'} to read` : 'ready to go live' };
}

// ---- drills ----------------------------------------------------------------------------

/** How long a drill stays on after its scenario ends (app/drills/service.py AFTER_S). */
export const DRILL_AFTER_S = 120;

export interface DrillScenarioInfo {
  id: 'stream_drop' | 'spam_raid';
  /** "stream-drop" */
  label: string;
  /** the scenario's length at 1× (app/connectors/scenarios/drill-*.yaml duration_s) */
  scenarioS: number;
  /** what the rehearsal source does, for the confirmation */
  what: string;
}

export const DRILL_SCENARIOS: readonly DrillScenarioInfo[] = [
  {
    id: 'stream_drop',
    label: 'stream-drop',
    scenarioS: 300,
    what: 'its viewers fall away as if the stream went down',
  },
  {
    id: 'spam_raid',
    label: 'spam-raid',
    scenarioS: 300,
    what: 'its chat floods with the same spam lines from a few accounts',
  },
];

export const DRILL_SPEEDS: readonly number[] = [1, 5, 20];

export function scenarioInfo(id: string): DrillScenarioInfo | null {
  return DRILL_SCENARIOS.find((s) => s.id === id) ?? null;
}

/** "spam raid" for spam_raid (and any other id the server may add). */
export function scenarioLabel(id: string): string {
  return scenarioInfo(id)?.label.replace('-', ' ') ?? id.replace(/_/g, ' ');
}

/** Seconds from start to the drill's end: the scenario at `speed`, then the time to finish. */
export function drillLengthS(scenario: DrillScenarioInfo, speed: number): number {
  return scenario.scenarioS / (speed > 0 ? speed : 1) + DRILL_AFTER_S;
}

/** What starting the drill does, said before it starts (one sentence a line). */
export function drillConfirmLines(scenario: DrillScenarioInfo, speed: number): string[] {
  const play = mmss(Math.round(scenario.scenarioS / (speed > 0 ? speed : 1)));
  return [
    `A rehearsal source ("Drill: ${scenarioLabel(scenario.id)}") joins this event on the real pipeline: ${scenario.what}.`,
    `It plays for ${play} at ${speed}×, then the drill stays on ${mmss(DRILL_AFTER_S)} more so the team can finish.`,
    'The detectors react as they would in the show; every incident opened while it runs (a real one too) is marked DRILL.',
    'Drill incidents are kept out of the response metrics and the report; their automatic notices go to the drill’s own chat, not the audience’s.',
  ];
}

/** Whole seconds until the drill ends at server time `nowMs` (0 once over; null if unknown). */
export function drillSecondsLeft(drill: Pick<Drill, 'until'> | null, nowMs: number): number | null {
  if (!drill) return null;
  const until = Date.parse(drill.until);
  if (!Number.isFinite(until)) return null;
  return Math.max(0, Math.ceil((until - nowMs) / 1000));
}

/** "ends in 2:15", or "ending…" once the time is up (the next refresh says it is over). */
export function drillCountdownText(drill: Pick<Drill, 'until'> | null, nowMs: number): string {
  const left = drillSecondsLeft(drill, nowMs);
  if (left === null) return '';
  return left > 0 ? `ends in ${mmss(left)}` : 'ending…';
}

/** How often the drill panel asks while a drill runs. */
export const DRILL_POLL_MS = 10_000;

// ---- incident roles ----------------------------------------------------------------------

/** Role names offered on an incident (any other name may be typed). */
export const INCIDENT_ROLE_NAMES: readonly string[] = ['lead', 'comms', 'platform', 'speaker liaison'];

/** The server's limit on a role name (app/incidents/schemas.py RoleIn). */
export const ROLE_NAME_MAX = 32;

/**
 * Why giving `role` to `userId` would not work or change nothing, or null when it is fine.
 * `roles` are the incident's current holders.
 */
export function assignProblem(
  roles: readonly { role: string; user_id: string; user_name: string }[],
  role: string,
  userId: string,
): string | null {
  const name = role.trim();
  if (!name) return 'Name the role (lead, comms, platform, speaker liaison, …).';
  if (name.length > ROLE_NAME_MAX) return `A role name is at most ${ROLE_NAME_MAX} characters.`;
  if (!userId) return 'Choose who takes it.';
  const held = roles.find((r) => r.role === name);
  if (held && held.user_id === userId) return `${held.user_name} is already ${name}.`;
  return null;
}
