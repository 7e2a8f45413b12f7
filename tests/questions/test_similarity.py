"""Near-duplicate question detection: labelled pairs, normalisation, the index, timing."""

from __future__ import annotations

import random
import time

import pytest

from app.questions.similarity import (
    DEFAULT_THRESHOLD,
    DuplicateIndex,
    normalize_question,
    signature,
    similarity,
)

# Re-asks as they arrive from chat: filler, emoji, case, typos, plural/singular, word
# order, extra or missing words, other languages' punctuation, full-width forms.
DUPLICATES: list[tuple[str, str]] = [
    ("Will the slides be shared?", "are the slides going to be shared after the talk?"),
    ("Is there a recording?", "hey, will this be recorded? 🙏"),
    ("How does it scale?", "how does this thing scale??"),
    ("What's the pricing for teams?", "pricing for teams pls"),
    ("Quick question: does it support SSO?", "Does it support single sign-on (SSO)?"),
    ("Can we get acess to the recordng?", "Can we get access to the recording?"),
    ("Does the API have rate limits?", "are there rate limits on the API"),
    ("Any plans for a mobile app?", "Are there plans for mobile apps?"),
    ("¿Habrá grabación de la charla?", "habra grabacion de la charla??"),
    ("Les slides seront-elles partagées ?", "les slides seront partagées?"),
    ("\u201eGibt es eine Aufzeichnung?\u201c", "Gibt es eine Aufzeichnung 🙂"),
    ("录像会分享吗\uff1f", "录像会分享吗"),
    ("@host can you share the link to the repo?", "Link to the repo please!"),
    ("Does it work offline?", "does it work offline at all???"),
    ("How do you handle GDPR compliance?", "how do you handle gdpr"),
    ("What database do you use under the hood?", "which DB are you using under the hood"),
    ("Will the Q&A be recorded too?", "is the Q and A being recorded"),
    ("When does the next session start?", "what time does the next session start"),
    ("thanks! will the slides be shared?? 🙏🙏", "Will slides be shared"),
    ("Does it support Kubernetes?", "does it suport kubernets"),
    ("What's the roadmap for 2025?", "Q: roadmap for 2025?"),
    ("Is the code open source?", "is the source code open?"),
    ("How long is the free trial?", "How long does the free trial last?"),
    ("Can I use it with Postgres?", "can i use it with postgresql"),
    ("Where can I find the docs?", "where can i find the documentation??"),
    ("Will the deck be available after the webinar?", "will the slides be posted afterwards"),
    ("Is the recording going to be sent to attendees?", "will attendees get the recording"),
    ("How do you migrate from v1 to v2?", "migrating from v1 to v2, how?"),
    ("Does it integrate with Slack?", "Slack integration?"),
    ("What's the max number of participants per room?", "max participants per room?"),
    ("Why did you pick Rust over Go?", "why rust over go ??"),
    ("Is there an on-prem version?", "is there an on prem version available"),
    (
        "\uff21\uff30\uff29 ドキュメントはありますか\uff1f",  # full-width "API" and "?"
        "API ドキュメントはありますか",
    ),
    ("Can you zoom in on the diagram?", "pls zoom in on the diagram 🔍"),
    ("Is the event free?", "hey is this event free??"),
    ("How do you test the sync engine?", "how do u test ur sync engine"),
    ("Is there a free tier?", "is there a free plan?"),
    ("What stack is the frontend built with?", "what's the frontend built with?"),
    ("Could you repeat the last question?", "can u repeat the question pls"),
    ("Is this session being recorded?", "recording of this session?"),
    ("Do you have any benchmarks vs Kafka?", "benchmarks compared to kafka?"),
    ("Where do I submit feedback?", "how can I give feedback?"),
    ("Will there be a part 2?", "is there gonna be a part two?"),
    ("Can you share the GitHub link?", "github link??"),
    ("Is the audio working for everyone?", "audio not working?"),
    ("How did you get started with open source?", "how did you start contributing to open source?"),
]

# Hard negatives: same shape and most of the same words, but a different question.
NEAR_MISSES: list[tuple[str, str]] = [
    ("How does it scale?", "How much does it cost?"),
    ("Will the slides be shared?", "Will the recording be shared?"),
    ("Does it support SSO?", "Does it support SAML?"),
    ("Does it work offline?", "Does it work on Linux?"),
    ("What's the roadmap for 2025?", "What's the roadmap for 2026?"),
    ("When does the next session start?", "Where does the next session start?"),
    ("Is there a recording?", "Is there a transcript?"),
    ("Can I get access to the repo?", "Can I get access to the recording?"),
    ("Will the slides be shared?", "Will the slides be translated?"),
    ("Does it support Python 3?", "Does it support Python 2?"),
    ("Is the API rate limited?", "Is the API open source?"),
    ("Any plans for a mobile app?", "Any plans for a desktop app?"),
    ("How do I reset my password?", "How do I change my password?"),
    ("Is the event free?", "Is the event online?"),
    ("¿Habrá grabación de la charla?", "¿Habrá traducción de la charla?"),
    ("Is there a discount for students?", "Is there a discount for nonprofits?"),
    ("Can you share the link to the repo?", "Can you share the link to the survey?"),
    ("What time zone is the event in?", "What time is the event?"),
    ("Who is the next speaker?", "When is the next speaker?"),
    ("How do you migrate from v1 to v2?", "How do you migrate from v2 to v3?"),
    ("Does it integrate with Slack?", "Does it integrate with Teams?"),
    ("Les slides seront-elles partagées ?", "Les vidéos seront-elles partagées ?"),
    ("Is the code open source?", "Is the code on GitHub?"),
    ("How long is the free trial?", "How long is the talk?"),
    ("录像会分享吗\uff1f", "幻灯片会分享吗\uff1f"),
    ("What database do you use?", "What language do you use?"),
    ("Can I use it with Postgres?", "Can I use it with MySQL?"),
    ("How many users can it handle?", "How does it handle users?"),
    ("Is the keynote recorded?", "Is the workshop recorded?"),
    ("Why did you pick Rust over Go?", "Would you pick Rust over Go again?"),
    ("Does it support dark mode?", "Does it support SSO?"),
    ("Is it GDPR compliant?", "Is it HIPAA compliant?"),
    ("Can I share the slides with my team?", "Will the slides be shared?"),
    ("Is the audio working?", "Is the video working?"),
    ("Will there be a part 2?", "Will there be a part 3?"),
    ("Can you share the GitHub link?", "Can you share the Discord link?"),
    ("What's the difference between v1 and v2?", "How do you migrate from v1 to v2?"),
    ("Is it open source?", "Is it free?"),
    ("Does the free plan include SSO?", "Does the enterprise plan include SSO?"),
    ("¿Cuándo empieza la próxima charla?", "¿Dónde es la próxima charla?"),
]

# Floors: a moderator should see at most 1 wrong suggestion in 10 and be offered at least
# 9 in 10 re-asks. On this set the default threshold gives P 0.956 / R 0.935 (2 false
# positives that need semantics, "pick Rust again?" and "share with my team?", and 3
# misses: "tier"/"plan", "where"/"how ... feedback", "repeat the last question"), so the
# floors leave room for one more error each but fail on any real regression (dropping
# the question-word penalty alone costs 3 false positives).
PRECISION_FLOOR = 0.9
RECALL_FLOOR = 0.9


def _precision_recall(threshold: float) -> tuple[float, float, list[str]]:
    errors: list[str] = []
    tp = fp = fn = 0
    for label, pairs in ((True, DUPLICATES), (False, NEAR_MISSES)):
        for a, b in pairs:
            score = similarity(signature(a), signature(b))
            predicted = score >= threshold
            tp += predicted and label
            fp += predicted and not label
            fn += label and not predicted
            if predicted != label:
                kind = "missed" if label else "false match"
                errors.append(f"{kind} {score:.3f}: {a!r} / {b!r}")
    return tp / max(1, tp + fp), tp / (tp + fn), errors


def test_labelled_set_is_large_and_hard() -> None:
    assert len(DUPLICATES) + len(NEAR_MISSES) >= 30
    # Most near-misses share content words with their partner, so bag-of-words overlap
    # alone cannot separate them: a naive containment baseline fails the precision floor.
    sharing = [(a, b) for a, b in NEAR_MISSES if signature(a).tokens & signature(b).tokens]
    assert len(sharing) >= 25

    def naive(a: str, b: str) -> bool:
        ta, tb = signature(a).tokens, signature(b).tokens
        return bool(ta and tb) and len(ta & tb) / min(len(ta), len(tb)) >= 0.5

    fp = sum(naive(a, b) for a, b in NEAR_MISSES)
    tp = sum(naive(a, b) for a, b in DUPLICATES)
    assert tp / (tp + fp) < PRECISION_FLOOR


def test_precision_and_recall_on_labelled_pairs() -> None:
    precision, recall, errors = _precision_recall(DEFAULT_THRESHOLD)
    print(f"\nthreshold {DEFAULT_THRESHOLD}: precision {precision:.3f} recall {recall:.3f}")
    print("\n".join(errors))
    assert precision >= PRECISION_FLOOR, errors
    assert recall >= RECALL_FLOOR, errors


def test_required_examples() -> None:
    slides = similarity(
        signature("Will the slides be shared?"),
        signature("are the slides going to be shared after the talk?"),
    )
    assert slides >= DEFAULT_THRESHOLD
    scale_cost = similarity(signature("How does it scale?"), signature("How much does it cost?"))
    assert scale_cost < DEFAULT_THRESHOLD


# --------------------------------------------------------------------------- normalize


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Will the SLIDES be shared?!", "will the slides be shared"),
        ("hey @host quick question: is there a recording? 🙏🙏 thanks!!", "is there a recording"),
        ("pls share the deck https://example.com/x?y=1 thx", "share the deck"),
        ("¿Habrá grabación de la charla?", "habra grabacion de la charla"),
        ("Les slides seront-elles partagées ?", "les slides seront elles partagees"),
        ("\u201eGibt es eine Aufzeichnung?\u201c", "gibt es eine aufzeichnung"),
        ("\uff21\uff30\uff29\uff1f", "api"),
        (
            "What's the plan? It won't scale, can't it?",
            "what is the plan it will not scale can not it",
        ),
        ("Q: sooooo is it free???", "soo is it free"),
        ("Will the Q&A be recorded?", "will the qa be recorded"),
        ("录像会分享吗\uff1f", "录像会分享吗"),
        ("   ", ""),
        ("🙏🙏🙏", ""),
    ],
)
def test_normalize_question(raw: str, expected: str) -> None:
    assert normalize_question(raw) == expected


def test_normalize_caps_long_pastes() -> None:
    assert len(normalize_question("word " * 10_000)) <= 1000


# --------------------------------------------------------------------------- signature


def test_signature_drops_stopwords_and_filler_and_folds_forms() -> None:
    sig = signature("Hey @host, are the slides going to be shared after the talk? 🙏")
    assert sig.tokens == signature("slide share talk").tokens
    assert "the" not in sig.tokens and "hey" not in sig.tokens


@pytest.mark.parametrize(
    "variants",
    [
        ("share", "shared", "sharing", "shares"),
        ("slide", "slides", "deck"),
        ("recording", "recordings", "recorded", "replay"),
        ("plan", "plans", "planned", "planning"),
        ("integration", "integrations"),
        ("price", "pricing", "cost", "costs"),
        ("repo", "repository", "repos"),
        ("two", "2"),
    ],
)
def test_signature_folds_variants_to_one_token(variants: tuple[str, ...]) -> None:
    tokens = {signature(f"what about {v}").tokens for v in variants}
    assert len(tokens) == 1 and len(next(iter(tokens))) == 1


def test_signature_question_words() -> None:
    assert signature("When does it start?").wh == {"when"}
    assert signature("what time does it start").wh == {"when"}
    assert signature("what time zone is it in").tokens == {"tim", "zon"}
    assert signature("How much does it cost?").wh == {"howmuch"}
    assert signature("How does it scale?").wh == {"how"}
    assert signature("Is there a recording?").wh == frozenset()


def test_signature_shingles_and_cjk_bigrams() -> None:
    sig = signature("recording")
    assert {"#re", "rec", "ord", "rd#"} <= sig.shingles
    assert signature("录像会分享吗").tokens == {"录像", "像会", "会分", "分享", "享吗"}


def test_similarity_is_symmetric_bounded_and_exact_for_identical() -> None:
    texts = [a for pair in DUPLICATES + NEAR_MISSES for a in pair]
    sigs = [signature(t) for t in texts[:40]]
    for x in sigs:
        assert similarity(x, x) == pytest.approx(1.0) or not x.terms
        for y in sigs:
            s = similarity(x, y)
            assert 0.0 <= s <= 1.0
            assert s == pytest.approx(similarity(y, x))
    assert similarity(signature("???"), signature("!!!")) == 0.0


def test_typos_match_but_numbers_do_not() -> None:
    assert similarity(signature("recording"), signature("recordng")) > 0.6
    assert similarity(signature("kubernetes support"), signature("kubernets suport")) > 0.6
    assert similarity(signature("roadmap 2025"), signature("roadmap 2026")) < 0.4


# --------------------------------------------------------------------------- index


def test_index_add_candidates_remove() -> None:
    index: DuplicateIndex[str] = DuplicateIndex()
    index.add("q1", "Will the slides be shared?")
    index.add("q2", "How much does it cost?")
    index.add("q3", "Is there a recording of the keynote?")
    assert len(index) == 3 and "q1" in index

    found = index.candidates("are the slides going to be shared after the talk? 🙏")
    assert [qid for qid, _ in found] == ["q1"]
    assert DEFAULT_THRESHOLD <= found[0][1] <= 1.0
    assert index.candidates("How does it scale?") == []

    assert index.remove("q1") is True
    assert index.remove("q1") is False
    assert index.candidates("will the slides be shared") == []
    assert "q1" not in index and len(index) == 2


def test_index_orders_limits_and_excludes() -> None:
    index: DuplicateIndex[int] = DuplicateIndex()
    index.add(1, "will the slides be shared")
    index.add(2, "will the slides be shared after the talk")
    index.add(3, "are the slides going to be shared after the keynote talk")
    index.add(4, "will the slides be translated")
    found = index.candidates("Will the slides be shared?", limit=3)
    assert [qid for qid, _ in found] == [1, 2, 3]
    assert [s for _, s in found] == sorted((s for _, s in found), reverse=True)
    assert [qid for qid, _ in index.candidates("Will the slides be shared?", limit=1)] == [1]
    assert index.candidates("Will the slides be shared?", limit=0) == []
    assert 1 not in [q for q, _ in index.candidates("will the slides be shared", exclude=1)]


def test_index_finds_typos_in_either_direction() -> None:
    index: DuplicateIndex[str] = DuplicateIndex()
    index.add("typo", "can we get acess to the recordng")
    index.add("clean", "does it support kubernetes")
    assert [q for q, _ in index.candidates("Can we get access to the recording?")] == ["typo"]
    assert [q for q, _ in index.candidates("does it suport kubernets?")] == ["clean"]


def test_index_readd_replaces_text() -> None:
    index: DuplicateIndex[str] = DuplicateIndex()
    index.add("q", "Is there a recording?")
    index.add("q", "How much does it cost?")
    assert len(index) == 1
    assert index.candidates("is there a recording") == []
    assert [q for q, _ in index.candidates("what's the pricing?")] == ["q"]


def test_index_memory_is_bounded_and_cleaned_up() -> None:
    index: DuplicateIndex[int] = DuplicateIndex(max_questions=3)
    for i, text in enumerate(["slides shared?", "recording?", "pricing?", "kubernetes?"]):
        index.add(i, text)
    assert len(index) == 3 and 0 not in index  # oldest evicted
    assert index.candidates("will the slides be shared") == []
    for i in (1, 2, 3):
        index.remove(i)
    assert index._postings == {} and index._surface == {} and index._shingle_stems == {}
    assert index._added == {}


def test_index_rejects_bad_settings() -> None:
    with pytest.raises(ValueError):
        DuplicateIndex(threshold=1.5)
    with pytest.raises(ValueError):
        DuplicateIndex(max_questions=0)


def test_index_agrees_with_brute_force_on_labelled_set() -> None:
    texts = sorted({t for pair in DUPLICATES + NEAR_MISSES for t in pair})
    index: DuplicateIndex[int] = DuplicateIndex()
    sigs = {i: index.add(i, t) for i, t in enumerate(texts)}
    for query in texts:
        q = signature(query)
        expected = {i for i, s in sigs.items() if similarity(q, s) >= DEFAULT_THRESHOLD}
        assert {i for i, _ in index.candidates(query, limit=len(texts))} == expected, query


def test_index_ties_go_to_the_older_question() -> None:
    index: DuplicateIndex[str] = DuplicateIndex()
    for qid in ("b-first", "a-second", "c-third"):
        index.add(qid, "Will the slides be shared?")
    found = index.candidates("will slides be shared")
    assert [q for q, _ in found] == ["b-first", "a-second", "c-third"]


# --------------------------------------------------------------------------- timing

_TOPICS = [
    "slides", "recording", "pricing", "sso", "kubernetes", "roadmap", "api", "mobile app",
    "desktop app", "offline mode", "gdpr", "hipaa", "postgres", "mysql", "rate limits",
    "free tier", "enterprise plan", "sdk", "webhooks", "audit log", "dark mode", "backups",
    "migration", "sync engine", "search", "analytics", "billing", "onboarding", "latency",
    "encryption", "sharding", "replication", "caching", "plugins", "themes", "exports",
]  # fmt: skip
_TEMPLATES = [
    "How does the {t} handle {u}?", "Will the {t} support {u}?", "Is {t} available for {u}?",
    "When will {t} ship for {u}?", "Can we use {t} with {u}?", "What's the plan for {t} and {u}?",
    "Does {t} work with {u}?", "Why is {t} slower with {u}?", "Any docs on {t} for {u}?",
    "Is there a limit on {t} per {u}?",
]  # fmt: skip
_QUALIFIERS = [
    "large teams", "students", "nonprofits", "europe", "android", "ios", "linux", "windows",
    "safari", "firefox", "self hosting", "on prem", "multi region", "the free plan", "v2",
    "v3", "python", "rust", "go", "java", "spreadsheets", "slack", "teams", "zoom", "discord",
    "okta", "azure", "aws", "gcp", "terraform", "graphql", "grpc", "websockets", "ci", "cd",
]  # fmt: skip


def _typo(rng: random.Random, text: str) -> str:
    words = text.split()
    i = rng.randrange(len(words))
    w = words[i]
    if len(w) > 4:
        j = rng.randrange(1, len(w) - 1)
        words[i] = w[:j] + w[j + 1 :]
    return " ".join(words)


def test_timing_5000_open_questions() -> None:
    """Measured, not asserted: build time and lookup latency for a busy event."""
    rng = random.Random(7)
    texts = [tpl.format(t=t, u=u) for tpl in _TEMPLATES for t in _TOPICS for u in _QUALIFIERS]
    rng.shuffle(texts)
    texts = texts[:5000]
    assert len(texts) == 5000

    index: DuplicateIndex[int] = DuplicateIndex()
    start = time.perf_counter()
    for i, text in enumerate(texts):
        index.add(i, text)
    build = time.perf_counter() - start

    queries = [
        rng.choice(["hey ", "quick question: ", "@host ", ""]) + _typo(rng, texts[i]) + " 🙏"
        for i in rng.sample(range(5000), 500)
    ]
    start = time.perf_counter()
    results = [index.candidates(q) for q in queries]
    lookup = (time.perf_counter() - start) / len(queries)

    start = time.perf_counter()
    qsig = signature(queries[0])
    for sig in (index.signature_of(i) for i in range(5000)):
        assert sig is not None
        similarity(qsig, sig)
    brute = time.perf_counter() - start

    found = sum(bool(r) for r in results)
    print(
        f"\n5,000 questions: build {build * 1000:.0f} ms ({build / 5000 * 1e6:.0f} us/question),"
        f" lookup {lookup * 1000:.2f} ms mean over {len(queries)} re-asks with typos"
        f" (brute-force scan: {brute * 1000:.0f} ms); {found}/{len(queries)} found a match"
    )
    # Functional, not a timing: re-asks of indexed questions do come back.
    assert found >= 0.9 * len(queries)
