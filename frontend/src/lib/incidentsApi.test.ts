import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError } from './api';
import { incidentsApi } from './incidentsApi';
import { type FetchCall, fakeFetch, incident, incidentStep, json } from './test-utils';

let calls: FetchCall[] = [];
let answers: (() => Response)[] = [];

beforeEach(() => {
  ({ calls, answers } = fakeFetch({ parseJson: true }));
});

afterEach(() => {
  vi.unstubAllGlobals();
});

const INC = incident({ id: 'i 1', version: 4 });

describe('incident routes', () => {
  it('reads: list, one with its timeline, metrics, signals, the playbook', async () => {
    answers.push(
      json(200, [INC]),
      json(200, { ...INC, timeline: [] }),
      json(200, { response: {} }),
      json(200, []),
      json(200, { version: 2, name: 'Default', entries: [] }),
    );
    expect(await incidentsApi.list('ev1', 'all')).toHaveLength(1);
    expect((await incidentsApi.get('ev1', 'i 1')).timeline).toEqual([]);
    await incidentsApi.metrics('ev1');
    await incidentsApi.signals('ev1', 20);
    expect((await incidentsApi.playbook()).version).toBe(2);
    expect(calls.map((c) => [c.method, c.url])).toEqual([
      ['GET', '/api/events/ev1/incidents?state=all'],
      ['GET', '/api/events/ev1/incidents/i%201'],
      ['GET', '/api/events/ev1/incidents/metrics'],
      ['GET', '/api/events/ev1/signals?limit=20'],
      ['GET', '/api/playbook'],
    ]);
  });

  it('writes carry an Idempotency-Key and the version the console showed', async () => {
    for (let i = 0; i < 8; i++) answers.push(json(200, INC));
    await incidentsApi.open('ev1', { entry_slug: 'stream-down', note: 'black screen' });
    await incidentsApi.transition('ev1', INC, 'acknowledged');
    await incidentsApi.transition('ev1', INC, 'cancelled', 'false alarm');
    await incidentsApi.setSeverity('ev1', INC, 'sev1');
    await incidentsApi.match('ev1', INC, 'audio-loss');
    await incidentsApi.assignRole('ev1', 'i 1', 'lead', 'u1');
    await incidentsApi.addNote('ev1', 'i 1', 'rebooting the encoder');
    await incidentsApi.addStep('ev1', 'i 1', 'Call the venue', 'host');
    answers.push(json(200, INC));
    await incidentsApi.updateStep('ev1', 'i 1', incidentStep({ id: 's1', version: 2 }), 'skipped', 'not needed');
    const base = '/api/events/ev1/incidents';
    expect(calls.map((c) => [c.method, c.url, c.body])).toEqual([
      ['POST', base, { entry_slug: 'stream-down', note: 'black screen' }],
      ['POST', `${base}/i%201/transition`, { to: 'acknowledged', version: 4 }],
      ['POST', `${base}/i%201/transition`, { to: 'cancelled', version: 4, reason: 'false alarm' }],
      ['PATCH', `${base}/i%201`, { version: 4, severity: 'sev1' }],
      ['POST', `${base}/i%201/match`, { version: 4, entry_slug: 'audio-loss' }],
      ['POST', `${base}/i%201/roles`, { role: 'lead', user_id: 'u1' }],
      ['POST', `${base}/i%201/notes`, { text: 'rebooting the encoder' }],
      ['POST', `${base}/i%201/steps`, { text: 'Call the venue', owner_role: 'host' }],
      ['PATCH', `${base}/i%201/steps/s1`, { state: 'skipped', version: 2, reason: 'not needed' }],
    ]);
    const keys = calls.map((c) => c.headers['Idempotency-Key']);
    for (const k of keys) expect(k).toBeTruthy();
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('a stale version is a 409 with the incident as it is now', async () => {
    const theirs = incident({ id: 'i 1', version: 5, state: 'acknowledged' });
    answers.push(json(409, { error: { code: 'version_conflict', message: 'incident #1 changed', current: theirs } }));
    const e = await incidentsApi.transition('ev1', INC, 'resolved').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ApiError);
    expect((e as ApiError).status).toBe(409);
    expect((e as ApiError).code).toBe('version_conflict');
    expect((e as ApiError).currentRaw).toEqual(theirs);
  });
});
