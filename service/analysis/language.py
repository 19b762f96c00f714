"""Is a card written in the language it was asked for?

Small models drift: Qwen2.5-1.5B wrote Chinese cards for Japanese articles and mixed German
into English ones although the prompt asks for English. The card's prose fields are checked
with py3langid (langid.py's model, 97 languages, about 0.2 ms a field); the fields that read
as another language are asked for again as a translation (service.analysis.translation).

Only prose long enough to identify is checked (``MIN_READING_LENGTH``), and a field is
refused only when the model is sure it is not the asked language (``MAX_ASKED_PROBABILITY``):
an English sentence naming the Bundesregierung, Aichi or 愛知県 is still English. Key details
are short; their texts are checked together. Titles and topics are not checked (a few words,
often names).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from py3langid.langid import LanguageIdentifier

CARD_LANGUAGE = "en"
"""The language every card is written in (the prompt says so); evidence stays verbatim."""

MIN_READING_LENGTH = 100
"""Shorter text (in reading length: a CJK character counts three) is not checked: langid's
guesses on a dozen words are unreliable."""

SAMPLE_CHARS = 1000

MAX_ASKED_PROBABILITY = 0.01
"""A field is refused when the asked language has less than this probability."""

_NAMES = {
    "en": "English", "de": "German", "fr": "French", "es": "Spanish", "it": "Italian",
    "pt": "Portuguese", "nl": "Dutch", "ja": "Japanese", "zh": "Chinese", "ko": "Korean",
    "ru": "Russian", "pl": "Polish", "sv": "Swedish", "tr": "Turkish", "ar": "Arabic",
}  # fmt: skip
PROSE_FIELDS = ("summary", "eli5", "analysis", "impact", "optimistic_outlook", "pessimistic_outlook")


class _Detail(Protocol):
    @property
    def text(self) -> str: ...


class _Card(Protocol):
    @property
    def summary(self) -> str: ...
    @property
    def eli5(self) -> str: ...
    @property
    def analysis(self) -> str: ...
    @property
    def impact(self) -> str: ...
    @property
    def optimistic_outlook(self) -> str: ...
    @property
    def pessimistic_outlook(self) -> str: ...
    @property
    def key_details(self) -> Sequence[_Detail]: ...


def language_name(code: str) -> str:
    """The English name of language ``code`` ("German" for "de"), else the code itself."""
    return _NAMES.get(code, code)


@functools.cache
def _identifier() -> LanguageIdentifier:
    # Loaded once per process (~0.4 s), by the analyzer's start-up (``preload``) or first use.
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def preload() -> None:
    """Load the language model now (in a thread at start-up), not inside the first card's
    check on the event loop."""
    _identifier()


def reads_as(text: str, asked: str) -> str | None:
    """The language ``text`` reads as when it is surely not ``asked``; None when it may be
    ``asked`` or is too short to tell."""
    from service.analysis.model import reading_length

    if reading_length(text) < MIN_READING_LENGTH:
        return None
    # The first SAMPLE_CHARS tell the language as well as the whole field, at a bounded cost
    # (langid's time grows with the text: 0.16 ms for 1 000 characters, 0.35 ms for 3 000).
    ranked = dict(_identifier().rank(text[:SAMPLE_CHARS]))
    if ranked.get(asked, 0.0) >= MAX_ASKED_PROBABILITY:
        return None
    seen: str = max(ranked, key=lambda code: ranked[code])
    return seen


def wrong_language_fields(
    card: _Card, asked: str = CARD_LANGUAGE, *, detail_texts: Iterable[str] | None = None
) -> dict[str, str]:
    """Field name → the language it reads as, for each prose field not written in ``asked``;
    the key details' texts (``detail_texts``, else the card's own) are read together."""
    texts = {name: getattr(card, name) for name in PROSE_FIELDS}
    details = detail_texts if detail_texts is not None else (detail.text for detail in card.key_details)
    texts["key_details"] = " ".join(details)
    found = {name: seen for name, text in texts.items() if (seen := reads_as(text, asked))}
    return found
