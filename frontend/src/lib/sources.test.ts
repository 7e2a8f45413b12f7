import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LiveClient } from './live';
import {
  absoluteWebhookUrl,
  applyHealth,
  applySourceDelta,
  checkForm,
  createBody,
  displayState,
  emptyForm,
  formFromSource,
  freshness,
  lagText,
  mergeSource,
  newBook,
  noteMessage,
  parseConfigValue,
  patchBody,
  quotaText,
  sortSources,
  stateTone,
  type SourceHealth,
  type SourceView,
} from './sources';
import { FakeSocket } from './test-utils';

const NOW = Date.parse('2030-01-01T10:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();

function source(over: Partial<SourceView> = {}): SourceView {
  return {
    id: 's1',
    platform: 'twitch',
    name: 'Main channel',
    kind: 'chat',
    enabled: true,
    version: 1,
    config: {},
    credentials_set: [],
    capabilities: ['ban', 'delete'],
    webhook_url: null,
    health: null,
    ...over,
  };
}

function health(state: string, reportedAt: number, over: Partial<SourceHealth> = {}): SourceHealth {
  return { state, reported_at: iso(reportedAt), ...over };
}

describe('freshness', () => {
  it('says how long ago the last message came, against the server clock', () => {
    expect(freshness(iso(NOW - 2000), NOW).text).toBe('last message 2 s ago');
    expect(freshness(iso(NOW - 5 * 60_000), NOW).text).toBe('last message 5 min ago');
    expect(freshness(null, NOW)).toMatchObject({ text: 'no messages yet', fraction: 0, tone: 'off' });
    expect(freshness('not a time', NOW).text).toBe('no messages yet');
  });

  it('ticks: the same message is older a second later', () => {
    const at = iso(NOW - 2000);
    expect(freshness(at, NOW + 1000).text).toBe('last message 3 s ago');
  });

  it('colours and fills the bar by age', () => {
    const fresh = freshness(iso(NOW - 3000), NOW);
    expect(fresh.tone).toBe('ok');
    expect(fresh.fraction).toBeCloseTo(0.95);
    expect(freshness(iso(NOW - 30_000), NOW)).toMatchObject({ tone: 'warn', fraction: 0.5 });
    expect(freshness(iso(NOW - 90_000), NOW)).toMatchObject({ tone: 'bad', fraction: 0 });
    // a server clock behind the message (skew) is "just now", not the future
    expect(freshness(iso(NOW + 5000), NOW)).toMatchObject({ text: 'last message 0 s ago', fraction: 1 });
    expect(freshness(iso(NOW - 90_000), NOW, false).tone).toBe('off');
  });
});

describe('state', () => {
  it('a disabled source is paused whatever its connector said last', () => {
    expect(displayState(source({ enabled: false, health: health('connected', NOW) }))).toBe('paused');
    expect(displayState(source({ health: health('reconnecting', NOW) }))).toBe('reconnecting');
    expect(displayState(source({ health: null }))).toBe('unknown');
    expect(displayState(source({ health: health('weird', NOW) }))).toBe('unknown');
  });

  it('maps states to colours', () => {
    expect(stateTone('connected')).toBe('ok');
    expect(stateTone('reconnecting')).toBe('warn');
    expect(stateTone('failed')).toBe('bad');
    expect(stateTone('paused')).toBe('off');
  });

  it('orders trouble first, then by name', () => {
    const list = [
      source({ id: 'a', name: 'Beta', health: health('connected', NOW) }),
      source({ id: 'b', name: 'Alpha', health: health('connected', NOW) }),
      source({ id: 'c', name: 'Zed', health: health('failed', NOW) }),
      source({ id: 'd', name: 'Paused', enabled: false }),
      source({ id: 'e', name: 'Flaky', health: health('reconnecting', NOW) }),
    ];
    expect(sortSources(list).map((s) => s.id)).toEqual(['c', 'e', 'd', 'b', 'a']);
  });

  it('formats lag, quota and webhook URLs', () => {
    expect(lagText(0.42)).toBe('0.4 s');
    expect(lagText(42.4)).toBe('42 s');
    expect(lagText(undefined)).toBe('–');
    expect(quotaText({ state: 'connected', quota_left: 9850 })).toBe('9,850 left');
    expect(quotaText({ state: 'connected', quota_left: null })).toBe('–');
    expect(absoluteWebhookUrl('/hooks/abc', 'https://cr.example.com/')).toBe('https://cr.example.com/hooks/abc');
    expect(absoluteWebhookUrl(null, 'https://x')).toBeNull();
  });
});

describe('merging', () => {
  it('takes settings from a newer version only, health from the newer report', () => {
    const book = newBook();
    expect(mergeSource(book, source({ version: 2, name: 'v2', health: health('connected', NOW) }))).toBe(true);
    // an older REST answer arrives late: settings stay, but its newer health is taken
    expect(mergeSource(book, source({ version: 1, name: 'v1', health: health('reconnecting', NOW + 1000) }))).toBe(true);
    expect(book.byId.get('s1')).toMatchObject({ name: 'v2', version: 2, health: { state: 'reconnecting' } });
    // the same thing twice changes nothing (no re-render)
    expect(mergeSource(book, source({ version: 2, name: 'v2', health: health('reconnecting', NOW + 1000) }))).toBe(false);
    // a list whose health is older than a delta's keeps the delta's
    mergeSource(book, source({ version: 3, name: 'v3', health: health('connected', NOW) }));
    expect(book.byId.get('s1')).toMatchObject({ name: 'v3', health: { state: 'reconnecting' } });
  });

  it('a health report without reported_at (the server says paused) wins; a null report never erases one', () => {
    const book = newBook();
    mergeSource(book, source({ health: health('connected', NOW) }));
    mergeSource(book, source({ version: 2, enabled: false, health: { state: 'paused' } }));
    expect(book.byId.get('s1')?.health?.state).toBe('paused');
    mergeSource(book, source({ version: 3, health: null }));
    expect(book.byId.get('s1')?.health?.state).toBe('paused');
  });

  it('applies source.health and source.updated deltas', () => {
    const book = newBook();
    mergeSource(book, source({ health: health('connected', NOW) }));
    const changed = applySourceDelta(book, {
      type: 'source.health',
      data: { source_id: 's1', ...health('failed', NOW + 2000, { last_error: 'authentication failed' }) },
    });
    expect(changed).toBe(true);
    expect(book.byId.get('s1')?.health).toMatchObject({ state: 'failed', last_error: 'authentication failed' });
    expect(book.byId.get('s1')?.health).not.toHaveProperty('source_id');
    // an older report delivered late is ignored
    expect(applySourceDelta(book, { type: 'source.health', data: { source_id: 's1', ...health('connected', NOW) } })).toBe(false);

    expect(applySourceDelta(book, { type: 'source.updated', data: source({ version: 2, enabled: false }) })).toBe(true);
    expect(book.byId.get('s1')).toMatchObject({ enabled: false, version: 2, health: { state: 'failed' } });
    expect(applySourceDelta(book, { type: 'chat.message', data: {} })).toBe(false);
    expect(applySourceDelta(book, { type: 'source.health', data: null })).toBe(false);
  });

  it('keeps health reported before the list arrives', () => {
    const book = newBook();
    expect(applyHealth(book, 's9', health('connected', NOW + 5000))).toBe(false);
    mergeSource(book, source({ id: 's9', health: health('starting', NOW) }));
    expect(book.byId.get('s9')?.health?.state).toBe('connected');
    expect(book.strayHealth.size).toBe(0);
  });
});

describe('the live client', () => {
  beforeEach(() => {
    FakeSocket.reset();
    vi.useFakeTimers();
    vi.setSystemTime(NOW);
  });
  afterEach(() => vi.useRealTimers());

  it('applies sources deltas from batches and REST lists, and keeps them across snapshots', () => {
    const client = new LiveClient({ url: 'ws://t/ws/events/e1', createSocket: (u) => new FakeSocket(u) });
    client.start();
    const ws = FakeSocket.last();
    ws.open();
    const hello = { type: 'hello', server_time: iso(NOW + 3000), seq: 1, resumed: false, replayed: 0 };
    ws.receive({ ...hello, snapshot: { chat: [], questions: [], gauges: null } });
    expect(client.clockOffsetMs).toBe(3000);
    client.mergeSources([source({ health: health('connected', NOW) })]);
    const rev = client.rev;
    ws.receive({
      type: 'batch',
      seq_from: 2,
      seq_to: 2,
      items: [{ seq: 2, topic: 'sources', type: 'source.health', at: iso(NOW), data: { source_id: 's1', ...health('reconnecting', NOW + 1) } }],
    });
    expect(client.rev).toBeGreaterThan(rev);
    expect(client.sources.byId.get('s1')?.health?.state).toBe('reconnecting');
    ws.receive({ type: 'resync', reason: 'behind' });
    ws.receive({ ...hello, seq: 9, snapshot: { chat: [], questions: [], gauges: null } });
    expect(client.sources.byId.get('s1')?.health?.state).toBe('reconnecting');
    client.stop();
  });
});

describe('the form', () => {
  const hook = source({
    platform: 'webhook',
    name: 'Partner',
    config: { region: 'eu', speed: 2, old: true },
    credentials_set: ['webhook_secret', 'legacy'],
    webhook_url: '/hooks/s1',
  });

  it('parses typed config values as JSON when they look like it', () => {
    expect(parseConfigValue('3.5')).toBe(3.5);
    expect(parseConfigValue('true')).toBe(true);
    expect(parseConfigValue('["a"]')).toEqual(['a']);
    expect(parseConfigValue('https://api.example.com')).toBe('https://api.example.com');
    expect(parseConfigValue('12 apples')).toBe('12 apples');
  });

  it('sends only typed credentials when adding', () => {
    const f = emptyForm('zoom');
    expect(f.credentials.map((c) => c.name)).toEqual(['webhook_secret', 'account_id', 'client_id', 'client_secret']);
    f.name = ' Zoom webinar ';
    f.config = [{ key: 'api_base', value: 'http://127.0.0.1:9000' }];
    f.credentials.push({ name: 'unused', value: '', isSet: false, remove: false });
    f.credentials[0].value = 'shh';
    expect(createBody(f)).toEqual({
      platform: 'zoom',
      name: 'Zoom webinar',
      kind: 'chat',
      config: { api_base: 'http://127.0.0.1:9000' },
      credentials: { webhook_secret: 'shh' },
    });
  });

  it('patches what changed: config keys set or removed, credentials typed or removed', () => {
    const f = formFromSource(hook);
    expect(f.credentials.every((c) => c.isSet && c.value === '')).toBe(true);
    expect(patchBody(hook, f)).toEqual({});
    f.config = f.config.filter((r) => r.key !== 'old');
    f.config.find((r) => r.key === 'speed')!.value = '3';
    f.credentials.find((c) => c.name === 'legacy')!.remove = true;
    f.credentials.find((c) => c.name === 'webhook_secret')!.value = 'new-secret';
    f.name = 'Partner EU';
    expect(patchBody(hook, f)).toEqual({
      name: 'Partner EU',
      config: { speed: 3, old: null },
      credentials: { legacy: null, webhook_secret: 'new-secret' },
    });
  });

  it('says what to fix', () => {
    const f = emptyForm();
    expect(checkForm(f)).toEqual({ ok: false, problem: 'Give the source a name.' });
    f.name = 'x';
    f.config = [
      { key: 'a', value: '1' },
      { key: 'a', value: '2' },
    ];
    expect(checkForm(f).ok).toBe(false);
    f.config = [{ key: '', value: 'v' }];
    expect(checkForm(f)).toEqual({ ok: false, problem: 'A config value needs a key.' });
    f.config = [];
    expect(checkForm(f)).toEqual({ ok: true });
  });
});

describe('freshness from the live feed', () => {
  it('a chat line makes its source fresher than the last report, and a later report keeps it', () => {
    const book = newBook();
    mergeSource(book, source({ health: health('connected', NOW - 4000, { last_event_at: iso(NOW - 5000) }) }));
    expect(noteMessage(book, 's1', iso(NOW - 200))).toBe(true);
    expect(book.byId.get('s1')!.health!.last_event_at).toBe(iso(NOW - 200));
    expect(noteMessage(book, 's1', iso(NOW - 100))).toBe(false); // under a second: no redraw
    expect(noteMessage(book, 'other', iso(NOW))).toBe(false);
    // The next report was taken before that line arrived: its older last message loses.
    applyHealth(book, 's1', health('connected', NOW, { last_event_at: iso(NOW - 3000), lag_s: 0.7 }));
    const h = book.byId.get('s1')!.health!;
    expect(h.last_event_at).toBe(iso(NOW - 200));
    expect(h.lag_s).toBe(0.7);
    expect(freshness(h.last_event_at, NOW, true).text).toBe('last message 0 s ago');
  });
});
