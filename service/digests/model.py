"""The schemas the model answers the two briefing calls in (pydantic, for instructor).

The validators read instructor's validation ``context``: the refs given in the prompt
(``refs``), the section bounds (``bounds``) or the planned sections (``sections``). A ref that
was not in the input is a validation error whose message names it and lists the valid ones,
so instructor re-asks with it; nothing invented is ever accepted, on any attempt.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, ValidationInfo, field_validator, model_validator

from service.digests.prompt import REF_RE

_REF_PATTERN = r"^s[1-9][0-9]*$"


def _known(info: ValidationInfo) -> list[str] | None:
    context: dict[str, Any] | None = info.context
    if not context or "refs" not in context:
        return None
    return list(context["refs"])


def _listing(refs: list[str]) -> str:
    return ", ".join(refs) if len(refs) <= 12 else f"{refs[0]} to {refs[-1]}"


def paragraphs(body: str) -> list[str]:
    """A body's paragraphs (separated by blank lines)."""
    return [p.strip() for p in body.replace("\r\n", "\n").split("\n\n") if p.strip()]


class PlannedSection(BaseModel):
    """One theme and the signals it weaves together."""

    title: str = Field(
        min_length=3, max_length=90, description="A short theme title in your own words, not a headline."
    )
    angle: str = Field(
        min_length=10, max_length=300, description="One sentence: the thread tying these signals together."
    )
    signals: list[str] = Field(
        min_length=1,
        max_length=8,
        description="Refs (like s3) of the signals this section weaves together, most important first.",
    )

    @field_validator("signals")
    @classmethod
    def _distinct(cls, refs: list[str]) -> list[str]:
        return list(dict.fromkeys(r.strip() for r in refs))


class DigestPlan(BaseModel):
    """The plan of a briefing: its tension and its themed sections."""

    tension: str = Field(
        min_length=10, max_length=300, description="One sentence naming the period's central tension."
    )
    sections: list[PlannedSection] = Field(min_length=1, max_length=5)

    @model_validator(mode="after")
    def _refs_are_given(self, info: ValidationInfo) -> DigestPlan:
        known = _known(info)
        if known is None:
            return self
        problems = []
        seen: set[str] = set()
        for index, section in enumerate(self.sections):
            invented = [r for r in section.signals if r not in known]
            if invented:
                problems.append(f"sections[{index}].signals: {', '.join(invented)} not among the signals")
            # A signal planned twice keeps its first section; the repair is ours, not a re-ask.
            section.signals = [r for r in section.signals if r not in seen]
            seen.update(section.signals)
            if not section.signals and not invented:
                problems.append(f"sections[{index}] has no signal of its own (each is in one section only)")
        lo, hi = (info.context or {}).get("bounds", (1, 5))
        if not lo <= len(self.sections) <= hi:
            problems.append(f"plan between {lo} and {hi} sections, not {len(self.sections)}")
        if problems:
            raise ValueError(
                "The plan must use only the refs given (" + _listing(known) + ").\n" + "\n".join(problems)
            )
        return self


class WrittenSection(BaseModel):
    """One themed section of the briefing."""

    title: str = Field(min_length=3, max_length=90, description="The planned theme's title.")
    body: str = Field(
        min_length=80,
        max_length=4000,
        description=(
            "2-4 paragraphs separated by blank lines. End each sentence that states something "
            "from a signal with its marker, like [s3]; every paragraph cites at least one signal."
        ),
    )


class QuickHit(BaseModel):
    """One line about one signal."""

    signal: str = Field(pattern=_REF_PATTERN, description="The ref of the signal, like s9.")
    text: str = Field(min_length=10, max_length=240, description="One line in your own words, no marker.")


class DigestDraft(BaseModel):
    """A written briefing, citing its signals by ref."""

    headline: str = Field(min_length=10, max_length=140, description="The briefing's headline.")
    dek: str = Field(min_length=10, max_length=240, description="One line under the headline.")
    opening: str = Field(
        min_length=40,
        max_length=1500,
        description="One paragraph naming the period's tension; cite signals with markers like [s3].",
    )
    sections: list[WrittenSection] = Field(min_length=1, max_length=5)
    quick_hits: list[QuickHit] = Field(default_factory=list, max_length=200)

    @model_validator(mode="after")
    def _citations_are_given(self, info: ValidationInfo) -> DigestDraft:
        known = _known(info)
        if known is None:
            return self
        problems = []
        texts = [("opening", self.opening)]
        texts += [(f"sections[{i}].body", s.body) for i, s in enumerate(self.sections)]
        for where, text in texts:
            invented = sorted({r for r in REF_RE.findall(text) if r not in known})
            if invented:
                problems.append(f"{where} cites {', '.join(invented)}, which are not among the signals")
        for index, section in enumerate(self.sections):
            for number, paragraph in enumerate(paragraphs(section.body), start=1):
                if not REF_RE.search(paragraph):
                    problems.append(f"sections[{index}] paragraph {number} cites no signal")
        for index, hit in enumerate(self.quick_hits):
            if hit.signal not in known:
                problems.append(f"quick_hits[{index}].signal {hit.signal} is not among the signals")
        planned = (info.context or {}).get("sections")
        if planned is not None and len(self.sections) != planned:
            problems.append(f"write {planned} sections, one per planned theme, not {len(self.sections)}")
        if problems:
            raise ValueError(
                "Cite only the refs given ("
                + _listing(known)
                + ") and cite in every paragraph.\n"
                + "\n".join(problems)
            )
        return self
