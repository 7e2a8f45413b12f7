import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError } from './api';
import { cuesApi } from './cuesApi';
import { pollsApi } from './pollsApi';
import { type FetchCall, cue, fakeFetch, json, poll } from './test-utils';

let calls: FetchCall[] = [];
let answers: (() => Response)[] = [];

beforeEach(() => {
  ({ calls, answers } = fakeFetch());
});

afterEach(() => {
  vi.unstubAllGlobals();
});

const SHEET = { server_time: '2030-01-01T10:00:00Z', sheet_version: 2, live_cue_id: null, cues: [cue()] };

describe('cue sheet writes', () => {
  it('create, patch and delete carry a key, the version, and answer the sheet', async () => {
    answers.push(json(200, SHEET), json(200, SHEET), json(200, SHEET));
    await cuesApi.create('ev1', { title: 'Intro', planned_duration_s: 300, owner_role: 'host' });
    await cuesApi.patch('ev1', 'c1', { version: 3, position: 0 });
    const after = await cuesApi.remove('ev1', { id: 'c1', version: 4 });
    expect(after.cues).toHaveLength(1);
    expect(calls.map((c) => [c.method, c.url])).toEqual([
      ['POST', '/api/events/ev1/cues'],
      ['PATCH', '/api/events/ev1/cues/c1'],
      ['DELETE', '/api/events/ev1/cues/c1?version=4'],
    ]);
    expect(JSON.parse(calls[1].body as string)).toEqual({ version: 3, position: 0 });
    expect(calls[2].body).toBeUndefined();
    for (const c of calls) expect(c.headers['Idempotency-Key']).toBeTruthy();
  });

  it('a stale version is a 409 with the cue as it is now', async () => {
    const theirs = cue({ title: 'Theirs', version: 5 });
    answers.push(json(409, { error: { code: 'version_conflict', message: 'cue changed', current: theirs } }));
    const e = await cuesApi.patch('ev1', 'c1', { version: 3, title: 'Mine' }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ApiError);
    expect((e as ApiError).code).toBe('version_conflict');
    expect((e as ApiError).currentRaw).toEqual(theirs);
  });
});

describe('import and export', () => {
  it('posts the file as it is, with its Content-Type and a key', async () => {
    answers.push(json(200, SHEET));
    const text = 'cues:\n  - title: Intro\n';
    await cuesApi.importSheet('ev 1', text, 'application/yaml');
    expect(calls[0].url).toBe('/api/events/ev%201/cues/import');
    expect(calls[0].method).toBe('POST');
    expect(calls[0].body).toBe(text);
    expect(calls[0].headers['Content-Type']).toBe('application/yaml');
    expect(calls[0].headers['Idempotency-Key']).toBeTruthy();
  });

  it('a broken sheet is an ApiError naming the line', async () => {
    const details = [{ line: 3, field: 'planned_duration_s', problem: 'Input should be greater than or equal to 0' }];
    answers.push(json(422, { error: { code: 'invalid_sheet', message: 'fix the sheet: line 3, field planned_duration_s: …', details } }));
    const e = (await cuesApi.importSheet('ev1', 'x', 'text/csv').catch((x: unknown) => x)) as ApiError;
    expect(e.status).toBe(422);
    expect(e.message).toMatch(/line 3/);
    expect(e.details).toEqual(details);
  });

  it('a network failure is an ApiError too', async () => {
    const e = (await cuesApi.importSheet('ev1', 'x', 'text/csv').catch((x: unknown) => x)) as ApiError;
    expect(e.code).toBe('network_error');
  });

  it('exports through a plain link', () => {
    expect(cuesApi.exportUrl('ev1', 'csv')).toBe('/api/events/ev1/cues/export?format=csv');
  });
});

describe('poll drafts', () => {
  it('edit sends the version and the fields', async () => {
    answers.push(json(200, poll({ version: 2, kind: 'rating', options: [] })));
    const p = await pollsApi.edit('ev1', 'p1', { version: 1, kind: 'rating', options: [], duration_s: null });
    expect(p.version).toBe(2);
    expect(calls[0].method).toBe('PATCH');
    expect(calls[0].url).toBe('/api/events/ev1/polls/p1');
    expect(JSON.parse(calls[0].body as string)).toEqual({ version: 1, kind: 'rating', options: [], duration_s: null });
  });
});
