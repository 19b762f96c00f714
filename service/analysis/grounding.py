"""Checks that a quoted piece of evidence really appears in the article text.

Since prompt 2026-12-07.1 the model cites numbered sentences and the service writes the
evidence itself (service.analysis.citations), so this check only runs on the quotes some models
still write instead of numbers. Matching is verbatim after normalising what copying
legitimately changes: Unicode form, whitespace runs, curly versus straight quotes, dash
variants, letter case, and the punctuation or quote marks a model wraps around a quotation. A
match must start and end on word boundaries ("he said" is not in "She said"), and words are
counted as the quality gate counts them (Chinese and Japanese have no spaces).
"""

from __future__ import annotations

import re
import unicodedata

from service.ingest.quality import count_words

_TRANSLATE = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "`": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u201f": '"',
        "\u2033": '"',
        "\u00ab": '"',
        "\u00bb": '"',
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2212": "-",
        "\u00a0": " ",
        "\u200b": "",
        "\u00ad": "",
    }
)
_SPACE = re.compile(r"\s+")
_EDGE = " \t\n\"'.,;:!?()[]"
_ELLIPSIS = re.compile(r"\s*(?:\.\.\.|\u2026|\[\.\.\.\]|\[\u2026\])\s*")

MIN_EVIDENCE_WORDS = 4
"""A quote shorter than this proves nothing ("the company said" is in every article)."""

MIN_FRAGMENT_WORDS = 3
"""Each piece of a quote joined by an ellipsis needs this many words of its own: "the … said
… that … the" is four words, and in every article, yet quotes nothing."""

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]")


def normalize_text(text: str) -> str:
    """The form both article and evidence are compared in."""
    text = unicodedata.normalize("NFKC", text).translate(_TRANSLATE)
    return _SPACE.sub(" ", text).strip().casefold()


def evidence_problem(evidence: str, normalized_article: str) -> str | None:
    """Why ``evidence`` is not a verbatim quote from the article, or None when it is.

    An ellipsis may elide words between fragments; every fragment must then appear,
    in order, and the fragments together must still carry enough words.
    """
    fragments = quote_fragments(evidence)
    if not fragments:
        return "the evidence is empty"
    counts = [count_words(f) for f in fragments]
    if sum(counts) < MIN_EVIDENCE_WORDS:
        return f"the evidence has {sum(counts)} words; quote at least {MIN_EVIDENCE_WORDS} consecutive words"
    if len(fragments) > 1 and min(counts) < MIN_FRAGMENT_WORDS:
        return f"each part of a quote joined by an ellipsis needs at least {MIN_FRAGMENT_WORDS} words"
    position = 0
    for fragment in fragments:
        found = find_words(normalized_article, fragment, position)
        if found < 0:
            return "the evidence does not appear verbatim in the article"
        position = found + len(fragment)
    return None


def quote_fragments(evidence: str) -> list[str]:
    """The normalised pieces of a quote, split at each ellipsis, edge punctuation removed."""
    fragments = [normalize_text(part).strip(_EDGE) for part in _ELLIPSIS.split(evidence)]
    return [f for f in fragments if f]


def find_words(haystack: str, needle: str, start: int = 0) -> int:
    """Where ``needle`` first occurs in ``haystack`` from ``start`` on word boundaries; -1 if
    nowhere. Next to Chinese or Japanese characters every position is a boundary."""
    found = haystack.find(needle, start)
    while found >= 0:
        end = found + len(needle)
        if _boundary(haystack, found - 1, needle[0]) and _boundary(haystack, end, needle[-1]):
            return found
        found = haystack.find(needle, found + 1)
    return -1


def _boundary(text: str, index: int, inner: str) -> bool:
    if index < 0 or index >= len(text):
        return True
    outer = text[index]
    if _CJK.match(outer) or _CJK.match(inner):
        return True
    return not (outer.isalnum() and inner.isalnum())


def is_grounded(evidence: str, normalized_article: str) -> bool:
    """True when ``evidence`` is a verbatim quote of the (normalised) article."""
    return evidence_problem(evidence, normalized_article) is None
