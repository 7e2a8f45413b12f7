import { describe, expect, it } from 'vitest';
import {
  actionsProblem,
  afterSave,
  asCue,
  canDelete,
  cleanActions,
  conflictRows,
  describeAction,
  editProblems,
  formFromCue,
  fromLocalInput,
  importContentType,
  lockedParts,
  minutesText,
  moveTarget,
  newAction,
  patchBody,
  questionChoices,
  secondsFromMinutes,
  sheetDrift,
  sheetProblems,
  toLocalInput,
  withEdit,
} from './cueSheet';
import { cue, poll, question } from './test-utils';
import type { Cue } from './types';

const sheet = (...states: Cue['state'][]) => states.map((state, i) => cue({ id: `c${i}`, position: i, state, title: `Cue ${i}` }));

describe('form values', () => {
  it('turns a datetime-local value into UTC and back in the local zone', () => {
    const iso = fromLocalInput('2030-03-04T09:30');
    expect(iso).toBe(new Date(2030, 2, 4, 9, 30).toISOString());
    expect(toLocalInput(iso)).toBe('2030-03-04T09:30');
    expect(fromLocalInput('')).toBeNull();
    expect(fromLocalInput('  ')).toBeNull();
    expect(fromLocalInput('2030-02-30T10:00')).toBeUndefined(); // no such day
    expect(fromLocalInput('tomorrow')).toBeUndefined();
    expect(toLocalInput(null)).toBe('');
    expect(toLocalInput('garbage')).toBe('');
  });

  it('shows durations in minutes and sends seconds', () => {
    expect(minutesText(300)).toBe('5');
    expect(minutesText(90)).toBe('1.5');
    expect(minutesText(0)).toBe('0');
    expect(secondsFromMinutes('7')).toBe(420);
    expect(secondsFromMinutes('1,5')).toBe(90);
    expect(secondsFromMinutes('')).toBe(0);
    expect(secondsFromMinutes('1440')).toBe(86_400);
    expect(secondsFromMinutes('1441')).toBeUndefined(); // the API's le=24*3600
    expect(secondsFromMinutes('-1')).toBeUndefined();
    expect(secondsFromMinutes('ten')).toBeUndefined();
  });

  it('reads a cue into the form, unknown owners as host', () => {
    const f = formFromCue(cue({ planned_duration_s: 600, owner_role: 'viewer', actions: [{ type: 'open_qa' }] }));
    expect(f).toMatchObject({ title: 'Welcome', minutes: '10', owner_role: 'host', start: '', actions: [{ type: 'open_qa' }] });
  });
});

describe('edits', () => {
  const c = cue({ title: 'Welcome', planned_duration_s: 300, version: 3 });

  it('keeps only what differs from the saved cue', () => {
    let e = withEdit(undefined, c, 'title', 'Welcome!');
    e = withEdit(e, c, 'minutes', '7');
    expect(e).toEqual({ title: 'Welcome!', minutes: '7' });
    e = withEdit(e, c, 'title', 'Welcome'); // typed back to the saved title
    expect(e).toEqual({ minutes: '7' });
    expect(withEdit(e, c, 'minutes', '5', true)).toEqual({ minutes: '5' }); // a save is on its way
  });

  it('after a save, keeps what was typed while it was on its way', () => {
    const sent = { title: 'A', minutes: '7' };
    expect(afterSave({ title: 'A', minutes: '8', notes: 'n' }, sent)).toEqual({ minutes: '8', notes: 'n' });
    expect(afterSave(sent, sent)).toEqual({});
  });

  it('builds the PATCH body the API takes, with the version the edit started from', () => {
    const body = patchBody(
      {
        title: '  Keynote ',
        minutes: '20',
        start: '',
        owner_role: 'ops_lead',
        notes: 'mic 2',
        position: 0,
        actions: [{ type: 'show_checklist', title: ' Pre ', items: [' mics ', '', 'lights'] }],
      },
      4,
    );
    expect(body).toEqual({
      version: 4,
      title: 'Keynote',
      planned_duration_s: 1200,
      planned_start_at: null,
      owner_role: 'ops_lead',
      notes: 'mic 2',
      position: 0,
      actions: [{ type: 'show_checklist', title: 'Pre', items: ['mics', 'lights'] }],
    });
    expect(patchBody({ state: 'skipped' }, 2)).toEqual({ version: 2, state: 'skipped' });
  });

  it('checks fields with the API limits before sending', () => {
    expect(editProblems({ title: '   ' }).title).toMatch(/title/);
    expect(editProblems({ title: 'x'.repeat(201) }).title).toMatch(/200/);
    expect(editProblems({ minutes: '2000' }).minutes).toMatch(/1440/);
    expect(editProblems({ start: '2030-13-01T00:00' }).start).toBeTruthy();
    expect(editProblems({ actions: [{ type: 'open_poll', poll_id: '' }] }).actions).toBe('action 1: pick a poll');
    expect(editProblems({ title: 'ok', minutes: '5', start: '', actions: [{ type: 'open_qa' }] })).toEqual({});
  });
});

describe('actions', () => {
  it('validates each type as app/cues/schemas.py does', () => {
    expect(actionsProblem([{ type: 'show_question', question_id: '' }])).toBe('action 1: pick a question');
    expect(actionsProblem([{ type: 'open_qa' }, { type: 'show_checklist', items: [' ', ''] }])).toMatch(/action 2: .*at least one item/);
    expect(actionsProblem([{ type: 'show_checklist', items: ['x'.repeat(201)] }])).toMatch(/200/);
    expect(actionsProblem(Array.from({ length: 21 }, () => ({ type: 'open_qa' as const })))).toMatch(/20/);
    expect(actionsProblem([{ type: 'close_poll', poll_id: 'p1' }, { type: 'close_qa' }])).toBeNull();
  });

  it('sends only the keys each action has (the API forbids others)', () => {
    const loose = { type: 'open_qa', poll_id: 'left over' } as unknown as { type: 'open_qa' };
    expect(cleanActions([loose, { type: 'open_poll', poll_id: ' p1 ' }])).toEqual([{ type: 'open_qa' }, { type: 'open_poll', poll_id: 'p1' }]);
  });

  it('picks a fitting poll or question for a new action', () => {
    const polls = [poll({ id: 'open1', state: 'open' }), poll({ id: 'draft1', state: 'draft' })];
    expect(newAction('open_poll', polls)).toEqual({ type: 'open_poll', poll_id: 'draft1' });
    expect(newAction('close_poll', polls)).toEqual({ type: 'close_poll', poll_id: 'open1' });
    expect(newAction('open_poll', [])).toEqual({ type: 'open_poll', poll_id: '' });
    const q = question({ id: 'q9' });
    expect(newAction('show_question', [], [q])).toEqual({ type: 'show_question', question_id: 'q9' });
    expect(newAction('show_checklist')).toEqual({ type: 'show_checklist', title: '', items: [] });
  });

  it('describes actions with the poll title', () => {
    const polls = new Map([['p1', poll({ id: 'p1', title: 'Best talk?' })]]);
    expect(describeAction({ type: 'open_poll', poll_id: 'p1' }, polls)).toBe('Open poll “Best talk?”');
    expect(describeAction({ type: 'show_checklist', title: 'Pre', items: ['a', 'b'] })).toBe('Show a checklist “Pre” (2 items)');
  });

  it('offers questions on deck, approved, then pending, by score', () => {
    const qs = [
      question({ id: 'p', state: 'pending', score: 9 }),
      question({ id: 'a1', state: 'approved', score: 1 }),
      question({ id: 'a2', state: 'approved', score: 5 }),
      question({ id: 'd', state: 'on_deck' }),
      question({ id: 'x', state: 'rejected' }),
    ];
    expect(questionChoices(qs).map((q) => q.id)).toEqual(['d', 'a2', 'a1', 'p']);
  });
});

describe('moves and locks', () => {
  it('moves within the sheet, not past the ends', () => {
    const order = sheet('pending', 'pending', 'pending');
    expect(moveTarget(order, 'c1', -1)).toBe(0);
    expect(moveTarget(order, 'c1', 1)).toBe(2);
    expect(moveTarget(order, 'c0', -1)).toBeNull();
    expect(moveTarget(order, 'c2', 1)).toBeNull();
    expect(moveTarget(order, 'nope', 1)).toBeNull();
  });

  it('counts from a move already on its way', () => {
    const order = sheet('pending', 'pending', 'pending');
    expect(moveTarget(order, 'c2', -1, 1)).toBe(0); // Alt+↑ twice before the first answer
    expect(moveTarget(order, 'c2', 1, 1)).toBeNull(); // back where it is: nothing to send
  });

  it('keeps pending cues after the live and played ones, which do not move', () => {
    const order = sheet('done', 'live', 'pending', 'skipped');
    expect(moveTarget(order, 'c2', -1)).toBeNull();
    expect(moveTarget(order, 'c3', -1)).toBe(2);
    expect(moveTarget(order, 'c1', 1)).toBeNull();
    expect(moveTarget(order, 'c0', 1)).toBeNull();
  });

  it('locks what the API locks', () => {
    expect(lockedParts({ state: 'done' })).toEqual({ all: true, actions: true, place: true });
    expect(lockedParts({ state: 'live' })).toEqual({ all: false, actions: true, place: true });
    expect(lockedParts({ state: 'skipped' })).toEqual({ all: false, actions: false, place: false });
    expect(canDelete({ state: 'live' })).toBe(false);
    expect(canDelete({ state: 'done' })).toBe(false);
    expect(canDelete({ state: 'skipped' })).toBe(true);
  });
});

describe('409: theirs beside mine', () => {
  it('lists each field I changed with my value and the saved one', () => {
    const theirs = cue({ title: 'Keynote (moved)', planned_duration_s: 900, notes: 'theirs', version: 5 });
    const rows = conflictRows({ title: 'Keynote!', minutes: '20', position: 0 }, theirs);
    expect(rows).toEqual([
      { key: 'title', label: 'Title', mine: 'Keynote!', theirs: 'Keynote (moved)' },
      { key: 'minutes', label: 'Duration', mine: '20 min', theirs: '15 min' },
      { key: 'position', label: 'Place', mine: '#1', theirs: '#1' },
    ]);
  });

  it('reads a cue out of a 409 body, and nothing else', () => {
    const c = cue({ version: 7 });
    expect(asCue(c)).toBe(c);
    expect(asCue({ live: c, server_time: 'x' })).toBeNull();
    expect(asCue(undefined)).toBeNull();
  });
});

describe('keeping up with the live sheet', () => {
  it('takes newer versions and notices cues that came or went', () => {
    const a = cue({ id: 'a', version: 2 });
    const b = cue({ id: 'b', version: 1 });
    const known = new Map([
      ['a', a],
      ['b', b],
    ]);
    const same = sheetDrift(known, new Map(known));
    expect(same).toEqual({ newer: [], idsDiffer: false, signature: 'a,b' });
    const a3 = { ...a, version: 3 };
    const older = { ...b, version: 0 };
    const live = new Map([
      ['a', a3],
      ['b', older],
    ]);
    expect(sheetDrift(known, live).newer).toEqual([a3]);
    const gone = sheetDrift(known, new Map([['a', a]]));
    expect(gone.idsDiffer).toBe(true);
    expect(gone.signature).toBe('a');
    const added = sheetDrift(known, new Map([...known, ['c', cue({ id: 'c' })]]));
    expect(added.idsDiffer).toBe(true);
  });
});

describe('import', () => {
  it('picks the Content-Type by the file name', () => {
    expect(importContentType('plan.CSV')).toBe('text/csv');
    expect(importContentType('plan.yml')).toBe('application/yaml');
    expect(importContentType('plan.yaml')).toBe('application/yaml');
    expect(importContentType('plan.json')).toBeNull();
  });

  it('reads the lines of a 422 invalid_sheet', () => {
    expect(
      sheetProblems([{ line: 4, field: '0.planned_duration_s', problem: 'too big' }, { nonsense: true }, 'x']),
    ).toEqual([{ line: 4, field: '0.planned_duration_s', problem: 'too big' }]);
    expect(sheetProblems(undefined)).toEqual([]);
  });
});
