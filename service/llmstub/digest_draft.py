"""The stub's briefings: DigestPlan and DigestDraft answers built only from the prompt.

The plan groups the listed signals by their first words' topic (the card's ``Topics`` line
when the card is full, else the title's leading words) into as many sections as the prompt
asks for; the draft weaves each planned section from its cards' summaries and key details and
cites every sentence with the card's own ref. Nothing cites a ref the prompt did not give.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from service.digests.prompt import SIGNALS_PATTERN
from service.llmstub.signal_draft import STUB_LABEL

_CARD_START = re.compile(r"^\[(?P<ref>s[1-9][0-9]*)\] (?P<rest>.*)$")
_BOUNDS = re.compile(r"Plan between (\d+) and (\d+) sections")
_SECTION = re.compile(r"^Section \d+: (?P<title>.*?) — .*\[signals: (?P<refs>[s0-9, ]+)\]$")
_QUICK = re.compile(r"^Quick hits: (?P<refs>.*)$")
_TENSION = re.compile(r"^Tension: (?P<text>.*)$")
SECTION_SIZE = 4


@dataclass
class StubCard:
    """What the stub reads of one signal in the prompt."""

    ref: str
    title: str
    summary: str = ""
    details: list[str] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)


def read_cards(texts: list[str]) -> list[StubCard]:
    """The cards in the latest signals block among ``texts`` (user messages), in order."""
    block = None
    for text in reversed(texts):
        match = SIGNALS_PATTERN.search(text)
        if match:
            block = match.group("text")
            break
    cards: list[StubCard] = []
    for line in (block or "").splitlines():
        start = _CARD_START.match(line)
        if start:
            # "[s1] title | topics: a; b" (plan), "[s1] title — claim (source)" (quick hit) or
            # "[s1] title" followed by the card's field lines.
            line_text, _, topics = start["rest"].partition(" | topics: ")
            title, _, rest = line_text.partition(" — ")
            summary = rest.rsplit(" (", 1)[0] if rest else ""
            card = StubCard(start["ref"], title.strip(), summary.strip())
            card.topics = [t for t in topics.split("; ") if t and t != "no topic"]
            cards.append(card)
        elif cards and line.startswith("Summary: "):
            cards[-1].summary = line.removeprefix("Summary: ")
        elif cards and line.startswith("Key details: "):
            cards[-1].details = line.removeprefix("Key details: ").split(" | ")
        elif cards and line.startswith("Topics: "):
            cards[-1].topics = line.removeprefix("Topics: ").split(", ")
    return cards


def _theme(card: StubCard) -> str:
    if card.topics:
        return card.topics[0]
    words = [w for w in re.findall(r"[A-Za-z][\w-]+", card.title) if w.lower() != "stub"]
    return " ".join(words[:2]) or "News"


def plan_from_prompt(texts: list[str]) -> dict[str, Any]:
    """A DigestPlan-shaped dict: sections within the asked bounds, grouped by theme."""
    cards = read_cards(texts)
    joined = "\n".join(texts)
    bounds = _BOUNDS.search(joined)
    lo, hi = (int(bounds.group(1)), int(bounds.group(2))) if bounds else (1, 5)
    wanted = min(len(cards), max(lo, min(hi, len(cards) // 3 or 1)))
    in_sections = cards[: max(wanted, min(len(cards), wanted * SECTION_SIZE))]
    groups: dict[str, list[StubCard]] = {}
    for card in in_sections:
        groups.setdefault(_theme(card), []).append(card)
    ordered = list(groups.items())
    while len(ordered) > wanted:  # fold the smallest theme into the one before it
        smallest = min(range(1, len(ordered)), key=lambda i: len(ordered[i][1]))
        ordered[smallest - 1][1].extend(ordered.pop(smallest)[1])
    while len(ordered) < wanted:  # split the largest theme in two
        largest = max(range(len(ordered)), key=lambda i: len(ordered[i][1]))
        name, members = ordered[largest]
        if len(members) < 2:
            break
        half = len(members) // 2
        ordered[largest] = (name, members[:half])
        ordered.insert(largest + 1, (f"More on {name}", members[half:]))
    themes = [name for name, _ in ordered]
    return {
        "tension": f"{STUB_LABEL} The period pulls between "
        + (f"{themes[0]} and {themes[1]}." if len(themes) > 1 else f"{themes[0] if themes else 'news'}."),
        "sections": [
            {
                "title": f"{STUB_LABEL} {name}"[:90],
                "angle": f"{STUB_LABEL} What the signals on {name} add up to.",
                "signals": [c.ref for c in members],
            }
            for name, members in ordered
        ],
    }


def _clip(text: str, words: int) -> str:
    return " ".join(text.split()[:words]).rstrip(".!?,;: ")


def draft_from_prompt(texts: list[str]) -> dict[str, Any]:
    """A DigestDraft-shaped dict following the plan in the prompt; every sentence cited."""
    cards = {c.ref: c for c in read_cards(texts)}
    joined = "\n".join(texts)
    sections: list[tuple[str, list[str]]] = []
    quick: list[str] = []
    tension = "The period's signals."
    for line in joined.splitlines():
        if match := _SECTION.match(line):
            refs = [r.strip() for r in match["refs"].split(",") if r.strip() in cards]
            sections.append((match["title"], refs))
        elif match := _QUICK.match(line):
            quick = [r.strip() for r in match["refs"].split(",") if r.strip() in cards]
        elif match := _TENSION.match(line):
            tension = match["text"]
    first = next(iter(cards.values()), None)
    bodies = []
    for title, refs in sections:
        paragraphs = []
        for ref in refs or list(cards)[:1]:
            card = cards[ref]
            sentence = f"{_clip(card.summary or card.title, 40)} [{ref}]."
            if card.details:
                sentence += f" {_clip(card.details[0], 30)} [{ref}]."
            paragraphs.append(sentence)
        bodies.append({"title": title, "body": "\n\n".join(paragraphs)})
    opening = f"{STUB_LABEL} {tension.rstrip('.')}." + (
        f" The most significant signal: {_clip(first.title, 20)} [{first.ref}]." if first else ""
    )
    return {
        "headline": f"{STUB_LABEL} {_clip(first.title, 12) if first else 'Briefing'}",
        "dek": f"{STUB_LABEL} {len(cards)} signals, {len(sections)} themes (stub output).",
        "opening": opening,
        "sections": bodies,
        "quick_hits": [
            {"signal": ref, "text": f"{STUB_LABEL} {_clip(cards[ref].title, 25)}"} for ref in quick
        ],
    }
