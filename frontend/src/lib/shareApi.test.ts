import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError, WRITE_RETRY_DELAYS_MS } from './api';
import {
  OVERLAY_PAGES,
  isNotFound,
  shareApi,
  shareErrorText,
  shareUrl,
  sortTokens,
  tokenWhen,
  type OverlayToken,
} from './shareApi';
import { fakeFetch, json, type FetchCall } from './test-utils';

let calls: FetchCall[] = [];
let answers: (() => Response)[] = [];

beforeEach(() => {
  ({ calls, answers } = fakeFetch());
});

afterEach(() => {
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

const LINK = {
  code: 'Ab3_x-9Z',
  url: 'http://h/a/Ab3_x-9Z',
  qr_url: 'http://h/api/a/Ab3_x-9Z/qr.svg',
  source_id: 's1',
  enabled: true,
};

const token = (id: string, created_at: string): OverlayToken => ({ id, prefix: 'abc123', created_at, created_by: 'ana' });

describe('shareApi', () => {
  it('calls the documented routes with the event id encoded', async () => {
    answers.push(
      json(200, null),
      json(200, LINK),
      json(200, { ...LINK, code: 'NewCode1' }),
      json(200, [token('t1', '2030-01-01T10:00:00Z')]),
      json(201, { ...token('t2', '2030-01-01T10:00:00Z'), token: 'ovl_e_s', urls: { poll: '/overlay/poll?token=ovl_e_s' } }),
      json(200, { revoked: 't/2' }),
    );
    expect(await shareApi.audience('e 1')).toBeNull();
    expect(await shareApi.createAudience('e 1')).toEqual(LINK);
    expect((await shareApi.rotateAudience('e 1')).code).toBe('NewCode1');
    expect(await shareApi.overlays('e 1')).toHaveLength(1);
    expect((await shareApi.createOverlay('e 1')).token).toBe('ovl_e_s');
    expect(await shareApi.revokeOverlay('e 1', 't/2')).toEqual({ revoked: 't/2' });
    expect(calls.map((c) => [c.method, c.url])).toEqual([
      ['GET', '/api/events/e%201/audience'],
      ['POST', '/api/events/e%201/audience'],
      ['POST', '/api/events/e%201/audience/rotate'],
      ['GET', '/api/events/e%201/overlays'],
      ['POST', '/api/events/e%201/overlays'],
      ['DELETE', '/api/events/e%201/overlays/t%2F2'],
    ]);
    expect(calls.every((c) => c.body === undefined)).toBe(true);
  });

  it('retries creating the audience page after a network error (the same page either way)', async () => {
    vi.useFakeTimers();
    answers.push(() => {
      throw new TypeError('Failed to fetch');
    }, json(200, LINK));
    const made = shareApi.createAudience('e1');
    await vi.advanceTimersByTimeAsync(WRITE_RETRY_DELAYS_MS[0]);
    expect(await made).toEqual(LINK);
    expect(calls).toHaveLength(2);
    expect(calls[0].headers['Idempotency-Key']).toBe(calls[1].headers['Idempotency-Key']);
  });

  it('never retries a rotation or an overlay token, and sends no Idempotency-Key with the token', async () => {
    await expect(shareApi.rotateAudience('e1')).rejects.toMatchObject({ status: 0 });
    await expect(shareApi.createOverlay('e1')).rejects.toMatchObject({ status: 0 });
    expect(calls.map((c) => c.url)).toEqual(['/api/events/e1/audience/rotate', '/api/events/e1/overlays']);
    expect(calls[1].headers['Idempotency-Key']).toBeUndefined();
  });

  it('passes the server error on: 403, 404', async () => {
    answers.push(
      json(403, { error: { code: 'forbidden', message: 'the audience link is for hosts, ops leads and admins' } }),
      json(404, { error: { code: 'not_found', message: 'no overlay token t9' } }),
    );
    const forbidden = await shareApi.audience('e1').catch((e: unknown) => e);
    expect(forbidden).toBeInstanceOf(ApiError);
    expect(shareErrorText(forbidden)).toMatch(/^Only hosts, ops leads and admins/);
    const gone = await shareApi.revokeOverlay('e1', 't9').catch((e: unknown) => e);
    expect(isNotFound(gone)).toBe(true);
    expect(isNotFound(forbidden)).toBe(false);
    expect(shareErrorText(gone)).toBe('no overlay token t9');
  });
});

describe('shareUrl', () => {
  const ORIGIN = 'http://127.0.0.1:8123';

  it('resolves overlay paths against the console origin and keeps absolute links', () => {
    expect(shareUrl('/overlay/poll?token=ovl_e_s-_x', ORIGIN)).toBe('http://127.0.0.1:8123/overlay/poll?token=ovl_e_s-_x');
    expect(shareUrl('https://show.example/a/Ab3_x-9Z', ORIGIN)).toBe('https://show.example/a/Ab3_x-9Z');
  });

  it('refuses anything that is not http(s)', () => {
    expect(shareUrl('javascript:alert(1)', ORIGIN)).toBeNull();
    expect(shareUrl(' JavaScript:alert(1)', ORIGIN)).toBeNull();
    expect(shareUrl('data:text/html,<b>x</b>', ORIGIN)).toBeNull();
    expect(shareUrl('', ORIGIN)).toBeNull();
    expect(shareUrl(null, ORIGIN)).toBeNull();
    expect(shareUrl(42, ORIGIN)).toBeNull();
    expect(shareUrl('http://[bad', ORIGIN)).toBeNull();
  });
});

describe('tokens', () => {
  it('are listed newest first, unparsable times last', () => {
    const list = sortTokens([
      token('old', '2030-01-01T09:00:00Z'),
      token('bad', 'soon'),
      token('new', '2030-01-01T11:00:00+00:00'),
    ]);
    expect(list.map((t) => t.id)).toEqual(['new', 'old', 'bad']);
  });

  it('say when: the time today, the date too on another day', () => {
    const made = new Date(2030, 0, 5, 14, 3, 59);
    expect(tokenWhen(made.toISOString(), new Date(2030, 0, 5, 23, 0).getTime())).toBe('14:03');
    expect(tokenWhen(made.toISOString(), new Date(2030, 0, 6, 0, 1).getTime())).toBe('2030-01-05 14:03');
    expect(tokenWhen('never', 0)).toBe('–');
  });

  it('has one overlay page per kind the server makes URLs for', () => {
    expect(OVERLAY_PAGES.map((p) => p.kind)).toEqual(['poll', 'question', 'segment']);
  });
});
