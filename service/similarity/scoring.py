"""Scoring related coverage and saying why, for a person. Pure functions.

A link's score blends four comparisons, each in 0..1:

- meaning: cosine similarity of the two cards' embeddings (when both have one);
- entities: shared names, rarer names weighing more (weighted cosine of the two sets);
- topics: shared topics, weighted the same way;
- wording: trigram similarity of the two cards' headline, claim and key facts;

and lifts links within one story (the same event) into the top band: a same-story link
scores SAME_STORY_FLOOR + (1 - SAME_STORY_FLOOR) × blend, so it stays ordered by the blend
instead of saturating at 1. Scores are symmetric, so the link stored in the other signal's
list carries the same score and reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from service.similarity.features import (
    Candidate,
    Rarity,
    Subject,
    entity_weights,
    topic_weights,
    weighted_cosine,
)

MEANING_WEIGHT = 0.35
ENTITY_WEIGHT = 0.30
TOPIC_WEIGHT = 0.15
WORDING_WEIGHT = 0.20
SAME_STORY_FLOOR = 0.25

MEANING_EVIDENCE = 0.5
"""Cosine at which meaning alone makes two signals related (and the reason says so)."""
WORDING_EVIDENCE = 0.3
"""Trigram similarity at which wording alone makes two signals related."""

NEAR_IDENTICAL_COSINE = 0.97
NEAR_IDENTICAL_WORDING = 0.9
"""Above these, a candidate is a copy of the signal (a republished wire story), not coverage."""

NAMES_IN_REASON = 3
TOPICS_IN_REASON = 2


@dataclass(frozen=True, slots=True)
class Link:
    """A stored related link: ``related_id`` appears in the subject's list (and vice versa)."""

    related_id: UUID
    score: float
    reason: str
    same_story: bool


def is_copy(subject: Subject, candidate: Candidate) -> bool:
    """Another version of the same article, the same text elsewhere, or a near-identical card."""
    return (
        candidate.article_id == subject.article_id
        or candidate.content_hash == subject.content_hash
        or (candidate.cosine is not None and candidate.cosine >= NEAR_IDENTICAL_COSINE)
        or candidate.text_similarity >= NEAR_IDENTICAL_WORDING
    )


def score_link(subject: Subject, candidate: Candidate, rarity: Rarity, *, use_meaning: bool) -> Link | None:
    """The link from ``subject`` to ``candidate``, or None when they are copies of each other
    or nothing but noise relates them (no shared story, name or topic, and neither meaning
    nor wording close enough)."""
    if candidate.id == subject.id or is_copy(subject, candidate):
        return None
    same_story = subject.story_id is not None and candidate.story_id == subject.story_id
    ew = entity_weights(rarity, subject.entity_keys, candidate.entity_keys)
    tw = topic_weights(rarity, subject.topic_ids, candidate.topic_ids)
    shared_entities = sorted(subject.entity_keys & candidate.entity_keys, key=lambda k: (-ew[k], k))
    shared_topics = sorted(subject.topic_ids & candidate.topic_ids, key=lambda t: (-tw[t], t))
    meaning = candidate.cosine if use_meaning else None
    wording = candidate.text_similarity

    parts = [
        (ENTITY_WEIGHT, weighted_cosine(subject.entity_keys, candidate.entity_keys, ew)),
        (TOPIC_WEIGHT, weighted_cosine(subject.topic_ids, candidate.topic_ids, tw)),
        (WORDING_WEIGHT, wording),
    ]
    if meaning is not None:
        parts.append((MEANING_WEIGHT, max(meaning, 0.0)))
    evidence = (
        same_story
        or bool(shared_entities)
        or bool(shared_topics)
        or (meaning is not None and meaning >= MEANING_EVIDENCE)
        or wording >= WORDING_EVIDENCE
    )
    if not evidence:
        return None
    blend = sum(w * v for w, v in parts) / sum(w for w, _ in parts)
    score = SAME_STORY_FLOOR + (1 - SAME_STORY_FLOOR) * blend if same_story else blend
    reason = describe(
        same_story=same_story,
        names=[subject.entity_names[k] for k in shared_entities],
        topics=[subject.topic_labels[t] for t in shared_topics],
        meaning=meaning,
        wording=wording,
    )
    return Link(related_id=candidate.id, score=round(score, 4), reason=reason, same_story=same_story)


def describe(
    *, same_story: bool, names: list[str], topics: list[str], meaning: float | None, wording: float
) -> str:
    """A reason a reader understands, most telling first, e.g.
    "Same story · Both mention Copperleaf Bank and Lena Hartmann · Both about Data breaches ·
    83% similar in meaning". ``names`` and ``topics`` come rarest first."""
    parts: list[str] = []
    if same_story:
        parts.append("Same story")
    if names:
        parts.append("Both mention " + _listing(names, NAMES_IN_REASON))
    if topics:
        parts.append("Both about " + _listing(topics, TOPICS_IN_REASON))
    if meaning is not None and meaning >= MEANING_EVIDENCE:
        parts.append(f"{round(meaning * 100)}% similar in meaning")
    elif wording >= WORDING_EVIDENCE:
        parts.append("Similar wording")
    return " · ".join(parts) or "Similar coverage"


def _listing(items: list[str], shown: int) -> str:
    head = items[:shown]
    text = head[0] if len(head) == 1 else ", ".join(head[:-1]) + " and " + head[-1]
    if len(items) > shown:
        text += f" (+{len(items) - shown} more)"
    return text


def rank_links(links: list[Link], keep: int) -> list[Link]:
    """The ``keep`` best links, best first (ties by id, so a retried job stores the same list)."""
    return sorted(links, key=lambda link: (-link.score, str(link.related_id)))[:keep]
