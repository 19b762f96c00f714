"""The schema the LLM must answer in (pydantic, for instructor). The wire contract is msgspec.

The grounding validator runs inside instructor's validation: while re-asks remain, an
ungrounded key detail is a validation error whose message goes back to the model; on the
final attempt the analysis is accepted and the caller drops what is still ungrounded.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationInfo, field_validator, model_validator

from service.analysis.grounding import evidence_problem

EntityType = Literal["person", "organization", "product", "place"]


class KeyDetail(BaseModel):
    """One fact from the article and the verbatim quote that backs it."""

    text: str = Field(
        min_length=8,
        max_length=400,
        description="One fact the article states, as one sentence in your own words.",
    )
    evidence: str = Field(
        min_length=10,
        max_length=600,
        description=(
            "A verbatim quote copied character for character from the article text that "
            "supports the fact: one sentence or clause, at least four words."
        ),
    )


class EntityDraft(BaseModel):
    """A person, organisation, product or place the article is about."""

    name: str = Field(min_length=1, max_length=200, description="Full name as the article gives it.")
    type: EntityType = Field(description="person, organization, product or place.")


class SignalDraft(BaseModel):
    """A signal: a structured, grounded reading of one article."""

    title: str = Field(
        min_length=5, max_length=160, description="Your own headline for the signal, at most 15 words."
    )
    summary: str = Field(
        min_length=10, max_length=400, description="One sentence: the central claim of the article."
    )
    eli5: str = Field(
        min_length=20,
        max_length=1200,
        description="Explain like I'm five: 2-4 short sentences built on an everyday analogy a child gets.",
    )
    analysis: str = Field(
        min_length=100,
        max_length=6000,
        description=(
            "Deep analysis in 2-3 paragraphs separated by blank lines: who says what, "
            "why it matters, what it changes. Only what the article supports."
        ),
    )
    impact: str = Field(
        min_length=30,
        max_length=2000,
        description="Impact assessment: one paragraph on consequences for the field.",
    )
    key_details: list[KeyDetail] = Field(
        min_length=3,
        max_length=7,
        description="3-7 key facts, each backed by a verbatim quote from the article.",
    )
    optimistic_outlook: str = Field(
        min_length=20, max_length=1500, description="The best realistic case, one short paragraph."
    )
    pessimistic_outlook: str = Field(
        min_length=20, max_length=1500, description="The worst realistic case, one short paragraph."
    )
    topics: list[str] = Field(
        min_length=1,
        max_length=5,
        description="1-5 broad topic labels of 1-3 words, e.g. 'AI infrastructure', 'Energy policy'.",
    )
    sentiment: float = Field(
        ge=-1.0,
        le=1.0,
        description=(
            "Tone of the reported development for those it affects, from -1 (very negative) "
            "through 0 (neutral or mixed) to 1 (very positive)."
        ),
    )
    entities: list[EntityDraft] = Field(
        default_factory=list,
        max_length=30,
        description="People, organizations, products and places the article is about.",
    )

    @field_validator("topics")
    @classmethod
    def _topics_have_words(cls, topics: list[str]) -> list[str]:
        cleaned = [t.strip() for t in topics if t.strip()]
        if not cleaned:
            raise ValueError("give at least one topic label")
        return cleaned

    @model_validator(mode="after")
    def _evidence_is_verbatim(self, info: ValidationInfo) -> SignalDraft:
        context: dict[str, Any] | None = info.context
        if not context or "normalized_article" not in context:
            return self
        # The caller counts attempts (one per completion); the last one is accepted as is.
        if context.get("attempts", 1) > context.get("max_reasks", 0):
            # Last attempt: accept; the caller drops what is still ungrounded and records it.
            return self
        problems = []
        for index, detail in enumerate(self.key_details):
            problem = evidence_problem(detail.evidence, context["normalized_article"])
            if problem is not None:
                problems.append(f"key_details[{index}].evidence: {problem}: {detail.evidence!r}")
        if problems:
            raise ValueError(
                "Some evidence is not a verbatim quote from the article. Copy each quote exactly "
                "from the text between the article markers, or choose a different fact.\n"
                + "\n".join(problems)
            )
        return self
