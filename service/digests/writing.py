"""Writing a briefing from ranked signals: two structured calls, or a template for one signal.

- **plan** (``DigestPlan``): the tension and the themed sections, from one line per signal;
- **write** (``DigestDraft``): the text, from the plan, the full cards of the sections'
  signals and one line per quick-hit signal.

Both answers are validated against the refs the prompt gave (model.py): a ref that was not in
the input is re-asked with the error. The text's ``[s3]`` markers then become citation
numbers ``[1]``, ``[2]``… in order of first appearance, each resolved to its signal's title and
URL; a signal the text did not cite gets a quick hit from its own title, so every included
signal is linked. Reading time is counted here, never asked of the model.

One signal is written by a template with no model call: a theme cannot be woven from one
report, and a model asked for one would invent it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from uuid import UUID

from service.analysis.client import Analyzer
from service.digests.model import DigestDraft, DigestPlan, WrittenSection, paragraphs
from service.digests.prompt import (
    REF_RE,
    CardForPrompt,
    PlanForPrompt,
    Scope,
    estimate_tokens,
    plan_messages,
    prompt_tokens,
    render_card,
    write_messages,
)
from service.digests.selection import fit_to_budget, section_bounds

WORDS_PER_MINUTE = 230
PLAN_MAX_TOKENS = 1200
_PLAN_ALLOWANCE = CardForPrompt(ref="s0", title="x" * 300, summary="x" * (5 * 460))
"""Stands in for the plan text in the write prompt when the budget is worked out."""
_MARKER_RUN = re.compile(r"\s*((?:\[s[1-9][0-9]*\])+)")


@dataclass(frozen=True, slots=True)
class SourceSignal:
    """A signal a briefing may be written from: its card fields and where it links to."""

    id: UUID
    title: str
    summary: str
    key_details: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    entities: tuple[str, ...] = ()
    site_name: str | None = None
    url: str | None = None
    published: date | None = None
    coverage: int = 1

    def card(self, ref: str) -> CardForPrompt:
        return CardForPrompt(
            ref=ref,
            title=self.title,
            summary=self.summary,
            key_details=self.key_details,
            topics=self.topics,
            entities=self.entities,
            site_name=self.site_name,
            published=self.published,
            coverage=self.coverage,
        )


@dataclass(slots=True)
class WrittenDigest:
    """A briefing ready to store."""

    headline: str
    dek: str
    opening: str
    sections: list[dict[str, Any]]
    quick_hits: list[dict[str, Any]]
    citations: list[dict[str, Any]]
    signal_ids: list[UUID]
    word_count: int
    reading_minutes: int
    kind: str
    model: str | None = None
    llm_calls: int = 0
    input_tokens: int | None = None
    output_tokens: int | None = None
    latency_ms: int | None = None
    card_tokens: int = 0
    """Estimated tokens of the included signals' full cards (the bench's yardstick)."""
    extra: dict[str, Any] = field(default_factory=dict)


def write_overhead(scope: Scope) -> int:
    """Estimated tokens of the write call besides the cards: instructions, plan, schema."""
    plan = PlanForPrompt(tension="", sections=[])
    messages = write_messages(scope, plan, [_PLAN_ALLOWANCE], [])
    return prompt_tokens(messages, DigestDraft)


def fit_signals(scope: Scope, signals: list[SourceSignal], budget: int) -> list[SourceSignal]:
    """The leading signals whose write prompt (the larger of the two) fits ``budget`` tokens."""
    costs = [estimate_tokens(render_card(s.card(f"s{i}"))) + 1 for i, s in enumerate(signals, start=1)]
    return signals[: fit_to_budget(costs, write_overhead(scope), budget)]


def reading_minutes(words: int) -> int:
    """Minutes at 230 words a minute, rounded up; at least one."""
    return max(1, math.ceil(words / WORDS_PER_MINUTE))


def _words(text: str) -> int:
    return len(REF_RE.sub(" ", re.sub(r"\[\d+\]", " ", text)).split())


def _strip_markers(text: str) -> str:
    return " ".join(REF_RE.sub(" ", text).split())


class _Numbering:
    """Citation numbers in order of first appearance."""

    def __init__(self, signals: dict[str, SourceSignal]) -> None:
        self.signals = signals
        self.order: list[str] = []

    def number(self, ref: str) -> int:
        if ref not in self.order:
            self.order.append(ref)
        return self.order.index(ref) + 1

    def convert(self, text: str) -> tuple[str, list[UUID]]:
        """``text`` with ``[sN]`` markers as ``[n]``, and the signals it cites in order."""
        cited: list[UUID] = []

        def replace(match: re.Match[str]) -> str:
            refs = REF_RE.findall(match.group(1))
            for ref in refs:
                if self.signals[ref].id not in cited:
                    cited.append(self.signals[ref].id)
            # Markers hug the text they follow: "price [s3]." reads "price [1]."
            return " " + "".join(f"[{self.number(ref)}]" for ref in dict.fromkeys(refs))

        return _MARKER_RUN.sub(replace, text).strip(), cited

    def citations(self) -> list[dict[str, Any]]:
        return [
            {
                "n": n,
                "signal_id": str(self.signals[ref].id),
                "title": self.signals[ref].title,
                "url": self.signals[ref].url,
                "site_name": self.signals[ref].site_name,
            }
            for n, ref in enumerate(self.order, start=1)
        ]


def assemble(draft: DigestDraft, signals: dict[str, SourceSignal], kind: str = "llm") -> WrittenDigest:
    """The stored form of a validated draft (``signals``: ref → signal, in rank order)."""
    numbering = _Numbering(signals)
    opening, _ = numbering.convert(draft.opening)
    sections = []
    for section in draft.sections:
        parts = [numbering.convert(p) for p in paragraphs(section.body)]
        cited = list(dict.fromkeys(s for _, ids in parts for s in ids))
        sections.append(
            {
                "title": _strip_markers(section.title),
                "body": "\n\n".join(text for text, _ in parts),
                "signal_ids": [str(s) for s in cited],
            }
        )
    hits: dict[str, str] = {}
    for hit in draft.quick_hits:
        hits.setdefault(hit.signal, _strip_markers(hit.text))
    # Every included signal is linked: what the text skipped gets a line of its own.
    for ref, signal in signals.items():
        if ref not in numbering.order and ref not in hits:
            hits[ref] = signal.title
    quick_hits = []
    for ref, text in hits.items():
        numbering.number(ref)
        quick_hits.append({"text": text, "signal_id": str(signals[ref].id)})
    headline, dek = _strip_markers(draft.headline), _strip_markers(draft.dek)
    texts: list[str] = [headline, dek, opening]
    texts += [f"{s['title']} {s['body']}" for s in sections]
    texts += [str(h["text"]) for h in quick_hits]
    words = sum(_words(t) for t in texts)
    return WrittenDigest(
        headline=headline,
        dek=dek,
        opening=opening,
        sections=sections,
        quick_hits=quick_hits,
        citations=numbering.citations(),
        signal_ids=[signals[ref].id for ref in numbering.order],
        word_count=words,
        reading_minutes=reading_minutes(words),
        kind=kind,
    )


def write_from_template(scope: Scope, signal: SourceSignal) -> WrittenDigest:
    """A briefing of one signal, with no model call: its own headline, claim and key facts."""
    when = "day" if scope.period == "daily" else "week"
    details = " ".join(d.rstrip(".") + "." for d in signal.key_details[:4])
    body = f"{signal.summary} [s1]" + (f"\n\n{details} [s1]" if details else "")
    draft = DigestDraft.model_construct(
        headline=signal.title,
        dek=signal.summary,
        opening=f"One signal entered the service for {scope.period_label}, so this {when}'s briefing "
        f"is that report alone: {signal.title} [s1]",
        sections=[
            WrittenSection.model_construct(
                title=signal.topics[0] if signal.topics else "The only signal", body=body
            )
        ],
        quick_hits=[],
    )
    return assemble(draft, {"s1": signal}, kind="template")


async def write_digest(analyzer: Analyzer, scope: Scope, signals: list[SourceSignal]) -> WrittenDigest:
    """Plan and write a briefing of two or more ``signals`` (most significant first)."""
    by_ref = {f"s{i}": s for i, s in enumerate(signals, start=1)}
    cards = {ref: s.card(ref) for ref, s in by_ref.items()}
    refs = list(by_ref)
    bounds = section_bounds(len(refs))
    plan = await analyzer.complete(
        messages=plan_messages(scope, list(cards.values()), bounds),
        response_model=DigestPlan,
        context={"refs": refs, "bounds": bounds},
        max_tokens=PLAN_MAX_TOKENS,
    )
    planned = [(s.title, s.angle, s.signals) for s in plan.value.sections]
    in_sections = {r for _, _, section_refs in planned for r in section_refs}
    quick = [r for r in refs if r not in in_sections]
    plan_for_prompt = PlanForPrompt(tension=plan.value.tension, sections=planned, quick_hits=quick)
    full = [cards[r] for r in refs if r in in_sections]
    written = await analyzer.complete(
        messages=write_messages(scope, plan_for_prompt, full, [cards[r] for r in quick]),
        response_model=DigestDraft,
        context={"refs": refs, "sections": len(planned)},
    )
    digest = assemble(written.value, by_ref)
    digest.model = written.model
    digest.llm_calls = plan.attempts + written.attempts
    if plan.input_tokens is not None and written.input_tokens is not None:
        digest.input_tokens = plan.input_tokens + written.input_tokens
        digest.output_tokens = (plan.output_tokens or 0) + (written.output_tokens or 0)
    digest.latency_ms = plan.latency_ms + written.latency_ms
    return digest


def card_tokens(signals: list[SourceSignal]) -> int:
    """Estimated tokens of the signals' full cards."""
    return sum(estimate_tokens(render_card(s.card(f"s{i}"))) for i, s in enumerate(signals, start=1))
