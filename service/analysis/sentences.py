"""The article's sentences, numbered, with character offsets into the article text.

The prompt shows the model ``[S1] …``, ``[S2] …``; key details cite those numbers and the
service quotes the cited sentences itself, so evidence is verbatim by construction. Offsets
are Python string indices (Unicode code points) into the text exactly as it was given.

Splitting is deliberately plain and deterministic: paragraphs are lines; inside a line a
sentence ends at ``. ! ? …`` (plus closing quotes or brackets) before whitespace and a
capital, digit or quote, or at ``。 ！ ？`` with no space needed (Chinese, Japanese). No break
after known abbreviations ("Mr.", "Dr.", "z. B.", "U.S."), single-letter initials, or a one-
or two-digit number ("am 3. Oktober").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_SENTENCE_CHARS = 600
"""A run without sentence punctuation (a list, a table row) is cut into pieces of at most
this many characters, at a clause or word boundary, so no single citation quotes a page."""


def _words(text: str) -> list[str]:
    return text.split()


_ABBREVIATIONS = frozenset(
    _words(
        """
    mr mrs ms dr prof st inc corp ltd co jr sr vs etc no nos gen gov sen rep u.s u.k u.n e.g i.e
    approx dept est fig figs jan feb mar apr jun jul aug sep sept oct nov dec mt ft capt lt col sgt
    rev hon pres vol pp ca cf al op bzw nr str usw vgl evtl ggf inkl d.h u.a s.o z.b z.t mio mrd
    abs art bd jh jhd ff hr fr
    """
    )
)
_LATIN_END = re.compile(
    r"[.!?\u2026]+[\"'\u201d\u2019\u00bb)\]]*(?=\s+[\"'\u201c\u2018\u00ab(\[]?[\w\u3000-\u9fff])"
)
_CJK_END = re.compile(r"[\u3002\uff01\uff1f]+[\u300d\u300f\uff09)\u3011\"\u201d\u2019]*")
_HIRAGANA = re.compile(r"[\u3041-\u309f]")
"""A quoted question followed by a particle goes on: 「本当に？」と記者は尋ねた。"""
_CUT = re.compile(r"[;:,\u3001\uff0c]\s|\s")


@dataclass(frozen=True, slots=True)
class Sentence:
    """One numbered sentence: ``text == article[start:end]``."""

    number: int
    start: int
    end: int
    paragraph: int
    text: str


def split_sentences(text: str) -> list[Sentence]:
    """Every sentence of ``text`` in order, numbered from 1."""
    spans: list[tuple[int, int, int]] = []
    paragraph = 0
    position = 0
    for line in text.splitlines(keepends=True):
        if line.strip():
            for start, end in _line_sentences(line):
                spans.append((position + start, position + end, paragraph))
            paragraph += 1
        position += len(line)
    return [
        Sentence(number=i, start=start, end=end, paragraph=para, text=text[start:end])
        for i, (start, end, para) in enumerate(spans, start=1)
    ]


def _line_sentences(line: str) -> list[tuple[int, int]]:
    cjk = {m.end() for m in _CJK_END.finditer(line) if not _HIRAGANA.match(line, m.end())}
    ends = sorted(cjk | _latin_ends(line))
    spans: list[tuple[int, int]] = []
    start = 0
    for end in [*ends, len(line)]:
        piece = _trimmed(line, start, end)
        if piece is not None:
            spans.extend(_cap_length(line, *piece))
        start = end
    return spans


def _latin_ends(line: str) -> set[int]:
    ends: set[int] = set()
    for match in _LATIN_END.finditer(line):
        before = line[: match.start()].rsplit(None, 1)
        last = before[-1].casefold().lstrip("(\"'\u201c\u2018") if before else ""
        if match.group().startswith(".") and _no_break_after(last, line[match.end() :].lstrip()):
            continue
        ends.add(match.end())
    return ends


def _no_break_after(word: str, following: str) -> bool:
    """True when the period after ``word`` does not end the sentence."""
    if word.rstrip(".") in _ABBREVIATIONS:
        return True
    if len(word) == 1 and word.isalpha():
        return True  # an initial: "J. K. Rowling", "z. B."
    if word.isdigit() and len(word) <= 2:
        return True  # an ordinal or a day: "am 3. Oktober", "the 2. Bundesliga"
    return bool(following) and following[0].islower()


def _trimmed(line: str, start: int, end: int) -> tuple[int, int] | None:
    while start < end and line[start].isspace():
        start += 1
    while end > start and line[end - 1].isspace():
        end -= 1
    return (start, end) if end > start else None


def _cap_length(line: str, start: int, end: int) -> list[tuple[int, int]]:
    pieces: list[tuple[int, int]] = []
    while end - start > MAX_SENTENCE_CHARS:
        window = line[start : start + MAX_SENTENCE_CHARS]
        cuts = [m.end() for m in _CUT.finditer(window) if m.end() > MAX_SENTENCE_CHARS // 2]
        cut = start + (cuts[-1] if cuts else MAX_SENTENCE_CHARS)
        piece = _trimmed(line, start, cut)
        if piece is not None:
            pieces.append(piece)
        start = cut
        while start < end and line[start].isspace():
            start += 1
    if end > start:
        pieces.append((start, end))
    return pieces
