"""Near-duplicate question detection: re-asked questions become merge suggestions.

Pure stdlib and deterministic. A question is reduced to a `Signature` (content stems,
their surface words, character 3-gram shingles, and its question word), two signatures
are compared with `similarity`, and `DuplicateIndex` finds the few open questions worth
comparing against through inverted indexes, so a lookup never scans the whole queue.
"""

from __future__ import annotations

import functools
import heapq
import math
import re
import unicodedata
from collections import Counter, OrderedDict
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = [
    "DEFAULT_THRESHOLD",
    "DuplicateIndex",
    "Signature",
    "normalize_question",
    "signature",
    "similarity",
]

K = TypeVar("K", bound=Hashable)

# Threshold: tuned on the 86 labelled pairs in tests/questions/test_similarity.py, where
# re-asks score >= 0.71 (3 misses aside) and lexical near-misses with one object swapped
# ("GitHub link" / "Discord link", "free plan" / "enterprise plan") score <= 0.617; from
# 0.62 to 0.70 precision is flat (0.956) and recall above 0.70 falls, so 0.62, the low
# end of that plateau, keeps recall while leaning to precision (a wrong merge costs a
# moderator more than a missed one).
DEFAULT_THRESHOLD = 0.62

# Questions are short; anything longer is a paste, and only its start is compared.
MAX_TEXT_CHARS = 1000


def _words_of(text: str) -> frozenset[str]:
    return frozenset(text.split())


# --------------------------------------------------------------------------- normalize

_URL = re.compile(r"(?:https?://|www\.)\S+|\b[\w-]+(?:\.[\w-]+)+/\S*")
_MENTION = re.compile(r"(?<!\w)@[\w.\-]+")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'", "\u00b4": "'"})
_PHRASES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), repl)
    for pattern, repl in (
        (r"\bq\s*(?:&|and|n)\s*a\b", " qa "),
        (r"\bsingle[\s\-]*sign[\s\-]*on\b", " sso "),
        (r"\bw/o\b", " without "),
        (r"\bw/", " with "),
        (r"\bwon't\b", "will not"),
        (r"\bcan't\b", "can not"),
        (r"\bshan't\b", "shall not"),
        (r"n't\b", " not"),
        (r"'re\b", " are"),
        (r"'ll\b", " will"),
        (r"'ve\b", " have"),
        (r"'d\b", " would"),
        (r"'m\b", " am"),
        (r"\b(it|what|that|there|where|when|who|how|here|he|she)'s\b", r"\1 is"),
        (r"'s\b", ""),
    )
)
_NON_WORD = re.compile(r"[\W_]+")
_REPEATS = re.compile(r"(\D)\1{2,}")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")

# Greetings, politeness and chat noise, dropped wherever they appear.
_FILLER_WORDS = _words_of(
    "hey hi hello hiya heya yo pls plz please thanks thank thx ty tia cheers lol lmao"
    " um umm uh hmm btw ok okay guys folks everyone everybody"
)
# Multi-word filler; matched on whole words.
_FILLER_PHRASES: tuple[tuple[str, ...], ...] = tuple(
    tuple(p.split())
    for p in (
        "quick question",
        "quick q",
        "a question for the speaker",
        "question for the speaker",
        "question for the host",
        "question for the panel",
        "i have a question",
        "i got a question",
        "asking for a friend",
        "thank you",
        "in advance",
        "just wondering",
        "i was wondering",
        "i am wondering",
        "i wonder",
        "does anyone know",
        "anyone know",
        "can someone tell me",
        "can you tell us",
        "can you tell me",
        "i would like to know",
        "great talk",
        "great session",
        "sorry if already asked",
        "sorry if this was asked",
        "if already asked",
        "sorry if i missed it",
        "sorry if i missed",
        "by the way",
    )
)
_FILLER_BY_FIRST: dict[str, list[tuple[str, ...]]] = {}
for _phrase in sorted(_FILLER_PHRASES, key=len, reverse=True):
    _FILLER_BY_FIRST.setdefault(_phrase[0], []).append(_phrase)
# A leading "Q:" / "Question:" marker.
_LEADING_MARKERS = frozenset({"q", "question", "qq"})


def _strip_latin_accents(text: str) -> str:
    # "grabación" -> "grabacion", but leave marks that are part of non-Latin scripts alone.
    out: list[str] = []
    for ch in unicodedata.normalize("NFD", text):
        if unicodedata.combining(ch) and out and "a" <= out[-1] <= "z":
            continue
        out.append(ch)
    return unicodedata.normalize("NFC", "".join(out))


def _drop_filler(words: list[str]) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(words):
        for phrase in _FILLER_BY_FIRST.get(words[i], ()):
            if tuple(words[i : i + len(phrase)]) == phrase:
                i += len(phrase)
                break
        else:
            if words[i] not in _FILLER_WORDS:
                out.append(words[i])
            i += 1
    while out and out[0] in _LEADING_MARKERS and len(out) > 1:
        out.pop(0)
    return out


def normalize_question(text: str) -> str:
    """Lower-case words only: no punctuation, emoji, URLs, @mentions, accents or filler.

    NFKC folds full-width forms (U+FF1F question mark, U+FF21 "A"), contractions are
    expanded, runs of one letter are cut to two ("sooo" -> "soo"). Stopwords are kept;
    `signature` drops them.
    """
    text = unicodedata.normalize("NFKC", text[:MAX_TEXT_CHARS]).casefold()
    text = text.translate(_APOSTROPHES)
    text = _MENTION.sub(" ", _URL.sub(" ", text))
    for pattern, repl in _PHRASES:
        text = pattern.sub(repl, text)
    text = _strip_latin_accents(text)
    text = _REPEATS.sub(r"\1\1", _NON_WORD.sub(" ", text))
    return " ".join(_drop_filler(text.split()))


# --------------------------------------------------------------------------- signature

_STOPWORDS = _words_of(
    # English function words, auxiliaries and chat padding.
    "a an the and or but if so as than then too very just also really actually"
    " is are was were be been being am do does did doing done have has had having"
    " will would shall should can could may might must gonna going wanna want"
    " to of in on at by for with about from into onto over up out off per via"
    " this that these those it its there here"
    " i me my mine we us our you your yours u ur he him his she her they them their"
    " any some all each every anything something everything anyone someone somebody"
    " not no yes more most much many lot lots"
    " get gets got getting make makes know tell let see say"
    " after before afterwards later now today tomorrow yet still again soon already"
    " possible able way thing things stuff kind sort like well even"
    " wondering curious question asking ask anybody"
    # Spanish, French, German, Portuguese articles, prepositions, auxiliaries, "is there".
    " el la los las lo le les un una unos unas uno del al de y o en por para con que"
    " se es son hay habra sera va van su sus mi tu ya como pero"
    " des du et ou est sont seront etre peut il elle elles ils ce cette ces pour par"
    " avec qui sur dans au aux pas ne je nous vous on"
    " der die das den dem ein eine einen einem einer und oder ist sind gibt wird"
    " werden auf mit fur zu im vom zum zur ich wir sie kann konnen"
    " os as um uma do da dos das em com e nao"
)

# Question words: a separate feature. Two questions asking different ones about the
# same thing ("when does X start" / "where does X start") are different questions.
_WH_WORDS = frozenset({"what", "which", "when", "where", "why", "who", "whom", "whose", "how"})
_WH_CANONICAL = {"which": "what", "whom": "who", "whose": "who"}
# "what" / "which" are generic ("what is the price" = "how much is it"): no conflicts.
_WH_GENERIC = frozenset({"what"})

# Domain spellings and synonyms that re-asked questions swap freely.
_SYNONYMS = {
    word: canonical
    for canonical, words in (
        ("slide", "slide slides deck decks slidedeck slidedecks ppt powerpoint"),
        ("record", "record recording recordings recorded replay replays vod vods"),
        ("price", "price prices pricing priced cost costs costing"),
        (
            "share",
            "share shared sharing post posted publish published upload uploaded send sent"
            " distribute distributed available availability",
        ),
        ("database", "db dbs database databases"),
        ("repository", "repo repos repository repositories"),
        ("doc", "doc docs documentation"),
        ("kubernetes", "k8s kubernetes kube"),
        ("password", "pw pwd password passwords"),
        ("photo", "pic pics picture pictures photo photos"),
        ("vs", "vs versus compare compared comparison comparing against"),
        ("2", "two"),
        ("3", "three"),
        ("4", "four"),
        ("5", "five"),
    )
    for word in _words_of(words)
}

# Topic words so common at an event that they say little about which question it is.
_LOW_INFO_WORDS = _words_of(
    "talk talks session sessions speaker speakers presentation event events webinar"
    " plan plans support supports use used using work works feature features option"
    " options product tool tools"
)
_LOW_INFO_WEIGHT = 0.5

_SUFFIXES = (
    "ational",
    "ation",
    "ability",
    "ibility",
    "ement",
    "ment",
    "ness",
    "able",
    "ible",
    "ity",
    "ize",
    "ise",
    "ive",
    "ly",
    "er",
)


def _stem(word: str) -> str:
    """Light English stemmer: folds plurals, -ed/-ing and a few derivational suffixes.

    Final "e" is dropped so "share", "shared", "sharing" and "shares" all meet at "shar".
    Only the output's consistency matters, not that it is a real word.
    """
    if not word.isascii() or not word.isalpha() or len(word) <= 3:
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("sses"):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "lsz":
                word = word[:-1]  # planned -> plan
            break
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            word = word[: -len(suffix)]
            break
    if word.endswith("e") and len(word) > 3:
        word = word[:-1]
    return word


_LOW_INFO = frozenset(_stem(_SYNONYMS.get(w, w)) for w in _LOW_INFO_WORDS)


@dataclass(frozen=True, slots=True)
class Signature:
    """What a question is compared on.

    terms: content stem -> the surface word it came from (the surface form is kept so a
      typo is matched against the word as typed: "recordng" ~ "recording").
    shingles: character 3-grams of "#stem#" for every stem, for typo tolerance.
    wh: the question words asked ("when", "where", "howmuch", ...).
    """

    text: str
    terms: Mapping[str, str]
    shingles: frozenset[str]
    wh: frozenset[str]
    numbers: frozenset[str] = frozenset()  # terms containing a digit
    weight: float = 0.0  # sum of the terms' weights

    @property
    def tokens(self) -> frozenset[str]:
        return frozenset(self.terms)


def _shingles(stem: str) -> list[str]:
    padded = f"#{stem}#"
    return [padded[i : i + 3] for i in range(len(padded) - 2)]


def _words(normalized: str) -> list[str]:
    words: list[str] = []
    for word in normalized.split():
        if _CJK.fullmatch(word) and len(word) > 1:
            # No spaces between Chinese/Japanese words: overlapping character bigrams.
            words.extend(word[i : i + 2] for i in range(len(word) - 1))
        else:
            words.append(word)
    return words


def signature(text: str) -> Signature:
    """Content stems (stopwords/filler removed, synonyms folded), shingles, question words."""
    normalized = normalize_question(text)
    words = _words(normalized)
    wh: set[str] = set()
    terms: dict[str, str] = {}
    skip = -1
    for i, word in enumerate(words):
        if i == skip:
            continue
        nxt = words[i + 1] if i + 1 < len(words) else ""
        after = words[i + 2] if i + 2 < len(words) else ""
        if word in _WH_WORDS:
            if word == "how" and nxt in ("much", "many"):
                wh.add("howmuch")
            elif word == "how" and nxt == "long":
                wh.add("howlong")
                skip = i + 1
            elif word == "what" and nxt == "time" and not after.startswith("zone"):
                wh.add("when")  # "what time does it start" = "when does it start"
                skip = i + 1
            else:
                wh.add(_WH_CANONICAL.get(word, word))
            continue
        if word in _STOPWORDS:
            continue
        stem = _stem(_SYNONYMS.get(word, word))
        terms.setdefault(stem, word)
    shingles = frozenset(g for stem in terms for g in _shingles(stem))
    numbers = frozenset(stem for stem in terms if _has_digit(stem))
    weight = sum(_weight(stem) for stem in terms)
    return Signature(normalized, terms, shingles, frozenset(wh), numbers, weight)


# --------------------------------------------------------------------------- similarity

_FUZZY_CREDIT = 0.85
_TOKEN_WEIGHT = 0.8
_CHAR_WEIGHT = 0.2
_WH_CONFLICT_FACTOR = 0.5
_NUMBER_CONFLICT_FACTOR = 0.6


def _edit_distance(a: str, b: str, limit: int) -> int:
    """Optimal-string-alignment distance (adjacent swaps count 1); limit+1 once beyond."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]


@functools.lru_cache(maxsize=1 << 16)  # word pairs recur constantly; bounded
def _fuzzy_equal(stem_a: str, surface_a: str, stem_b: str, surface_b: str) -> bool:
    """Same word up to a typo: one edit (two for long words), or a long shared prefix."""
    if _has_digit(stem_a) or _has_digit(stem_b):
        return False  # "2025" vs "2026" is not a typo
    if _close(stem_a, stem_b) or _close(surface_a, surface_b):
        return True
    shorter = min(len(stem_a), len(stem_b))
    # "postgres" / "postgresql": stems the stemmer did not fold.
    return shorter >= 5 and (stem_a.startswith(stem_b) or stem_b.startswith(stem_a))


def _close(a: str, b: str) -> bool:
    """Within one edit (two for words of 8+ letters); words under 4 letters never are."""
    shorter = min(len(a), len(b))
    if shorter < 4:
        return False
    limit = 2 if shorter >= 8 else 1
    return _edit_distance(a, b, limit) <= limit


def _has_digit(word: str) -> bool:
    return any(c.isdigit() for c in word)


def _weight(stem: str) -> float:
    return _LOW_INFO_WEIGHT if stem in _LOW_INFO else 1.0


def similarity(a_sig: Signature, b_sig: Signature) -> float:
    """How likely two questions are the same question, in [0, 1]; symmetric."""
    a, b = a_sig.terms, b_sig.terms
    if not a or not b:
        return 1.0 if a_sig.text and a_sig.text == b_sig.text else 0.0
    matched = sum(_weight(s) for s in a if s in b)
    only_a = [s for s in a if s not in b]
    only_b = [s for s in b if s not in a]
    for sa in only_a:
        for sb in only_b:
            if _fuzzy_equal(sa, a[sa], sb, b[sb]):
                matched += _FUZZY_CREDIT * min(_weight(sa), _weight(sb))
                only_b.remove(sb)
                break
    total_a, total_b = a_sig.weight, b_sig.weight
    jaccard = matched / (total_a + total_b - matched)
    smoothing = 0.5 if matched < max(total_a, total_b) else 0.0  # identical sets score 1
    containment = matched / (min(total_a, total_b) + smoothing)
    shared = len(a_sig.shingles & b_sig.shingles)
    dice = 2 * shared / (len(a_sig.shingles) + len(b_sig.shingles))
    # Formula: score = (0.8 * (J + C) / 2 + 0.2 * D) * penalties. J is weighted token
    # Jaccard, C weighted containment = matched / (smaller side + 0.5) (the 0.5, dropped
    # when the sets are identical, stops a one-word question being "contained" in every
    # longer one); typo matches count 0.85 and event-generic words weigh 0.5. D is the
    # Dice coefficient of the char 3-gram shingles. C lets a re-ask add words ("... after
    # the talk?"); J punishes a swapped object ("mobile app" / "desktop app"), as both
    # sides then have unmatched words. Penalties: x0.5 for different specific question
    # words ("when" / "where"), x0.6 for different numbers on both sides ("2025" / "2026").
    score = _TOKEN_WEIGHT * (jaccard + containment) / 2 + _CHAR_WEIGHT * dice
    specific_a, specific_b = a_sig.wh - _WH_GENERIC, b_sig.wh - _WH_GENERIC
    if specific_a and specific_b and not specific_a & specific_b:
        score *= _WH_CONFLICT_FACTOR
    if a_sig.numbers - b_sig.numbers and b_sig.numbers - a_sig.numbers:
        score *= _NUMBER_CONFLICT_FACTOR
    return max(0.0, min(1.0, score))


def _upper_bound(shared: float, weight_a: float, weight_b: float) -> float:
    """The most `similarity` can give when at most `shared` term weight matches."""
    matched = min(shared, weight_a, weight_b)
    if matched <= 0.0:
        return _CHAR_WEIGHT
    jaccard = matched / (weight_a + weight_b - matched)
    containment = matched / min(weight_a, weight_b)
    return _TOKEN_WEIGHT * (jaccard + containment) / 2 + _CHAR_WEIGHT


# --------------------------------------------------------------------------- index


class DuplicateIndex(Generic[K]):
    """Open questions of one event, searchable for near-duplicates of a new one.

    Two inverted indexes: stem -> questions containing it, and shingle -> vocabulary stems
    (to find typo'd spellings of a query word without scanning the vocabulary). A lookup
    scores only questions sharing a stem, exactly or up to a typo, with the query, and of
    those only the ones whose shared weight could still reach the threshold; if that is
    more than `max_scored`, the ones sharing the rarest stems (highest IDF) win.
    Memory is bounded: at most `max_questions` are kept, the oldest evicted first (plus a
    64k-entry LRU cache of word-pair typo checks, shared by all indexes).
    """

    def __init__(
        self,
        threshold: float = DEFAULT_THRESHOLD,
        *,
        max_questions: int = 20_000,
        max_scored: int = 256,
    ) -> None:
        if not 0.0 <= threshold <= 1.0:
            raise ValueError("threshold must be in [0, 1]")
        if max_questions < 1 or max_scored < 1:
            raise ValueError("max_questions and max_scored must be positive")
        self.threshold = threshold
        self.max_questions = max_questions
        self.max_scored = max_scored
        self._sigs: OrderedDict[K, Signature] = OrderedDict()
        self._added: dict[K, int] = {}  # insertion counter: ties go to the older question
        self._counter = 0
        self._postings: dict[str, set[K]] = {}
        self._surface: dict[str, Counter[str]] = {}
        self._shingle_stems: dict[str, set[str]] = {}

    def __len__(self) -> int:
        return len(self._sigs)

    def __contains__(self, question_id: object) -> bool:
        return question_id in self._sigs

    def add(self, question_id: K, text: str | Signature) -> Signature:
        """Index (or re-index, if the text was edited) a question; returns its signature."""
        self.remove(question_id)
        sig = text if isinstance(text, Signature) else signature(text)
        self._sigs[question_id] = sig
        self._added[question_id] = self._counter
        self._counter += 1
        for stem, surface in sig.terms.items():
            posting = self._postings.get(stem)
            if posting is None:
                posting = self._postings[stem] = set()
                self._surface[stem] = Counter()
                for g in _shingles(stem):
                    self._shingle_stems.setdefault(g, set()).add(stem)
            posting.add(question_id)
            self._surface[stem][surface] += 1
        while len(self._sigs) > self.max_questions:
            self.remove(next(iter(self._sigs)))
        return sig

    def remove(self, question_id: K) -> bool:
        """Forget a question (answered, rejected, merged). False if it was not indexed."""
        sig = self._sigs.pop(question_id, None)
        if sig is None:
            return False
        del self._added[question_id]
        for stem, surface in sig.terms.items():
            posting = self._postings[stem]
            posting.discard(question_id)
            surfaces = self._surface[stem]
            surfaces[surface] -= 1
            if surfaces[surface] <= 0:
                del surfaces[surface]
            if not posting:
                del self._postings[stem], self._surface[stem]
                for g in _shingles(stem):
                    stems = self._shingle_stems[g]
                    stems.discard(stem)
                    if not stems:
                        del self._shingle_stems[g]
        return True

    def signature_of(self, question_id: K) -> Signature | None:
        return self._sigs.get(question_id)

    def _typo_neighbours(self, stem: str, surface: str) -> Iterable[str]:
        """Vocabulary stems within a typo of `stem`, via shared shingles (q-gram filter)."""
        grams = _shingles(stem)
        if max(len(stem), len(surface)) < 4 or _has_digit(stem):
            return ()
        counts: Counter[str] = Counter()
        for g in grams:
            counts.update(self._shingle_stems.get(g, ()))
        # An edit changes at most 3 of the 3-grams; a prefix match keeps all but ~2.
        need = max(1, len(grams) - 6)
        return [
            other
            for other, n in counts.items()
            if n >= need
            and other != stem
            and any(_fuzzy_equal(stem, surface, other, s) for s in self._surface.get(other, ()))
        ]

    def candidates(
        self, text: str | Signature, limit: int = 3, *, exclude: K | None = None
    ) -> list[tuple[K, float]]:
        """Up to `limit` indexed questions scoring >= threshold, best first.

        `exclude` skips one id, e.g. the question itself when it is already indexed.
        """
        query = text if isinstance(text, Signature) else signature(text)
        if limit <= 0 or not self._sigs:
            return []
        n = len(self._sigs)
        votes: dict[K, float] = {}  # sum of IDFs of the query stems a question shares
        shared: dict[K, float] = {}  # sum of their weights: bounds the token overlap
        for stem, surface in query.terms.items():
            weight = _weight(stem)
            for term in (stem, *self._typo_neighbours(stem, surface)):
                posting = self._postings.get(term)
                if not posting:
                    continue
                idf = math.log(1.0 + n / len(posting))
                for qid in posting:
                    votes[qid] = votes.get(qid, 0.0) + idf
                    shared[qid] = shared.get(qid, 0.0) + weight
        if exclude is not None:
            votes.pop(exclude, None)
        # Skip questions that could not reach the threshold even with a perfect char score.
        reachable = [
            qid
            for qid in votes
            if _upper_bound(shared[qid], query.weight, self._sigs[qid].weight) >= self.threshold
        ]
        scored: list[tuple[K, float]] = []
        for qid in heapq.nlargest(self.max_scored, reachable, key=votes.__getitem__):
            score = similarity(query, self._sigs[qid])
            if score >= self.threshold:
                scored.append((qid, round(score, 4)))
        scored.sort(key=lambda item: (-item[1], self._added[item[0]]))
        return scored[:limit]
