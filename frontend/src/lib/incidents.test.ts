import { describe, expect, it } from 'vitest';
import {
  ALLOWED,
  overdue,
  ageText,
  applyIncident,
  applyTimeline,
  canMove,
  escalationText,
  milestones,
  moveCursor,
  moveProblem,
  OPS_LEGEND,
  opsKeyAction,
  prefillFromSignal,
  rankOpen,
  resolvedList,
  signalsNewestFirst,
  STATES,
  stepCounts,
  toggledStepState,
} from './incidents';
import { detectorSignal, incident, incidentStep, timelineEntry } from './test-utils';
import type { Incident, IncidentState, TimelineEntry } from './types';
// The server's own file, read as text: the console's copy of the lifecycle must not drift.
import lifecyclePy from '../../../app/incidents/lifecycle.py?raw';

const T0 = Date.parse('2030-01-01T10:00:00Z');

/** ALLOWED as app/incidents/lifecycle.py writes it: `S.from: frozenset({S.a, S.b})`. */
function serverAllowed(): Record<string, string[]> {
  const src = lifecyclePy;
  const block = src.slice(src.indexOf('ALLOWED'), src.indexOf('}\n', src.indexOf('ALLOWED')));
  const out: Record<string, string[]> = {};
  for (const m of block.matchAll(/S\.(\w+):\s*frozenset\((?:\{([^}]*)\})?\)/g))
    out[m[1]] = [...(m[2] ?? '').matchAll(/S\.(\w+)/g)].map((x) => x[1]).sort();
  return out;
}

describe('lifecycle', () => {
  it('mirrors the server’s ALLOWED moves exactly', () => {
    const server = serverAllowed();
    expect(Object.keys(server).sort()).toEqual([...STATES].sort());
    const ours = Object.fromEntries(Object.entries(ALLOWED).map(([k, v]) => [k, [...v].sort()]));
    expect(ours).toEqual(server);
  });

  it('spells out the moves of the brief', () => {
    expect(ALLOWED.triage).toEqual(['acknowledged', 'mitigating', 'monitoring', 'resolved', 'cancelled']);
    expect(ALLOWED.resolved).toEqual(['closed', 'mitigating']);
    expect(canMove('monitoring', 'mitigating')).toBe(true);
    expect(canMove('acknowledged', 'acknowledged')).toBe(false);
    expect(canMove('closed', 'mitigating')).toBe(false);
    expect(canMove('nonsense', 'resolved')).toBe(false);
  });

  it('says why a move is refused, naming the moves that are allowed', () => {
    expect(moveProblem({ number: 3, state: 'triage' }, 'acknowledged')).toBeNull();
    expect(moveProblem({ number: 3, state: 'acknowledged' }, 'acknowledged')).toBe('#3 is already acknowledged.');
    expect(moveProblem({ number: 3, state: 'mitigating' }, 'closed')).toBe(
      '#3 is mitigating: it can go to monitoring, resolved, cancelled, not closed.',
    );
    expect(moveProblem({ number: 3, state: 'closed' }, 'resolved')).toBe('#3 is closed: it is over.');
  });
});

describe('ranking', () => {
  const at = (s: number) => new Date(T0 + s * 1000).toISOString();

  it('puts the worst severity first, then the oldest, and leaves closed ones out', () => {
    const list = [
      incident({ id: 'a', number: 1, severity: 'sev3', detected_at: at(0) }),
      incident({ id: 'b', number: 2, severity: 'sev1', detected_at: at(30) }),
      incident({ id: 'c', number: 3, severity: 'sev1', detected_at: at(10) }),
      incident({ id: 'd', number: 4, severity: 'sev2', detected_at: at(5), state: 'monitoring' }),
      incident({ id: 'e', number: 5, severity: 'sev1', detected_at: at(0), state: 'resolved' }),
      incident({ id: 'f', number: 6, severity: 'sev1', detected_at: at(0), state: 'cancelled' }),
    ];
    expect(rankOpen(list).map((i) => i.id)).toEqual(['c', 'b', 'd', 'a']);
  });

  it('falls back to declared then created time, then the number', () => {
    const list = [
      incident({ id: 'late', number: 2, detected_at: null, declared_at: at(20) }),
      incident({ id: 'early', number: 3, detected_at: null, declared_at: null, created_at: at(1) }),
      incident({ id: 'tie', number: 1, detected_at: at(20) }),
    ];
    expect(rankOpen(list).map((i) => i.id)).toEqual(['early', 'tie', 'late']);
  });

  it('lists resolved ones most recently resolved first', () => {
    const list = [
      incident({ id: 'r1', state: 'resolved', resolved_at: at(10) }),
      incident({ id: 'r2', state: 'resolved', resolved_at: at(50) }),
      incident({ id: 'open' }),
    ];
    expect(resolvedList(list).map((i) => i.id)).toEqual(['r2', 'r1']);
  });
});

describe('clocks', () => {
  it('counts the age from detection', () => {
    const inc = incident({ detected_at: '2030-01-01T10:00:00Z' });
    expect(ageText(inc, T0 + 65_400)).toBe('1:05');
    expect(ageText(inc, T0 - 5_000)).toBe('0:00');
    expect(ageText(incident({ detected_at: null, declared_at: null, created_at: 'x' }), T0)).toBe('–');
  });

  it('counts down to the next escalation against the server clock, only in triage', () => {
    const inc = incident({ next_escalation_at: '2030-01-01T10:02:00Z' });
    expect(escalationText(inc, T0 + 78_000)).toBe('escalates in 0:42');
    expect(escalationText(inc, T0 + 78_500)).toBe('escalates in 0:42'); // whole seconds, rounded up
    expect(escalationText(inc, T0 + 120_000)).toBe('escalating…');
    expect(escalationText({ ...inc, state: 'acknowledged' }, T0)).toBeNull();
    expect(escalationText({ ...inc, next_escalation_at: null }, T0)).toBeNull();
  });

  it('lists the milestones reached, in order', () => {
    const inc = incident({
      impact_started_at: '2030-01-01T09:59:00Z',
      acknowledged_at: '2030-01-01T10:00:12Z',
      resolved_at: null,
    });
    expect(milestones(inc).map((m) => m.label)).toEqual(['impact started', 'detected', 'declared', 'acknowledged']);
  });
});

describe('steps', () => {
  it('counts done, skipped, open and ad hoc', () => {
    const steps = [
      incidentStep({ state: 'done' }),
      incidentStep({ state: 'skipped' }),
      incidentStep({ state: 'in_progress', from_playbook: false }),
      incidentStep({ state: 'todo' }),
    ];
    expect(stepCounts(steps)).toEqual({ total: 4, done: 1, skipped: 1, open: 2, adHoc: 1 });
    expect(stepCounts([])).toEqual({ total: 0, done: 0, skipped: 0, open: 0, adHoc: 0 });
  });

  it('toggles done and todo', () => {
    expect(toggledStepState('todo')).toBe('done');
    expect(toggledStepState('in_progress')).toBe('done');
    expect(toggledStepState('done')).toBe('todo');
  });
});

describe('keys', () => {
  const k = (key: string, more: Record<string, unknown> = {}) => opsKeyAction({ key, ...more }, false);

  it('moves with j/k and the arrows, acts with one letter per move', () => {
    expect(k('j')).toEqual({ kind: 'move', delta: 1 });
    expect(k('ArrowUp')).toEqual({ kind: 'move', delta: -1 });
    expect(k('J')).toEqual({ kind: 'move', delta: 1 }); // Caps Lock
    const moves: Record<string, IncidentState> = { a: 'acknowledged', m: 'mitigating', o: 'monitoring', r: 'resolved', c: 'closed' };
    for (const [key, to] of Object.entries(moves)) expect(k(key)).toEqual({ kind: 'transition', to });
    expect(k('s')).toEqual({ kind: 'steps' });
    expect(k('n')).toEqual({ kind: 'note' });
    expect(k('i')).toEqual({ kind: 'new' });
    expect(k('Escape')).toEqual({ kind: 'escape' });
  });

  it('stays out of the way while typing, with modifiers, and on auto-repeat', () => {
    expect(opsKeyAction({ key: 'a' }, true)).toBeNull();
    expect(opsKeyAction({ key: 'j' }, true)).toBeNull();
    expect(opsKeyAction({ key: 'Escape' }, true)).toEqual({ kind: 'escape' });
    expect(k('a', { ctrlKey: true })).toBeNull();
    expect(k('r', { metaKey: true })).toBeNull();
    expect(k('A', { shiftKey: true })).toBeNull();
    expect(k('r', { repeat: true })).toBeNull();
    expect(k('j', { repeat: true })).toEqual({ kind: 'move', delta: 1 });
    expect(k(' ')).toBeNull();
    expect(k('Enter')).toBeNull();
    expect(opsKeyAction({ key: 'a', isComposing: true }, false)).toBeNull();
  });

  it('the legend names every key the map knows', () => {
    const keys = OPS_LEGEND.map((l) => l.keys).join(' ');
    for (const key of ['j', 'k', 'a', 'm', 'o', 'r', 'c', 's', 'n', 'i', 'Esc']) expect(keys).toContain(key);
  });

  it('moves the cursor within the list', () => {
    const ids = ['a', 'b', 'c'];
    expect(moveCursor(ids, null, 1)).toBe('a');
    expect(moveCursor(ids, null, -1)).toBe('c');
    expect(moveCursor(ids, 'a', 1)).toBe('b');
    expect(moveCursor(ids, 'c', 1)).toBe('c');
    expect(moveCursor(ids, 'a', -1)).toBe('a');
    expect(moveCursor(ids, 'gone', 1)).toBe('a');
    expect(moveCursor([], 'a', 1)).toBeNull();
  });
});

describe('reducers', () => {
  it('keeps the newest version of an incident (an equal one replaces)', () => {
    const map = new Map<string, Incident>();
    expect(applyIncident(map, incident({ version: 2, state: 'acknowledged' }))).toBe(true);
    expect(applyIncident(map, incident({ version: 1, state: 'triage' }))).toBe(false);
    expect(map.get('i1')?.state).toBe('acknowledged');
    expect(applyIncident(map, incident({ version: 2, state: 'acknowledged', title: 'Renamed' }))).toBe(true);
    expect(map.get('i1')?.title).toBe('Renamed');
    expect(applyIncident(map, { id: 'x' } as unknown as Incident)).toBe(false);
    expect(applyIncident(map, null)).toBe(false);
  });

  it('files timeline entries under their incident in id order, once', () => {
    const map = new Map<string, TimelineEntry[]>();
    applyTimeline(map, timelineEntry({ id: 3 }));
    applyTimeline(map, timelineEntry({ id: 1 }));
    expect(applyTimeline(map, timelineEntry({ id: 3 }))).toBe(false);
    applyTimeline(map, timelineEntry({ id: 2, incident_id: 'i2' }));
    applyTimeline(map, timelineEntry({ id: 4 }));
    expect(map.get('i1')?.map((t) => t.id)).toEqual([1, 3, 4]);
    expect(map.get('i2')?.map((t) => t.id)).toEqual([2]);
  });

  it('orders signals newest first and keeps the latest few', () => {
    const list = [
      detectorSignal({ id: 'old', at: '2030-01-01T10:00:00Z' }),
      detectorSignal({ id: 'new', at: '2030-01-01T10:05:00Z' }),
      detectorSignal({ id: 'mid', at: '2030-01-01T10:02:00Z' }),
    ];
    expect(signalsNewestFirst(list).map((s) => s.id)).toEqual(['new', 'mid', 'old']);
    expect(signalsNewestFirst(list, 2).map((s) => s.id)).toEqual(['new', 'mid']);
  });

  it('prefills the open form from a suggestion: its entry, or its signal as the title', () => {
    expect(prefillFromSignal(detectorSignal())).toEqual({
      slug: 'engagement-drop',
      note: 'Detector: chat per 100 viewers fell to 0.4 per minute (floor 1.0)',
    });
    expect(prefillFromSignal(detectorSignal({ entry_slug: null, signal: 'ingest_lag', scope: 'platform:twitch' }))).toMatchObject({
      slug: null,
      title: 'ingest lag (platform:twitch)',
    });
  });
});

describe('playbook targets', () => {
  const base = {
    state: 'triage' as const,
    plan: { targets: { acknowledge_s: 60, mitigate_s: 300 } },
    detected_at: '2030-01-01T10:00:00Z',
    declared_at: '2030-01-01T10:00:00Z',
    created_at: '2030-01-01T10:00:00Z',
    acknowledged_at: null,
    mitigated_at: null,
  };
  const at = (s: number) => Date.parse('2030-01-01T10:00:00Z') + s * 1000;

  it('says which target was missed, and nothing before it or once met', () => {
    expect(overdue(base, at(59))).toBeNull();
    expect(overdue(base, at(61))).toBe('not acknowledged within 60 s');
    const acked = { ...base, state: 'mitigating' as const, acknowledged_at: '2030-01-01T10:00:30Z' };
    expect(overdue(acked, at(200))).toBeNull();
    expect(overdue(acked, at(301))).toBe('not mitigated within 300 s');
    expect(overdue({ ...acked, state: 'resolved' as const }, at(999))).toBeNull();
    expect(overdue({ ...base, plan: {} }, at(999))).toBeNull();
  });
});
