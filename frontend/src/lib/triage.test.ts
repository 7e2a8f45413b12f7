import { describe, expect, it } from 'vitest';
import { question } from './test-utils';
import {
  applyTagInput,
  canTransition,
  claimedByMe,
  claimedByOther,
  conflictMessage,
  countByState,
  describeChanges,
  isEdited,
  queueList,
  STATES,
  transitionProblem,
  type QueueFilter,
} from './triage';

describe('conflictMessage (409 diff)', () => {
  it('names each changed field among state, text, pinned, tags, claimed_by', () => {
    const mine = question({ state: 'pending', text: 'old?', tags: ['a', 'b'], pinned: false });
    const cur = {
      ...mine,
      version: 5,
      state: 'approved' as const,
      text: 'new?',
      pinned: true,
      tags: ['b', 'c'],
      claimed_by: 'u2',
      claimed_by_name: 'Ana',
    };
    expect(conflictMessage(mine, cur)).toBe(
      'Changed by someone else: state pending → approved, text → “new?”, pinned, tags +c −a, claimed by Ana',
    );
  });

  it('reports one change alone, and un-pinning / a released claim', () => {
    const mine = question({ pinned: true, claimed_by: 'u2', claimed_by_name: 'Ana' });
    expect(conflictMessage(mine, { ...mine, state: 'on_deck' })).toBe('Changed by someone else: state pending → on deck');
    expect(describeChanges(mine, { ...mine, pinned: false, claimed_by: null, claimed_by_name: null })).toEqual([
      'unpinned',
      'claim released',
    ]);
  });

  it('ignores fields outside the list (votes, boost) and says so', () => {
    const mine = question({ votes: 1 });
    expect(describeChanges(mine, { ...mine, votes: 9, boost: 3, score: 12, version: 9 })).toEqual([]);
    expect(conflictMessage(mine, { ...mine, votes: 9 })).toBe('Changed by someone else: other details (refreshed)');
    expect(conflictMessage(undefined, mine)).toBe('Changed by someone else: other details (refreshed)');
  });

  it('shortens a long new text', () => {
    const mine = question();
    const msg = conflictMessage(mine, { ...mine, text: 'x'.repeat(200) });
    expect(msg.length).toBeLessThan(80);
    expect(msg).toContain('…”');
  });
});

describe('transitions', () => {
  it('follows the legal moves of the protocol', () => {
    expect(canTransition('pending', 'approved')).toBe(true);
    expect(canTransition('on_deck', 'answered')).toBe(true);
    expect(canTransition('pending', 'answered')).toBe(false);
    expect(canTransition('archived', 'approved')).toBe(false);
    expect(canTransition('archived', 'pending')).toBe(true);
    expect(transitionProblem('pending', 'approved')).toBeNull();
    expect(transitionProblem('approved', 'approved')).toBe('Already approved.');
    expect(transitionProblem('answered', 'approved')).toBe(
      "Can't move from answered to approved (allowed: archived, on deck).",
    );
  });

  it('allows exactly the moves docs/PROTOCOL.md lists, over the whole grid', () => {
    // Written out here, not taken from LEGAL_MOVES, so a wrong entry there fails.
    const documented = [
      'pending>approved', 'pending>rejected', 'pending>on_deck', 'pending>archived',
      'approved>on_deck', 'approved>rejected', 'approved>pending', 'approved>archived',
      'on_deck>answered', 'on_deck>approved', 'on_deck>archived',
      'answered>archived', 'answered>on_deck',
      'rejected>pending', 'rejected>archived',
      'archived>pending',
    ];
    const allowed = STATES.flatMap((from) => STATES.filter((to) => canTransition(from, to)).map((to) => `${from}>${to}`));
    expect(allowed.sort()).toEqual(documented.sort());
  });
});

describe('queueList', () => {
  const f = (over: Partial<QueueFilter> = {}): QueueFilter => ({ state: 'all', platform: '', text: '', sort: 'score', ...over });
  const a = question({ score: 5, received_at: '2030-01-01T10:00:01Z', platform: 'youtube', text: 'About pricing?' });
  const b = question({ score: 9, received_at: '2030-01-01T10:00:02Z', platform: 'twitch', state: 'approved' });
  const c = question({ score: 1, received_at: '2030-01-01T10:00:03Z', platform: 'zoom', pinned: true, tags: ['vip'] });
  const d = question({ score: 5, received_at: '2030-01-01T10:00:04Z', platform: 'twitch', author_name: 'Secret', anonymous: true });
  const all = [a, b, c, d];
  const order = (over: Partial<QueueFilter>) => queueList(all, f(over)).map((q) => q.id);

  it('puts pinned first, then sorts by the chosen key', () => {
    expect(order({ sort: 'score' })).toEqual([c.id, b.id, d.id, a.id]); // ties: newest first
    expect(order({ sort: 'age' })).toEqual([c.id, d.id, b.id, a.id]);
    expect(order({ sort: 'oldest' })).toEqual([c.id, a.id, b.id, d.id]);
    expect(order({ sort: 'platform' })).toEqual([c.id, b.id, d.id, a.id]);
    expect(order({ sort: 'state' })).toEqual([c.id, d.id, a.id, b.id]);
  });

  it('filters by state, platform and text (tags too, not anonymous authors)', () => {
    expect(order({ state: 'approved' })).toEqual([b.id]);
    expect(order({ platform: 'twitch' })).toEqual([b.id, d.id]);
    expect(order({ text: 'PRICING' })).toEqual([a.id]);
    expect(order({ text: 'vip' })).toEqual([c.id]);
    expect(order({ text: 'secret' })).toEqual([]);
  });

  it('counts every state', () => {
    expect(countByState(all)).toEqual({ pending: 3, approved: 1, on_deck: 0, answered: 0, rejected: 0, archived: 0, all: 4 });
  });
});

describe('claims, edits, tags', () => {
  const now = Date.parse('2030-01-01T10:00:00Z');
  it('shows a claim held by someone else until it expires', () => {
    const q = question({ claimed_by: 'u2', claimed_by_name: 'Ana', claimed_until: '2030-01-01T10:01:00Z' });
    expect(claimedByOther(q, 'me', now)).toBe('Ana');
    expect(claimedByOther(q, 'u2', now)).toBeNull();
    expect(claimedByMe(q, 'u2', now)).toBe(true);
    expect(claimedByOther(q, 'me', now + 61_000)).toBeNull();
    expect(claimedByOther(question(), 'me', now)).toBeNull();
  });

  it('marks an edited question only when the text differs from the original', () => {
    expect(isEdited(question({ text: 'b', original_text: 'a' }))).toBe(true);
    expect(isEdited(question({ text: 'a', original_text: 'a' }))).toBe(false);
    expect(isEdited(question({ original_text: null }))).toBe(false);
  });

  it('adds and removes tags', () => {
    expect(applyTagInput(['a'], '  new  tag ')).toEqual(['a', 'new tag']);
    expect(applyTagInput(['a', 'b'], '-a')).toEqual(['b']);
    expect(applyTagInput(['a'], 'a')).toBeNull();
    expect(applyTagInput(['a'], '-zz')).toBeNull();
    expect(applyTagInput(['a'], '   ')).toBeNull();
  });
});

describe('duplicates', () => {
  it('hides merged questions and finds the suggested target only while it is open', async () => {
    const { queueList, duplicateTarget } = await import('./triage');
    const base = question({ id: 'a1', text: 'Will the slides be shared?' });
    const reask = question({ id: 'b2', text: 'are slides shared?', duplicate_of: 'a1', duplicate_score: 0.8 });
    const merged = question({ id: 'c3', merged_into: 'a1' });
    const byId = new Map([base, reask, merged].map((q) => [q.id, q]));
    const shown = queueList(byId.values(), { state: 'all', platform: '', text: '', sort: 'age' }).map((q) => q.id);
    expect(shown).not.toContain('c3');
    expect(duplicateTarget(reask, byId)?.id).toBe('a1');
    expect(duplicateTarget(base, byId)).toBeNull();
    byId.set('a1', { ...base, merged_into: 'zz' });
    expect(duplicateTarget(reask, byId)).toBeNull();
  });
});
