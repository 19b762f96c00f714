"""Checks that a quoted piece of evidence really appears in the article text.

Matching is verbatim after normalising what copying legitimately changes: Unicode form,
whitespace runs, curly versus straight quotes, dash variants, letter case, and the
punctuation or quote marks a model wraps around a quotation.
"""

from __future__ import annotations

import re
import unicodedata

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


def normalize_text(text: str) -> str:
    """The form both article and evidence are compared in."""
    text = unicodedata.normalize("NFKC", text).translate(_TRANSLATE)
    return _SPACE.sub(" ", text).strip().casefold()


def evidence_problem(evidence: str, normalized_article: str) -> str | None:
    """Why ``evidence`` is not a verbatim quote from the article, or None when it is.

    An ellipsis may elide words between fragments; every fragment must then appear,
    in order, and the fragments together must still carry enough words.
    """
    fragments = [normalize_text(part).strip(_EDGE) for part in _ELLIPSIS.split(evidence)]
    fragments = [f for f in fragments if f]
    if not fragments:
        return "the evidence is empty"
    words = sum(len(f.split()) for f in fragments)
    if words < MIN_EVIDENCE_WORDS:
        return f"the evidence has {words} words; quote at least {MIN_EVIDENCE_WORDS} consecutive words"
    position = 0
    for fragment in fragments:
        found = normalized_article.find(fragment, position)
        if found < 0:
            return "the evidence does not appear verbatim in the article"
        position = found + len(fragment)
    return None


def is_grounded(evidence: str, normalized_article: str) -> bool:
    """True when ``evidence`` is a verbatim quote of the (normalised) article."""
    return evidence_problem(evidence, normalized_article) is None
