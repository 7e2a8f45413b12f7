import { describe, expect, it } from 'vitest';
import { checkForm, fieldForPath, formFromRules, hasErrors, mapErrors, newTermRow, rulesFromForm } from './rulesForm';
import type { RulesDoc } from './types';

const DOC: RulesDoc = {
  version: 4,
  rules: {
    banned_terms: [
      { term: 'spoiler', action: 'hold', whole_word: true },
      { term: 'buy now', action: 'hide', whole_word: false },
    ],
    flood: { max_messages: 5, per_seconds: 10, max_repeats: 3, repeat_window_s: 60, action: 'flag' },
    spam: { threshold: 0.8, action: 'hold', link_weight: 0.5, max_links: 2 } as RulesDoc['rules']['spam'],
    exempt_roles: ['moderator', 'broadcaster'],
    trusted_authors: ['u123', 'u456'],
  },
};

describe('RuleSet ⇄ form', () => {
  it('round-trips, keeping fields the form does not show (spam weights)', () => {
    const form = formFromRules(DOC);
    expect(form.version).toBe(4);
    expect(form.terms.map((t) => [t.term, t.action, t.whole_word])).toEqual([
      ['spoiler', 'hold', true],
      ['buy now', 'hide', false],
    ]);
    expect(form.flood).toMatchObject({ enabled: true, max_messages: 5, per_seconds: 10, action: 'flag' });
    expect(form.spam).toMatchObject({ enabled: true, threshold: 0.8, action: 'hold' });
    expect(form.exempt_roles).toBe('moderator, broadcaster');
    expect(form.trusted_authors).toBe('u123\nu456');
    expect(rulesFromForm(form)).toEqual(DOC);
  });

  it('turns flood and spam off as null, and on again with defaults', () => {
    const off = formFromRules({ version: 0, rules: { ...DOC.rules, flood: null, spam: null } });
    expect(off.flood.enabled).toBe(false);
    expect(off.spam.enabled).toBe(false);
    expect(rulesFromForm(off).rules.flood).toBeNull();
    expect(rulesFromForm(off).rules.spam).toBeNull();
    off.flood.enabled = true;
    off.spam.enabled = true;
    expect(rulesFromForm(off).rules.flood).toEqual({ max_messages: 5, per_seconds: 10, max_repeats: 3, repeat_window_s: 60, action: 'hold' });
    expect(rulesFromForm(off).rules.spam).toEqual({ threshold: 0.7, action: 'hold' });

    const on = formFromRules(DOC);
    on.flood.enabled = false;
    expect(rulesFromForm(on).rules.flood).toBeNull();
  });

  it('reads the lists, trims terms, keeps blank term rows (the server names them) and sends empty numbers as null', () => {
    const form = formFromRules(DOC);
    form.exempt_roles = ' vip,\nmoderator ,, ';
    form.trusted_authors = 'a1\n\n a2 \n';
    form.terms.push(newTermRow('  scam  ', 'flag', true), newTermRow('', 'hide', true));
    form.flood.max_messages = null;
    const out = rulesFromForm(form);
    expect(out.version).toBe(4);
    expect(out.rules.exempt_roles).toEqual(['vip', 'moderator']);
    expect(out.rules.trusted_authors).toEqual(['a1', 'a2']);
    expect(out.rules.banned_terms.slice(2)).toEqual([
      { term: 'scam', action: 'flag', whole_word: true },
      { term: '', action: 'hide', whole_word: true },
    ]);
    expect(out.rules.flood?.max_messages).toBeNull();
  });

  it('fills a partial answer (an older or empty rule set)', () => {
    const form = formFromRules({ version: 0, rules: { banned_terms: [], flood: null, spam: null } as unknown as RulesDoc['rules'] });
    expect(form.terms).toEqual([]);
    expect(rulesFromForm(form).rules).toEqual({ banned_terms: [], flood: null, spam: null, exempt_roles: [], trusted_authors: [] });
  });
});

describe('422 details → fields', () => {
  it('maps "path: message" lines to their fields', () => {
    const e = mapErrors([
      'banned_terms.0.term: Value error, term is blank; give a word or phrase',
      'banned_terms.1.action: Input should be \'hide\', \'hold\' or \'flag\'',
      'flood.per_seconds: Input should be greater than 0',
      'spam.threshold: Input should be less than or equal to 1',
      'exempt_roles: Value error, a role is blank; remove it',
      'trusted_authors.1: Input should be a valid string',
      'flood.link_weight: Extra inputs are not permitted',
      'version: Input should be greater than or equal to 0',
      'something odd happened',
    ]);
    expect(e.fields['banned_terms.0.term']).toEqual(['term is blank; give a word or phrase']);
    expect(e.fields['banned_terms.1.action']).toEqual(["Input should be 'hide', 'hold' or 'flag'"]);
    expect(e.fields['flood.per_seconds']).toEqual(['Input should be greater than 0']);
    expect(e.fields['spam.threshold']).toEqual(['Input should be less than or equal to 1']);
    expect(e.fields['exempt_roles']).toEqual(['a role is blank; remove it']);
    expect(e.fields['trusted_authors']).toEqual(['#2: Input should be a valid string']);
    expect(e.fields['flood']).toEqual(['link_weight: Extra inputs are not permitted']);
    expect(e.general).toEqual(['version: Input should be greater than or equal to 0', 'something odd happened']);
  });

  it('puts a duplicate-term error on the row it names, and quotes list items it was sent', () => {
    const e = mapErrors(
      [
        "banned_terms: Value error, banned_terms.3 ('Sp0iler') is the same term as banned_terms.0 ('spoiler') once normalized; keep one of them",
        'trusted_authors.1: Input should be a valid string',
      ],
      undefined,
      { ...DOC.rules },
    );
    expect(Object.keys(e.fields).sort()).toEqual(['banned_terms.3', 'trusted_authors']);
    expect(e.fields['banned_terms.3'][0]).toMatch(/^banned_terms\.3 \('Sp0iler'\) is the same term/);
    expect(e.fields['trusted_authors']).toEqual(['“u456”: Input should be a valid string']);
  });

  it('takes request-validation objects too, and falls back to the message', () => {
    const e = mapErrors([{ field: 'rules.flood.max_messages', problem: 'Input should be a valid integer' }, { field: 'version', problem: 'Field required' }]);
    expect(e.fields['flood.max_messages']).toEqual(['Input should be a valid integer']);
    expect(e.general).toEqual(['version: Field required']);
    expect(mapErrors(undefined, 'fix these rules')).toEqual({ fields: {}, general: ['fix these rules'] });
  });

  it('fieldForPath knows each form field', () => {
    expect(fieldForPath('banned_terms.2.whole_word')).toBe('banned_terms.2.whole_word');
    expect(fieldForPath('banned_terms.2.extra_key')).toBe('banned_terms.2');
    expect(fieldForPath('banned_terms')).toBe('banned_terms');
    expect(fieldForPath('flood.action')).toBe('flood.action');
    expect(fieldForPath('spam')).toBe('spam');
    expect(fieldForPath('body.rules.spam.action')).toBe('spam.action');
    expect(fieldForPath('exempt_roles.0')).toBe('exempt_roles');
    expect(fieldForPath('nonsense.x')).toBeNull();
  });
});

describe('checkForm', () => {
  it('catches blank terms and missing or impossible numbers before the server does', () => {
    const form = formFromRules(DOC);
    expect(hasErrors(checkForm(form))).toBe(false);
    form.terms.push(newTermRow('   '));
    form.flood.per_seconds = null;
    form.spam.threshold = 1.5;
    const e = checkForm(form);
    expect(Object.keys(e.fields).sort()).toEqual(['banned_terms.2.term', 'flood.per_seconds', 'spam.threshold']);
    form.flood.enabled = false;
    form.spam.enabled = false;
    expect(Object.keys(checkForm(form).fields)).toEqual(['banned_terms.2.term']);
  });
});
