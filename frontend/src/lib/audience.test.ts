import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  AudienceError,
  emptyOwn,
  explain,
  fetchState,
  learnOwn,
  withOwn,
  questionProblem,
  remaining,
  resultBars,
  sendQuestion,
  textLength,
  toggleChoice,
  type AudiencePoll,
  type AudienceState,
} from './audience';

const poll = (over: Partial<AudiencePoll> = {}): AudiencePoll => ({
  id: 'p1',
  title: 'Best talk?',
  kind: 'single',
  state: 'closed',
  options: ['Keynote', 'Panel', 'Demo'],
  closes_at: null,
  my_choices: null,
  results: { options: [1, 0, 3], total_voters: 4, average: null },
  ...over,
});

describe('audience page rules', () => {
  it('counts characters as the server does: trimmed, emoji once', () => {
    expect(textLength('  hi  ')).toBe(2);
    expect(textLength('👍🏽')).toBe(2);
    expect(remaining('abc', 5)).toBe(2);
    expect(remaining('a'.repeat(7), 5)).toBe(-2);
  });

  it('says what to fix before sending', () => {
    expect(questionProblem('   ', '')).toMatch(/Write your question/);
    expect(questionProblem('a'.repeat(501), '')).toMatch(/501 characters/);
    expect(questionProblem('ok?', 'n'.repeat(61))).toMatch(/at most 60/);
    expect(questionProblem('bell\u0007', '')).toMatch(/control/);
    expect(questionProblem('evil \u202egnp', '')).toMatch(/control/);
    expect(questionProblem('<script>alert(1)</script>', '<b>x</b>')).toBeNull();
    expect(questionProblem('line one\nline two', '')).toBeNull();
  });

  it('keeps one choice on single and rating polls and toggles on multiple', () => {
    expect(toggleChoice('single', [1], 2)).toEqual([2]);
    expect(toggleChoice('rating', [], 4)).toEqual([4]);
    expect(toggleChoice('multiple', [3], 1)).toEqual([1, 3]);
    expect(toggleChoice('multiple', [1, 3], 3)).toEqual([1]);
  });

  it('draws result bars only when results are shown', () => {
    expect(resultBars(poll()).map((b) => b.percent)).toEqual([25, 0, 75]);
    expect(resultBars(poll({ state: 'open', results: null }))).toEqual([]);
    const none = poll({ results: { options: [0, 0, 0], total_voters: 0, average: null } });
    expect(resultBars(none).map((b) => b.percent)).toEqual([0, 0, 0]);
  });

  it('explains a rate limit with the wait', () => {
    expect(explain(new AudienceError(429, 'rate_limited', 'too many', 12))).toMatch(/12 s/);
    expect(explain(new AudienceError(413, 'text_too_long', 'shorten it'))).toBe('shorten it');
    expect(explain(new TypeError('fetch failed'))).toMatch(/connection/);
  });
});

describe('audience API', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('sends a question as plain JSON and drops the name when anonymous', async () => {
    const fetchMock = vi.fn(async () => new Response(JSON.stringify({ id: 'q', status: 'received' }), { status: 202 }));
    vi.stubGlobal('fetch', fetchMock);
    await sendQuestion('ab/c', { id: 'r1', text: '  Why?  ', name: 'Ana', anonymous: true });
    const [url, init] = fetchMock.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe('/api/a/ab%2Fc/questions');
    expect(JSON.parse(String(init.body))).toEqual({ id: 'r1', text: 'Why?', anonymous: true, name: null });
  });

  it('turns an error body and Retry-After into an AudienceError', async () => {
    const body = { error: { code: 'rate_limited', message: 'too many questions' } };
    vi.stubGlobal(
      'fetch',
      vi.fn(async () => new Response(JSON.stringify(body), { status: 429, headers: { 'Retry-After': '7' } })),
    );
    const error = await fetchState('abc').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AudienceError);
    expect((error as AudienceError).retryAfterS).toBe(7);
    expect((error as AudienceError).code).toBe('rate_limited');
  });
});

describe("the page's own ballot and upvotes", () => {
  const state = (over: Partial<AudienceState> = {}): AudienceState => ({
    event: { title: 'Show', status: 'live' },
    poll: poll({ state: 'open', results: null }),
    questions: [
      { id: 'q1', text: 'One?', author: 'Ana', votes: 2, state: 'approved', voted: true },
      { id: 'q2', text: 'Two?', author: 'Bo', votes: 0, state: 'approved', voted: false },
    ],
    limits: { max_text: 500, max_name: 60 },
    ...over,
  });

  it('learns them from a first load and fills them into shared refreshes', () => {
    const own = learnOwn(emptyOwn(), state({ poll: poll({ state: 'open', my_choices: [2] }) }));
    const shared = state({
      poll: poll({ state: 'open', my_choices: undefined }),
      questions: state().questions.map(({ voted: _v, ...q }) => q),
    });
    const shown = withOwn(shared, own);
    expect(shown.poll?.my_choices).toEqual([2]);
    expect(shown.questions.map((q) => q.voted)).toEqual([true, false]);
  });

  it('shows no ballot for a poll this browser has not voted in', () => {
    const own = { choices: { p0: [1] }, voted: new Set<string>() };
    expect(withOwn(state({ poll: poll({ id: 'p9', my_choices: undefined }) }), own).poll?.my_choices).toBeNull();
  });

  it('asks for its own ballot only when told to', async () => {
    const fetchMock = vi.fn(async () => new Response(JSON.stringify(state()), { status: 200 }));
    vi.stubGlobal('fetch', fetchMock);
    await fetchState('abc');
    await fetchState('abc', false);
    const urls = fetchMock.mock.calls.map((c) => (c as unknown as [string])[0]);
    expect(urls).toEqual(['/api/a/abc', '/api/a/abc?mine=false']);
    vi.unstubAllGlobals();
  });
});
