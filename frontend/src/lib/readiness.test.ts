import { describe, expect, it } from 'vitest';
import {
  assignProblem,
  bannerText,
  canRunOps,
  countChecks,
  DRILL_AFTER_S,
  DRILL_SCENARIOS,
  drillConfirmLines,
  drillCountdownText,
  drillLengthS,
  drillSecondsLeft,
  OPS_ROLES,
  orderChecks,
  scenarioInfo,
  scenarioLabel,
  statusOf,
  summaryText,
} from './readiness';
import type { PreflightCheck } from './types';
// The server's own files, read as text: the console's copies must not drift.
import drillServicePy from '../../../app/drills/service.py?raw';
import drillRouterPy from '../../../app/drills/router.py?raw';
import streamDropYaml from '../../../app/connectors/scenarios/drill-stream-drop.yaml?raw';
import spamRaidYaml from '../../../app/connectors/scenarios/drill-spam-raid.yaml?raw';

const check = (status: string, name = 'source', target = 'twitch'): PreflightCheck =>
  ({ name, target, status, detail: `${name} ${status}` }) as PreflightCheck;

describe('preflight checklist', () => {
  it('orders the checks worst first and keeps the server’s order among equals', () => {
    const checks = [
      check('pass', 'source', 'twitch'),
      check('skip', 'test message', ''),
      check('fail', 'source', 'youtube'),
      check('warn', 'poll dry run', 'Best talk?'),
      check('fail', 'source', 'zoom'),
      check('pass', 'clock skew', 'database'),
    ];
    expect(orderChecks(checks).map((c) => `${c.status} ${c.target}`)).toEqual([
      'fail youtube',
      'fail zoom',
      'warn Best talk?',
      'pass twitch',
      'pass database',
      'skip ',
    ]);
    // The input is not reordered in place.
    expect(checks[0].target).toBe('twitch');
  });

  it('an unknown status sorts with the warnings and still reads as a word', () => {
    const odd = check('stale', 'source', 'x');
    expect(orderChecks([check('pass'), odd, check('fail')]).map((c) => c.status)).toEqual(['fail', 'stale', 'pass']);
    expect(statusOf('stale')).toEqual({ icon: '?', word: 'stale' });
    expect(countChecks([odd]).warn).toBe(1);
  });

  it('each status has a mark and a word, never colour alone', () => {
    for (const s of ['pass', 'warn', 'fail', 'skip']) {
      const st = statusOf(s);
      expect(st.word).toBe(s);
      expect(st.icon).not.toBe('');
    }
    expect(new Set(['pass', 'warn', 'fail', 'skip'].map((s) => statusOf(s).icon)).size).toBe(4);
  });

  it('counts and summarises, leaving out the statuses with none', () => {
    const counts = countChecks([check('pass'), check('pass'), check('fail'), check('skip')]);
    expect(counts).toEqual({ pass: 2, warn: 0, fail: 1, skip: 1, total: 4 });
    expect(summaryText(counts)).toBe('1 fail · 2 pass · 1 skip');
    expect(summaryText(countChecks([]))).toBe('no checks');
  });

  it('the banner follows the server’s `passed`, with the reason in words', () => {
    expect(bannerText(true, countChecks([check('pass'), check('skip')]))).toEqual({
      word: 'PASS',
      why: 'ready to go live',
    });
    expect(bannerText(true, countChecks([check('pass'), check('warn'), check('warn')])).why).toBe(
      'ready, with 2 warnings to read',
    );
    expect(bannerText(false, countChecks([check('fail'), check('pass')]))).toEqual({
      word: 'FAIL',
      why: '1 check failed: fix it before going live',
    });
    expect(bannerText(false, countChecks([check('fail'), check('fail')])).why).toBe(
      '2 checks failed: fix them before going live',
    );
    // The server's word wins over the console's own count.
    expect(bannerText(false, countChecks([check('pass')])).word).toBe('FAIL');
    expect(bannerText(true, countChecks([check('fail')])).word).toBe('PASS');
  });

  it('ops leads and admins run it, as the server’s OPS_ROLES says', () => {
    const roles = /OPS_ROLES = frozenset\(r\.value for r in \(([^)]*)\)\)/.exec(drillRouterPy)?.[1] ?? '';
    expect([...roles.matchAll(/Role\.(\w+)/g)].map((m) => m[1]).sort()).toEqual([...OPS_ROLES].sort());
    expect(canRunOps('admin', null)).toBe(true);
    expect(canRunOps('moderator', 'ops_lead')).toBe(true);
    expect(canRunOps('ops_lead', 'moderator')).toBe(false);
    expect(canRunOps('host', 'host')).toBe(false);
    expect(canRunOps(undefined, undefined)).toBe(false);
  });
});

describe('drills', () => {
  it('mirrors the server: the scenarios, their length and the time after', () => {
    expect(Number(/AFTER_S = (\d+)/.exec(drillServicePy)?.[1])).toBe(DRILL_AFTER_S);
    const scenarios = /SCENARIOS = \{([^}]*)\}/.exec(drillServicePy)?.[1] ?? '';
    expect([...scenarios.matchAll(/"(\w+)":/g)].map((m) => m[1]).sort()).toEqual(DRILL_SCENARIOS.map((s) => s.id).sort());
    const yamlLength = (src: string) => Number(/^duration_s: (\d+)/m.exec(src)?.[1]);
    expect(scenarioInfo('stream_drop')?.scenarioS).toBe(yamlLength(streamDropYaml));
    expect(scenarioInfo('spam_raid')?.scenarioS).toBe(yamlLength(spamRaidYaml));
  });

  it('a drill lasts its scenario at its speed, then two minutes more', () => {
    const raid = scenarioInfo('spam_raid')!;
    expect(drillLengthS(raid, 1)).toBe(300 + 120);
    expect(drillLengthS(raid, 20)).toBe(15 + 120);
    expect(drillLengthS(raid, 0)).toBe(420); // a nonsense speed reads as real time
  });

  it('the confirmation says what happens', () => {
    const text = drillConfirmLines(scenarioInfo('spam_raid')!, 20).join('\n');
    expect(text).toContain('rehearsal source');
    expect(text).toContain('"Drill: spam raid"');
    expect(text).toContain('plays for 0:15 at 20×');
    expect(text).toContain('2:00 more');
    expect(text).toContain('marked DRILL');
    expect(text).toContain('kept out of the response metrics');
  });

  it('labels any scenario id', () => {
    expect(scenarioLabel('stream_drop')).toBe('stream drop');
    expect(scenarioLabel('power_cut')).toBe('power cut');
    expect(scenarioInfo('power_cut')).toBeNull();
  });

  it('counts down to `until` at server time, whole seconds rounded up', () => {
    const drill = { until: '2030-01-01T10:02:15Z' };
    const at = (iso: string) => Date.parse(iso);
    expect(drillSecondsLeft(drill, at('2030-01-01T10:00:00Z'))).toBe(135);
    expect(drillSecondsLeft(drill, at('2030-01-01T10:02:14.200Z'))).toBe(1);
    expect(drillSecondsLeft(drill, at('2030-01-01T10:03:00Z'))).toBe(0);
    expect(drillCountdownText(drill, at('2030-01-01T10:00:00Z'))).toBe('ends in 2:15');
    expect(drillCountdownText(drill, at('2030-01-01T10:02:15Z'))).toBe('ending…');
    expect(drillSecondsLeft(null, 0)).toBeNull();
    expect(drillSecondsLeft({ until: 'soon' }, 0)).toBeNull();
    expect(drillCountdownText(null, 0)).toBe('');
  });
});

describe('assigning a role', () => {
  const roles = [{ role: 'lead', user_id: 'u1', user_name: 'Lee' }];

  it('needs a role name (at most 32 characters) and a person', () => {
    expect(assignProblem(roles, '  ', 'u2')).toMatch(/^Name the role/);
    expect(assignProblem(roles, 'x'.repeat(33), 'u2')).toMatch(/at most 32/);
    expect(assignProblem(roles, 'comms', '')).toBe('Choose who takes it.');
  });

  it('says when the person already holds it; a hand-over is fine', () => {
    expect(assignProblem(roles, ' lead ', 'u1')).toBe('Lee is already lead.');
    expect(assignProblem(roles, 'lead', 'u2')).toBeNull();
    expect(assignProblem(roles, 'speaker liaison', 'u1')).toBeNull();
  });
});
