"""Turning service answers into what templates print: paragraphs, citation links, safe links,
the timeline chart's geometry. Everything here returns plain values; the templates escape them
(Jinja autoescape), so article-derived text never becomes markup."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit
from uuid import UUID

from schemas.digests import Citation
from schemas.topics import TimelineBucket

_CITATION = re.compile(r"\[(\d{1,3})\]")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


def paragraphs(text: str) -> list[str]:
    """Text split at blank lines (single newlines too when there are no blank lines)."""
    parts = _PARAGRAPH_BREAK.split(text.strip())
    if len(parts) == 1:
        parts = text.strip().split("\n")
    return [p.strip() for p in parts if p.strip()]


def safe_url(url: str | None) -> str | None:
    """``url`` when a browser would open it as a web page (http or https), else None: an
    article's ``javascript:`` or ``data:`` link must not become a link on our page."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url.strip()


@dataclass(frozen=True, slots=True)
class Segment:
    """A run of a briefing paragraph: plain text, or a citation marker with its signal."""

    text: str
    n: int | None = None
    signal_id: UUID | None = None
    title: str | None = None


def cited_paragraphs(body: str, citations: list[Citation]) -> list[list[Segment]]:
    """A section body as paragraphs of segments; ``[n]`` naming a citation becomes a link to
    that signal, any other bracketed number stays text."""
    by_number = {c.n: c for c in citations}
    result = []
    for paragraph in paragraphs(body):
        segments: list[Segment] = []
        position = 0
        for match in _CITATION.finditer(paragraph):
            citation = by_number.get(int(match.group(1)))
            if citation is None:
                continue
            if match.start() > position:
                segments.append(Segment(paragraph[position : match.start()]))
            segments.append(
                Segment(match.group(0), n=citation.n, signal_id=citation.signal_id, title=citation.title)
            )
            position = match.end()
        if position < len(paragraph):
            segments.append(Segment(paragraph[position:]))
        result.append(segments)
    return result


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    count: int


@dataclass(frozen=True, slots=True)
class Chart:
    """A bar chart of a timeline, in SVG user units (the SVG scales to its box)."""

    width: int
    height: int
    bars: list[Bar]
    peak: int
    first: str
    last: str
    total: int


CHART_WIDTH, CHART_HEIGHT, CHART_BASE = 600, 140, 20


def _day(moment: datetime) -> str:
    return moment.strftime("%d %b")


def timeline_chart(buckets: list[TimelineBucket]) -> Chart:
    """Bars for the buckets (their heights relative to the busiest bucket)."""
    peak = max((b.count for b in buckets), default=0)
    slot = CHART_WIDTH / max(len(buckets), 1)
    plot = CHART_HEIGHT - CHART_BASE
    bars = []
    for i, bucket in enumerate(buckets):
        height = plot * bucket.count / peak if peak else 0.0
        bars.append(
            Bar(
                x=round(i * slot + slot * 0.1, 2),
                y=round(plot - height, 2),
                width=round(slot * 0.8, 2),
                height=round(height, 2),
                label=_day(bucket.start),
                count=bucket.count,
            )
        )
    return Chart(
        width=CHART_WIDTH,
        height=CHART_HEIGHT,
        bars=bars,
        peak=peak,
        first=_day(buckets[0].start) if buckets else "",
        last=_day(buckets[-1].start) if buckets else "",
        total=sum(b.count for b in buckets),
    )


def sentiment_word(value: float | None) -> str | None:
    """The model's tone as a word (the number alone means little to a reader)."""
    if value is None:
        return None
    if value <= -0.5:
        return "very negative"
    if value < -0.1:
        return "negative"
    if value <= 0.1:
        return "neutral"
    if value < 0.5:
        return "positive"
    return "very positive"
