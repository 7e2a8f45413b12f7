import { describe, expect, it } from 'vitest';
import { actionsFor, canModerate, capabilityIndex, duration, heldReason, moderationChip } from './moderation';
import { modResult } from './test-utils';

describe('moderationChip', () => {
  it('says what is in flight', () => {
    expect(moderationChip(modResult({ action: 'delete', status: 'pending' }), 'twitch')?.text).toBe('deleting…');
    expect(moderationChip(modResult({ action: 'timeout', status: 'pending' }), 'twitch')?.text).toBe('timing out…');
    expect(moderationChip(modResult({ action: 'ban', status: 'pending' }), 'twitch')).toMatchObject({ text: 'banning…', tone: 'pending' });
  });

  it('names the platform when done', () => {
    expect(moderationChip(modResult({ action: 'delete', status: 'done' }), 'twitch')).toMatchObject({
      text: 'deleted on twitch',
      tone: 'done',
    });
    const t = moderationChip(modResult({ action: 'timeout', status: 'done', params: { duration_s: 300 } }), 'youtube');
    expect(t?.text).toBe('timed out on youtube');
    expect(t?.title).toContain('5 min');
    expect(moderationChip(modResult({ action: 'ban', status: 'done' }), 'owncast')?.text).toBe('banned on owncast');
  });

  it('gives the platform reason on failure', () => {
    const c = moderationChip(modResult({ action: 'delete', status: 'failed', reason: 'unknown message' }), 'twitch');
    expect(c).toMatchObject({ text: 'failed: unknown message', tone: 'failed' });
    expect(c?.title).toBe('delete failed on twitch: unknown message');
    expect(moderationChip(modResult({ status: 'failed', reason: null }), 'twitch')?.text).toBe('failed: no reason given');
  });

  it('says when the platform cannot do it', () => {
    const c = moderationChip(modResult({ action: 'ban', status: 'not_supported', reason: 'Zoom (zoom) cannot ban' }), 'zoom');
    expect(c).toMatchObject({ text: 'not supported on zoom', tone: 'unsupported', title: 'Zoom (zoom) cannot ban' });
  });

  it('is null without an action, and keeps audience words as plain strings', () => {
    expect(moderationChip(null, 'twitch')).toBeNull();
    expect(moderationChip(undefined, 'twitch')).toBeNull();
    const c = moderationChip(modResult({ status: 'failed', reason: '<b>x</b>' }), 'twitch');
    expect(c?.text).toBe('failed: <b>x</b>');
  });
});

describe('capabilities', () => {
  it('offers only the platform actions a source supports', () => {
    const caps = capabilityIndex([
      { id: 's1', platform: 'twitch', name: 'T', kind: 'chat', enabled: true, capabilities: ['ban', 'delete', 'timeout', 'viewer_counts'] },
      { id: 's2', platform: 'zoom', name: 'Z', kind: 'chat', enabled: true, capabilities: ['delete'] },
      { id: 's3', platform: 'old', name: 'O', kind: 'chat', enabled: true },
    ]);
    expect(actionsFor(caps.get('s1')).map((a) => a.type)).toEqual(['delete', 'timeout', 'ban']);
    expect(actionsFor(caps.get('s2')).map((a) => a.type)).toEqual(['delete']);
    expect(actionsFor(caps.get('s3'))).toEqual([]);
    expect(actionsFor(caps.get('unknown'))).toEqual([]);
    const timeout = actionsFor(caps.get('s1')).find((a) => a.type === 'timeout');
    expect(timeout?.request).toEqual({ type: 'timeout', duration_s: 300 });
    expect(actionsFor(caps.get('s1')).find((a) => a.type === 'ban')?.confirm).toBe(true);
  });

  it('lets admins, ops leads and moderators moderate', () => {
    expect(['admin', 'ops_lead', 'moderator'].map(canModerate)).toEqual([true, true, true]);
    expect(['host', 'viewer', '', null].map(canModerate)).toEqual([false, false, false, false]);
  });
});

describe('small words', () => {
  it('formats durations and held reasons', () => {
    expect([duration(300), duration(90), duration(7200), duration(undefined)]).toEqual(['5 min', '90 s', '2 h', '']);
    expect(heldReason("held: matched term 'x'")).toBe("held: matched term 'x'");
    expect(heldReason('spam score 0.90')).toBe('held: spam score 0.90');
    expect(heldReason(null)).toBe('held for review');
  });
});
