import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError } from './api';
import { incidentsApi } from './incidentsApi';
import { readinessApi } from './readinessApi';
import { type FetchCall, fakeFetch, json } from './test-utils';
import type { Drill, PreflightResult } from './types';

let calls: FetchCall[] = [];
let answers: (() => Response)[] = [];

beforeEach(() => {
  ({ calls, answers } = fakeFetch({ parseJson: true }));
});

afterEach(() => {
  vi.unstubAllGlobals();
});

const DRILL: Drill = {
  scenario: 'spam_raid',
  source_id: 'src1',
  started_at: '2030-01-01T10:00:00+00:00',
  until: '2030-01-01T10:02:15+00:00',
  by: 'lead',
};

const RESULT: PreflightResult = {
  passed: false,
  at: '2030-01-01T10:00:00Z',
  checks: [{ name: 'source', target: 'twitch', status: 'fail', detail: 'no health report: is a worker running it?' }],
};

describe('preflight and drill routes', () => {
  it('preflight posts whether to send test messages, with an Idempotency-Key', async () => {
    answers.push(json(200, RESULT), json(200, { ...RESULT, passed: true }));
    expect(await readinessApi.preflight('ev 1', false)).toEqual(RESULT);
    expect((await readinessApi.preflight('ev 1', true)).passed).toBe(true);
    expect(calls.map((c) => [c.method, c.url, c.body])).toEqual([
      ['POST', '/api/events/ev%201/preflight', { send_test_messages: false }],
      ['POST', '/api/events/ev%201/preflight', { send_test_messages: true }],
    ]);
    const keys = calls.map((c) => c.headers['Idempotency-Key']);
    expect(keys.every(Boolean)).toBe(true);
    expect(keys[0]).not.toBe(keys[1]);
  });

  it('a 403 carries the server’s words', async () => {
    answers.push(json(403, { error: { code: 'forbidden', message: 'this needs one of the roles: admin, ops_lead' } }));
    const e = await readinessApi.preflight('ev1', false).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ApiError);
    expect((e as ApiError).status).toBe(403);
    expect((e as ApiError).message).toBe('this needs one of the roles: admin, ops_lead');
  });

  it('reads the running drill, or null when none runs', async () => {
    answers.push(json(200, DRILL), json(200, null));
    expect(await readinessApi.drill('ev1')).toEqual(DRILL);
    expect(await readinessApi.drill('ev1')).toBeNull();
    expect(calls.map((c) => [c.method, c.url])).toEqual([
      ['GET', '/api/events/ev1/drills'],
      ['GET', '/api/events/ev1/drills'],
    ]);
  });

  it('starts a drill with its scenario and speed, and stops it', async () => {
    answers.push(json(200, DRILL), json(200, { stopped: DRILL }), json(200, { stopped: null }));
    expect(await readinessApi.startDrill('ev1', 'spam_raid', 20)).toEqual(DRILL);
    expect(await readinessApi.stopDrill('ev1')).toEqual(DRILL);
    expect(await readinessApi.stopDrill('ev1')).toBeNull();
    expect(calls.map((c) => [c.method, c.url, c.body])).toEqual([
      ['POST', '/api/events/ev1/drills', { scenario: 'spam_raid', speed: 20 }],
      ['DELETE', '/api/events/ev1/drills', undefined],
      ['DELETE', '/api/events/ev1/drills', undefined],
    ]);
    for (const c of calls) expect(c.headers['Idempotency-Key']).toBeTruthy();
  });

  it('a second drill is a 409 with the running one as `current`', async () => {
    answers.push(json(409, { error: { code: 'drill_running', message: 'a spam_raid drill is running', current: DRILL } }));
    const e = await readinessApi.startDrill('ev1', 'stream_drop', 1).catch((x: unknown) => x);
    expect((e as ApiError).status).toBe(409);
    expect((e as ApiError).code).toBe('drill_running');
    expect((e as ApiError).currentRaw).toEqual(DRILL);
  });

  it('reads the event’s team for role assignment', async () => {
    const team = [{ user_id: 'u1', name: 'Lee', role: 'ops_lead' }];
    answers.push(json(200, team));
    expect(await incidentsApi.members('ev 1')).toEqual(team);
    expect(calls.map((c) => [c.method, c.url])).toEqual([['GET', '/api/events/ev%201/members']]);
  });
});
