import { describe, expect, it } from 'vitest';
import {
  adHocPollProblem,
  asPoll,
  detailLines,
  emptyPollForm,
  parseDuration,
  pollFingerprint,
  pollFormBody,
  pollFormErrors,
  pollFormFrom,
  pollSummary,
} from './pollForm';
import { poll } from './test-utils';

describe('poll draft form', () => {
  it('follows the API rules: 2–10 distinct, non-empty options', () => {
    const f = { ...emptyPollForm('multiple'), title: 'Which topics?', options: ['AI', 'Rockets'] };
    expect(pollFormErrors(f)).toEqual({});
    expect(pollFormErrors({ ...f, options: ['AI'] }).options).toMatch(/2 to 10/);
    expect(pollFormErrors({ ...f, options: Array.from({ length: 11 }, (_, i) => `o${i}`) }).options).toMatch(/2 to 10/);
    expect(pollFormErrors({ ...f, options: ['AI', ' '] }).options).toBe('Option 2 is empty: fill it in or remove it.');
    expect(pollFormErrors({ ...f, options: ['AI', ' ai '] }).options).toMatch(/same/);
    expect(pollFormErrors({ ...f, options: ['AI', 'x'.repeat(201)] }).options).toMatch(/200/);
    expect(pollFormErrors({ ...f, title: '  ' }).title).toBeTruthy();
  });

  it('sends no options for a rating, and keeps them in the form', () => {
    const f = { ...emptyPollForm(), title: ' Rate it ', kind: 'rating' as const, options: ['kept', ''] };
    expect(pollFormErrors(f)).toEqual({});
    expect(pollFormBody(f)).toEqual({ title: 'Rate it', kind: 'rating', options: [], duration_s: null });
  });

  it('takes a timer of 5 s to a day, or none', () => {
    expect(parseDuration('')).toBeNull();
    expect(parseDuration('60')).toBe(60);
    expect(parseDuration('4')).toBeUndefined();
    expect(parseDuration('86401')).toBeUndefined();
    expect(parseDuration('1.5')).toBeUndefined();
    const f = { ...emptyPollForm(), title: 'Q', options: ['a', 'b'], duration: '3' };
    expect(pollFormErrors(f).duration).toMatch(/5 to 86400/);
    expect(pollFormBody({ ...f, duration: '90' }).duration_s).toBe(90);
  });

  it('loads a poll, rating or not, and notices changes', () => {
    const rating = pollFormFrom(poll({ kind: 'rating', options: [], duration_s: 30 }));
    expect(rating).toEqual({ title: 'Best talk?', kind: 'rating', options: ['', ''], duration: '30' });
    const single = pollFormFrom(poll());
    expect(single.options).toEqual(['A', 'B']);
    expect(pollFingerprint(single)).toBe(pollFingerprint({ ...single, options: [' A', 'B '] }));
    expect(pollFingerprint(single)).not.toBe(pollFingerprint({ ...single, kind: 'multiple' }));
  });

  it('reads 409 and 422 bodies', () => {
    const p = poll({ version: 3 });
    expect(asPoll(p)).toBe(p);
    expect(asPoll({ id: 'x' })).toBeNull();
    expect(detailLines([{ field: 'duration_s', problem: 'too small' }, { problem: 'plain' }, 7])).toEqual([
      'duration_s: too small',
      'plain',
    ]);
    expect(pollSummary(p)).toBe('“Best talk?” · Single choice · A / B · no timer');
  });
});

describe('the host view quick poll', () => {
  it('keeps the single-choice rules and lets a rating go without options', () => {
    expect(adHocPollProblem('single', 'Q', ['a', 'b'])).toBeNull();
    expect(adHocPollProblem('multiple', 'Q', ['a', ''])).toBe('Give at least two options.');
    expect(adHocPollProblem('rating', 'Rate the talk', [])).toBeNull();
    expect(adHocPollProblem('rating', ' ', [])).toBe('Give the poll a title.');
  });
});
