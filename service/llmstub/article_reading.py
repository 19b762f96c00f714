"""The stub's reading of an article: sentences, quotes, topics, names and tone, from its text.

Everything is a plain heuristic (sentence splitting, word counts, capitalised runs), so the
same article always gives the same answer; service/llmstub/signal_draft.py writes the card
from these pieces.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from service.analysis.prompt import SENTENCE_LINE, TEXT_HEADING
from service.ingest.quality import count_words


def _word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


STOPWORDS = _word_set(
    """
    a about above after again against all also although am among an and another any are around
    as at be because been before being below between both but by can could did do does doing
    down during each either even every few for from further had has have having he her here hers
    him his how however i if in into is it its itself just last least less like made make many
    may me might more most much must my near new next no nor not now of off on once one only or
    other our out over own per said same says she should since so some such than that the their
    them then there these they this those though through to told too two under until up upon us
    very was we were what when where whether which while who whom whose why will with within
    without would year years yet you your according monday tuesday wednesday thursday friday
    saturday sunday january february march april june july august september october november
    december week weeks month months today yesterday tomorrow percent already still well three
    company companies people including time
    """
)
"""Words too common to be a topic or to make two texts look related."""

_SENTENCE_BREAK = re.compile(r"[.!?][\"'\u201d\u2019)\]]*\s+")
_ABBREVIATIONS = _word_set("mr mrs ms dr prof st inc corp ltd co jr sr vs etc no gen gov sen rep u.s e.g i.e")
_WORD = re.compile(r"[^\W\d_][\w'\u2019-]*")
_TOKEN = re.compile(r"[^\s,;:()\[\]\"\u201c\u201d]+")
_CONNECTORS = frozenset({"of", "for", "de", "la", "van", "von", "der", "del", "&"})
_STARTERS = _word_set(
    """The A An In On At But And For This That These Those It He She They We Its His Her Their
    After Before When While According Last Next As If Under Over From With By Our Then Now
    Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February March April May
    June July August September October November December"""
)
_ORG_WORDS = _word_set(
    """Inc Corp Corporation Ltd LLC Plc Group Company Co Agency Ministry Department University
    College Council Bank Association Institute Authority Commission Committee Foundation Party
    Union Office Board Fund Organization Organisation Society Labs Laboratory Systems
    Technologies Motors Airlines Holdings Partners Capital Ventures Court Parliament Senate
    Congress Police Service Network Gazette Times Post Trust Industries School Hospital
    Federation Alliance Club Energy Power Exchange Grid Airways Media Studios Pharmaceuticals"""
)
_PLACE_WORDS = _word_set(
    """City County Province Republic Kingdom Valley River Island Islands Mountains Bay Port Lake
    Region District Street Square Harbour Harbor Coast Mole Peninsula Sea Ocean Strait"""
)
_PLACE_PREFIXES = _word_set("North South East West Northern Southern Eastern Western New San Los Las Saint")
_ROLE_WORDS = _word_set(
    """mr mrs ms dr executive representative minister director spokesperson spokeswoman
    spokesman chair chairman chairwoman president officer mayor leader secretary analyst
    professor founder engineer councillor councilor senator governor economist researcher"""
)
_PRODUCT_WORDS = _word_set("Pro Max Ultra Mini Plus Edition App Platform Series Model")

MAX_KEY_DETAILS = 5
MAX_TOPICS = 3
MAX_ENTITIES = 10


@dataclass(frozen=True, slots=True)
class ArticleReading:
    """The pieces of an article the stub's answer is assembled from."""

    title_line: str | None
    sentences: list[str]
    word_count: int


def read_article(text: str) -> ArticleReading:
    """Split an article into an optional title line and verbatim sentences."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    title_line = None
    if len(lines) > 1 and _looks_like_title(lines[0]):
        title_line, lines = lines[0], lines[1:]
    sentences = [s for line in lines for s in split_sentences(line)]
    return ArticleReading(title_line, sentences, len(text.split()))


def split_sentences(line: str) -> list[str]:
    """Verbatim sentence spans of one line; no break after 'Mr.' or 'Corp.'."""
    spans: list[str] = []
    start = 0
    for match in _SENTENCE_BREAK.finditer(line):
        before = line[start : match.start()].rsplit(None, 1)
        last_word = before[-1].lower().rstrip(".") if before else ""
        if last_word in _ABBREVIATIONS or (len(last_word) == 1 and last_word.isalpha()):
            continue
        spans.append(line[start : match.end()].strip())
        start = match.end()
    spans.append(line[start:].strip())
    return [s for s in spans if s]


def pick_evidence(reading: ArticleReading, *, limit: int = MAX_KEY_DETAILS) -> list[str]:
    """3..limit verbatim quotes, spread over the article, each of five words or more."""
    candidates = [s for s in reading.sentences if 5 <= len(s.split()) <= 80]
    if len(candidates) >= 3:
        count = min(limit, len(candidates))
        # Evenly spaced picks cover the whole article instead of only its opening.
        picks = sorted({round(i * (len(candidates) - 1) / (count - 1)) for i in range(count)})
        return [candidates[i] for i in picks]
    # Too few full sentences (a very short text): quote runs of six words instead.
    words = " ".join([reading.title_line or "", *reading.sentences]).split()
    chunks = [" ".join(words[i : i + 6]) for i in range(0, len(words), 6)]
    chunks = [c for c in chunks if len(c.split()) >= 4] or [" ".join(words) or "no text given"]
    while len(chunks) < 3:
        chunks.append(chunks[0])
    return chunks[:limit]


def pick_topics(text: str, *, limit: int = MAX_TOPICS) -> list[str]:
    """The most frequent meaningful bigrams, then words, as capitalised labels.

    Words never written in lower case are names (entities' business), not topics.
    """
    lowered = {w for w in _WORD.findall(text) if w.islower()}
    unigrams: Counter[str] = Counter()
    bigrams: Counter[str] = Counter()
    first_seen: dict[str, int] = {}
    position = 0
    for sentence in split_sentences(" ".join(text.split())):
        words = [w.casefold().strip("'\u2019-") for w in _WORD.findall(sentence)]
        meaningful = [w if len(w) >= 4 and w not in STOPWORDS and w in lowered else None for w in words]
        for index, word in enumerate(meaningful):
            position += 1
            if word is None:
                continue
            unigrams[word] += 1
            first_seen.setdefault(word, position)
            nxt = meaningful[index + 1] if index + 1 < len(meaningful) else None
            if nxt is not None:
                pair = f"{word} {nxt}"
                bigrams[pair] += 1
                first_seen.setdefault(pair, position)

    def ranked(counts: Counter[str]) -> list[str]:
        return sorted(counts, key=lambda k: (-counts[k], first_seen[k]))

    chosen: list[str] = [b for b in ranked(bigrams) if bigrams[b] >= 2][:limit]
    covered = {w for b in chosen for w in b.split()}
    for word in ranked(unigrams):
        if len(chosen) >= limit or (unigrams[word] < 2 and chosen):
            break
        if word not in covered:
            chosen.append(word)
            covered.add(word)
    return [c[0].upper() + c[1:] for c in chosen] or ["General news"]


def find_entities(sentences: list[str], *, limit: int = MAX_ENTITIES) -> list[dict[str, str]]:
    """Capitalised multi-word names in order of appearance, typed by their words."""
    text = " ".join(sentences)
    found: list[dict[str, str]] = []
    seen: set[str] = set()
    for sentence in sentences:
        for run in _capitalised_runs(sentence):
            key = run.casefold()
            if key not in seen:
                seen.add(key)
                found.append({"name": run, "type": _entity_type(run, text)})
            if len(found) == limit:
                return found
    return found


@dataclass(frozen=True, slots=True)
class NumberedArticle:
    """An article as the analysis prompt shows it: numbered sentences in paragraphs."""

    text: str
    """The sentences joined again (a space within a paragraph, a line between paragraphs)."""
    sentences: list[tuple[int, str]]


def read_numbered(block: str) -> NumberedArticle | None:
    """The numbered sentences between the article markers; None for a plain article."""
    if TEXT_HEADING not in block:
        return None
    body = block.split(TEXT_HEADING, 1)[1]
    paragraphs: list[list[str]] = [[]]
    sentences: list[tuple[int, str]] = []
    for line in body.splitlines():
        match = SENTENCE_LINE.match(line)
        if match is None:
            if not line.strip() and paragraphs[-1]:
                paragraphs.append([])
            continue
        sentences.append((int(match.group("number")), match.group("text")))
        paragraphs[-1].append(match.group("text"))
    text = "\n".join(" ".join(p) for p in paragraphs if p)
    return NumberedArticle(text, sentences)


def pick_cited(sentences: list[tuple[int, str]], *, limit: int = MAX_KEY_DETAILS) -> list[tuple[int, str]]:
    """3..limit numbered sentences, spread over the article, each of five words or more."""
    # A headline (no closing punctuation) is not a fact worth a key detail.
    candidates = [(n, s) for n, s in sentences if 5 <= count_words(s) <= 80 and _ends_sentence(s)]
    candidates = candidates or sentences
    if not candidates:
        return []
    count = min(limit, len(candidates))
    if count == 1:
        return candidates[:1]
    picks = sorted({round(i * (len(candidates) - 1) / (count - 1)) for i in range(count)})
    return [candidates[i] for i in picks]


def _ends_sentence(text: str) -> bool:
    return text.rstrip("\"'\u201d\u2019)\u300d\u300f").endswith((".", "!", "?", "\u3002", "\uff01", "\uff1f"))


_POSITIVE = _word_set(
    "growth gain gains rise rises rose record win wins welcomed approve approved boost improve "
    "improved improvement success successful strong opens invest investment jobs expand expansion"
)
_NEGATIVE = _word_set(
    "loss losses fall falls fell decline cut cuts layoffs warn warned warning risk risks delay "
    "delayed crisis fail failed failure weak lawsuit breach fine fined shortage collapse closure"
)


def tone(sentences: list[str]) -> float:
    """A crude, deterministic sentiment in [-1, 1] from counts of positive and negative words."""
    words = [w.casefold() for s in sentences for w in _WORD.findall(s)]
    positive = sum(w in _POSITIVE for w in words)
    negative = sum(w in _NEGATIVE for w in words)
    if positive + negative == 0:
        return 0.0
    return round((positive - negative) / (positive + negative), 2)


def _looks_like_title(line: str) -> bool:
    return len(line.split()) <= 20 and not line.rstrip().endswith((".", "!", "?", ":"))


def _capitalised_runs(sentence: str) -> list[str]:
    runs: list[str] = []
    current: list[str] = []
    for match in _TOKEN.finditer(sentence):
        raw = match.group()
        token = re.sub(r"(?:['\u2019]s)?[.,!?'\u2019]*$", "", raw)
        ends_clause = token != raw and not raw.endswith(("'s", "\u2019s"))
        capitalised = bool(token) and token[0].isupper() and any(c.isalpha() for c in token)
        if capitalised or (current and token in _CONNECTORS and not ends_clause):
            current.append(token)
        else:
            runs.append(" ".join(current))
            current = []
        if ends_clause or raw.endswith(("'s", "\u2019s")):
            runs.append(" ".join(current))
            current = []
    runs.append(" ".join(current))
    return [name for name in (_trim_run(r.split()) for r in runs) if name]


def _trim_run(words: list[str]) -> str:
    while words and (words[0] in _STARTERS or words[0] in _CONNECTORS):
        words = words[1:]
    while words and words[-1] in _CONNECTORS:
        words = words[:-1]
    return " ".join(words) if len(words) >= 2 else ""


def _entity_type(name: str, text: str) -> str:
    words = name.split()
    if words[-1] in _ORG_WORDS or words[0] in {"Ministry", "Department", "University", "Bank"}:
        return "organization"
    if words[-1] in _PLACE_WORDS or words[0] in _PLACE_PREFIXES:
        return "place"
    if words[-1] in _PRODUCT_WORDS or any(any(c.isdigit() for c in w) for w in words):
        return "product"
    if len(words) <= 3 and all(w.replace("-", "").replace("'", "").isalpha() for w in words):
        # News style names a person in full once, then by surname; or after a role word.
        surname_alone = text.count(words[-1]) > text.count(name)
        before = re.search(r"(\w+)\s+" + re.escape(name), text)
        if surname_alone or (before and before.group(1).lower() in _ROLE_WORDS):
            return "person"
    return "organization"
