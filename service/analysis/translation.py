"""A card written in the wrong language gets its fields back in English, not a whole new card.

Small models drift into the article's language: Qwen2.5-1.5B wrote Japanese cards for
Japanese articles and copied German sentences as key detail texts, and asked again for the
whole card it answered the same, token for token. Translating what it wrote is an easier task
than writing in another language than the one it reads, and it costs the failing fields'
tokens, not a card's. So after the card (and any replacement key details), the prose fields
and key detail texts are identified (service.analysis.language); those not in the card
language are asked for again in the same conversation, as a translation, with a response
model made of only those fields. What is still not in the card language then fails the
answer as ``llm_invalid_output``, naming the fields.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BeforeValidator, Field, create_model

from service.analysis import citations
from service.analysis.language import CARD_LANGUAGE, language_name, wrong_language_fields
from service.analysis.model import SignalDraft, tidy_text
from service.analysis.schema import WireModel
from service.analysis.structured import Usage, follow_up
from service.errors import LLMInvalidOutput

if TYPE_CHECKING:
    from service.analysis.client import Analyzer

KEY_DETAILS = "key_details"


@dataclasses.dataclass(frozen=True, slots=True)
class Card:
    """A card as analysis holds it before storing: the draft and its usable key details."""

    draft: SignalDraft
    key_details: list[citations.CitedDetail]

    def wrong_fields(self, asked: str) -> dict[str, str]:
        """The fields not written in ``asked`` (service.analysis.language), the usable key
        details' texts standing for the draft's."""
        return wrong_language_fields(self.draft, asked, detail_texts=[d.text for d in self.key_details])


@functools.cache
def translation_model(fields: tuple[str, ...], details: int) -> type[WireModel]:
    """A response model of only ``fields`` (SignalDraft's, with its limits and tidying), and
    ``details`` key detail texts when ``key_details`` is one of them."""
    definitions: dict[str, Any] = {}
    for name in fields:
        if name == KEY_DETAILS:
            definitions[name] = (
                list[Annotated[str, BeforeValidator(lambda v: tidy_text(v, 300))]],
                Field(
                    min_length=details, max_length=details,
                    description=f"The {details} key details' texts in English, in the order given.",
                ),
            )  # fmt: skip
        else:
            info = SignalDraft.model_fields[name]
            definitions[name] = (info.annotation, info)
    made: type[WireModel] = create_model(
        "CardTranslation", __base__=WireModel, __doc__="Fields of the card again, in English.", **definitions
    )
    return made


def question(card: Card, wrong: dict[str, str], asked: str) -> str:
    """The follow-up: which fields are in which language, and what they said."""
    named = ", ".join(f"{name} ({language_name(seen)})" for name, seen in wrong.items())
    given: dict[str, Any] = {name: getattr(card.draft, name) for name in wrong if name != KEY_DETAILS}
    if KEY_DETAILS in wrong:
        given[KEY_DETAILS] = [d.text for d in card.key_details]
    return (
        f"These fields are not written in {language_name(asked)}: {named}. Every field of the card "
        f"must be in {language_name(asked)}, whatever the article's language. Translate them into "
        f"{language_name(asked)}, keeping every fact, name and number, and send only these fields:\n"
        + json.dumps(given, ensure_ascii=False, indent=1)
    )


async def in_card_language(
    analyzer: Analyzer,
    card: Card,
    conversation: list[dict[str, Any]],
    *,
    usage: Usage,
    max_tokens: int,
    names_comparable: bool,
    may_ask: bool,
    asked: str = CARD_LANGUAGE,
) -> Card:
    """``card`` with every field in ``asked``: as it is, or with the wrong ones translated by
    one more call in ``conversation`` (when ``may_ask``: re-asks are left); raise
    LLMInvalidOutput when some still are not."""
    wrong = card.wrong_fields(asked)
    if not wrong:
        return card
    if not may_ask:
        raise _not_in(asked, wrong, "")
    fields = tuple(name for name in (*SignalDraft.model_fields, KEY_DETAILS) if name in wrong)
    model = translation_model(fields, len(card.key_details))
    result = await analyzer.complete(
        messages=follow_up(conversation, question(card, wrong, asked)),
        response_model=model, usage=usage, max_tokens=max_tokens, max_reasks=0,
    )  # fmt: skip
    got = result.value.model_dump()
    texts = got.pop(KEY_DETAILS, None)
    details = card.key_details
    if texts is not None:
        details = [
            dataclasses.replace(
                d,
                text=text,
                unsupported=citations.unsupported_terms(text, d.evidence, names=names_comparable),
            )
            for d, text in zip(card.key_details, texts, strict=True)
        ]
    translated = Card(card.draft.model_copy(update=got), details)
    still = translated.wrong_fields(asked)
    if still:
        raise _not_in(asked, still, " even after asking for a translation")
    return translated


def _not_in(asked: str, wrong: dict[str, str], when: str) -> LLMInvalidOutput:
    named = ", ".join(f"{name} (reads as {language_name(seen)})" for name, seen in wrong.items())
    return LLMInvalidOutput(f"the card is not in {language_name(asked)}{when}: {named}")
