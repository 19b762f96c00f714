"""Key details → evidence: the service quotes the sentences a key detail cites.

The stored evidence is the verbatim text of the cited sentences, sliced from the article by
offset, so it is grounded by construction. What is checked here:

- a citation names sentences the prompt numbered (others are dropped), at most three;
- a key detail whose sentences earlier key details already cite adds nothing: it is unusable;
- a key detail that came with a quote instead of numbers is looked up among the sentences
  (the verbatim rule of service.analysis.grounding: word boundaries, ellipsis pieces of
  three words, quotes inside a lead-in such as "The article states: '…'");
- support, cheaply: the numbers (and, for an English article, the capitalised names and
  months) in the detail's own text must appear in the cited sentences; what does not is
  recorded on the detail as ``unsupported``. String matching cannot prove a sentence supports
  a claim, so this flags, it does not drop.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from service.analysis.grounding import evidence_problem, find_words, normalize_text, quote_fragments
from service.analysis.model import MAX_CITED_SENTENCES, KeyDetail
from service.analysis.sentences import Sentence

ELLIPSIS = " \u2026 "
"""Joins passages of non-adjacent cited sentences in the evidence."""


def _words(text: str) -> list[str]:
    return text.split()


_QUOTED = re.compile(
    r"[\"\u201c\u201e\u00ab\u300c']([^\"\u201c\u201d\u201e\u00ab\u00bb\u300c\u300d]{12,})[\"\u201d\u00bb\u300d']"
)
_NUMBER = re.compile(r"\d+(?:[.,\u2009\u202f ]\d+)*")
_LIST_LABEL = re.compile(
    r"^\s*(?:\[[^\]]{1,20}\]\s*)?(?:(?:point|fact|detail|item)\s*)?\d{1,2}\s*[.):\-\u2013]\s+", re.IGNORECASE
)
"""A list label opening a detail ("1.", "Point 2:", "[stub] Point 3:") is numbering, not a claim."""
_NAME = re.compile(r"(?<![\w'\u2019])[A-Z][\w\u2019'-]*[\w]")
_NUMBER_WORDS = {
    word: str(n)
    for n, word in enumerate(
        _words(
            "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
            "fifteen sixteen seventeen eighteen nineteen twenty"
        )
    )
}
_NOT_NAMES = frozenset(
    _words(
        """A An The This That These Those It Its He She His Her They Their We Our You Your I In On At
    By For From To Of With As And But Or If When While After Before Since Until About Over Under
    Some Many Most More Less Few All Each Every Both Other Another Such No Not Only Also Then Now
    There Here What Which Who Whom Whose Why How Where Despite Although Though Because According
    Meanwhile However Still Yet So Than"""
    )
)


@dataclass(frozen=True, slots=True)
class CitedDetail:
    """A usable key detail: its text, the sentences it cites and the evidence they make."""

    text: str
    sentences: list[int]
    offsets: list[tuple[int, int]]
    """[start, end) of each passage (a run of adjacent cited sentences) in the article text."""
    evidence: str
    unsupported: list[str]


@dataclass(slots=True)
class Citations:
    """What the model's key details came to."""

    usable: list[CitedDetail] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    """One line per unusable key detail, phrased for the model (re-ask) and the log."""
    checked: int = 0

    @property
    def cited(self) -> set[int]:
        return {n for d in self.usable for n in d.sentences}


def resolve(
    details: list[KeyDetail],
    sentences: list[Sentence],
    article: str,
    *,
    names_comparable: bool,
    into: Citations | None = None,
    label: str = "key_details",
) -> Citations:
    """Resolve ``details`` against the numbered ``sentences`` of ``article``, adding to
    ``into`` (replacement details go after the ones already usable)."""
    result = into or Citations()
    by_number = {s.number: s for s in sentences}
    normalized = [normalize_text(s.text) for s in sentences]
    for index, detail in enumerate(details):
        result.checked += 1
        where = f"{label}[{index}]"
        numbers = _valid_numbers(detail.sentences, by_number)
        if not numbers and detail.quote:
            numbers = _locate_quote(detail.quote, sentences, normalized)
            if not numbers:
                result.problems.append(f"{where} quotes text that is not in the numbered sentences")
                continue
        if not numbers:
            shown = ", ".join(str(n) for n in detail.sentences) or "none"
            last = sentences[-1].number if sentences else 0
            result.problems.append(f"{where} cites sentences {shown}; the article has [S1] to [S{last}]")
            continue
        if set(numbers) <= result.cited:
            result.problems.append(f"{where} cites only sentences another key detail already cites")
            continue
        cited = [by_number[n] for n in numbers]
        offsets = _passages(cited)
        evidence = ELLIPSIS.join(article[start:end] for start, end in offsets)
        result.usable.append(
            CitedDetail(
                text=detail.text,
                sentences=numbers,
                offsets=offsets,
                evidence=evidence,
                unsupported=unsupported_terms(detail.text, evidence, names=names_comparable),
            )
        )
    return result


def unsupported_terms(text: str, evidence: str, *, names: bool) -> list[str]:
    """Numbers (and with ``names``, capitalised names and months) of ``text`` that ``evidence``
    does not contain, in order of appearance."""
    plain = unicodedata.normalize("NFKC", evidence)
    available = {_digits(n) for n in _NUMBER.findall(plain)}
    available |= {v for w, v in _NUMBER_WORDS.items() if re.search(rf"\b{w}\b", plain, re.IGNORECASE)}
    missing: list[str] = []
    claim = _LIST_LABEL.sub("", unicodedata.normalize("NFKC", text), count=1)
    for number in _NUMBER.findall(claim):
        if _digits(number) not in available and number not in missing:
            missing.append(number)
    if names:
        folded = normalize_text(plain)
        for match in _NAME.finditer(claim):
            word = re.sub(r"['\u2019]s$", "", match.group())
            if word in _NOT_NAMES or word in missing or _opens_sentence(claim, match.start()):
                continue
            if find_words(folded, normalize_text(word)) < 0:
                missing.append(word)
    return missing


def _digits(number: str) -> str:
    return re.sub(r"\D", "", number).lstrip("0") or "0"


def _opens_sentence(text: str, index: int) -> bool:
    before = text[:index].rstrip()
    return not before or before.endswith((".", "!", "?", ":", "]"))


def _valid_numbers(cited: list[int], by_number: dict[int, Sentence]) -> list[int]:
    numbers: list[int] = []
    for n in cited:
        if n in by_number and n not in numbers:
            numbers.append(n)
        if len(numbers) == MAX_CITED_SENTENCES:
            break
    return sorted(numbers)


def _passages(cited: list[Sentence]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    previous: Sentence | None = None
    for sentence in cited:
        if previous is not None and sentence.number == previous.number + 1:
            runs[-1] = (runs[-1][0], sentence.end)
        else:
            runs.append((sentence.start, sentence.end))
        previous = sentence
    return runs


def _locate_quote(quote: str, sentences: list[Sentence], normalized: list[str]) -> list[int]:
    """The numbers of the sentences a verbatim quote comes from; [] when it is not verbatim.
    A quote wrapped in a lead-in ("The article states: '…'") is tried by its quoted part."""
    candidates = [quote, *sorted(_QUOTED.findall(quote), key=len, reverse=True)]
    joined = " ".join(normalized)
    for candidate in candidates:
        if evidence_problem(candidate, joined) is not None:
            continue
        numbers = _sentences_holding(candidate, normalized, sentences)
        if numbers and len(numbers) <= MAX_CITED_SENTENCES:
            return numbers
    return []


def _sentences_holding(quote: str, normalized: list[str], sentences: list[Sentence]) -> list[int]:
    """The smallest runs of 1-3 adjacent sentences holding each ellipsis piece of ``quote``."""
    numbers: list[int] = []
    for fragment in quote_fragments(quote):
        found = None
        for width in (1, 2, 3):
            for first in range(len(normalized) - width + 1):
                if find_words(" ".join(normalized[first : first + width]), fragment) >= 0:
                    found = [s.number for s in sentences[first : first + width]]
                    break
            if found:
                break
        if found is None:
            return []
        numbers.extend(n for n in found if n not in numbers)
    return sorted(numbers)
