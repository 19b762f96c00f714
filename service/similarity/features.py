"""What relating compares: the signal being related, its candidates, and rarity weights.

Pure data and arithmetic, no I/O: the repository fills these in, scoring and story matching
read them, and unit tests build them by hand.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TypeVar
from uuid import UUID

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True, slots=True)
class Subject:
    """The signal being related."""

    id: UUID
    article_id: UUID
    content_hash: str
    created_at: datetime
    published_date: date | None
    story_id: UUID | None
    title: str
    summary: str
    key_texts: tuple[str, ...]
    topic_labels: Mapping[int, str]
    """Topic id → label, in the model's order."""
    entity_names: Mapping[str, str]
    """Entity key (folded name) → name as this signal spells it."""
    supplier_id: UUID | None = None
    """Whose supplied content it was made of (None: a fetched page, public)."""
    trigrams: frozenset[int] = frozenset()
    """Its card's trigram codes (``signals.card_trigrams``; service.similarity.wording)."""

    @property
    def entity_keys(self) -> frozenset[str]:
        return frozenset(self.entity_names)

    @property
    def topic_ids(self) -> frozenset[int]:
        return frozenset(self.topic_labels)

    @property
    def card(self) -> str:
        """The text this signal is embedded from."""
        return card_text(self.title, self.summary, self.key_texts, self.topic_labels.values())


@dataclass(frozen=True, slots=True)
class Candidate:
    """Another current signal that might be related, with how it compares to the subject."""

    id: UUID
    article_id: UUID
    content_hash: str
    created_at: datetime
    published_date: date | None
    story_id: UUID | None
    title: str
    url: str | None
    entity_keys: frozenset[str]
    topic_ids: frozenset[int]
    text_similarity: float
    """pg_trgm's similarity of the two cards' headline, claim and key facts (0..1), from the
    stored trigrams (service.similarity.wording)."""
    cosine: float | None
    """Cosine similarity of the two embeddings (same model); None when either has none."""


@dataclass(frozen=True, slots=True)
class Rarity:
    """How many current signals name each entity key and carry each topic, out of ``total``.

    A name every signal mentions says little about two signals being related; a rare one
    says a lot. Weights are inverse document frequencies, smoothed so they stay positive.
    """

    total: int
    entity_counts: Mapping[str, int] = field(default_factory=dict)
    topic_counts: Mapping[int, int] = field(default_factory=dict)

    def entity_weight(self, key: str) -> float:
        return inverse_frequency(self.entity_counts.get(key, 1), self.total)

    def topic_weight(self, topic_id: int) -> float:
        return inverse_frequency(self.topic_counts.get(topic_id, 1), self.total)


def split_by_reach(counts: Mapping[K, int], budget: float) -> tuple[set[K], set[K]]:
    """Which keys to read every signal of, and which only the newest signals of.

    Rarest first, keys are read whole while together they reach at most ``budget`` signals;
    all of them when together they reach at most twice that. So whatever is left reaches more
    than ``budget`` signals, and a newest-first walk finds its signals at least ``budget`` /
    all signals apart: it stays short. A rare key weighs more than a common one, so its
    signals are the likelier candidates and are never cut.
    """
    ordered = sorted(counts, key=lambda k: (counts[k], str(k)))
    if sum(counts.values()) <= 2 * budget:
        return set(ordered), set()
    whole: set[K] = set()
    reach = 0
    for key in ordered:
        reach += counts[key]
        if reach > budget:
            break
        whole.add(key)
    return whole, set(ordered) - whole


def inverse_frequency(count: int, total: int) -> float:
    """ln(1 + total / count): 1 signal of 1000 weighs ~6.9, 500 of 1000 weigh ~1.1."""
    return math.log1p(max(total, 1) / max(count, 1))


def weighted_jaccard(a: Iterable[K], b: Iterable[K], weight: Mapping[K, float]) -> float:
    """Weight of the shared items over the weight of all items (0 when both are empty)."""
    left, right = set(a), set(b)
    union = sum(weight[k] for k in left | right)
    if union <= 0:
        return 0.0
    return sum(weight[k] for k in left & right) / union


def weighted_cosine(a: Iterable[K], b: Iterable[K], weight: Mapping[K, float]) -> float:
    """Overlap of two weighted sets, symmetric and in 0..1: shared / sqrt(left * right)."""
    left, right = set(a), set(b)
    left_weight = sum(weight[k] for k in left)
    right_weight = sum(weight[k] for k in right)
    if left_weight <= 0 or right_weight <= 0:
        return 0.0
    return sum(weight[k] for k in left & right) / math.sqrt(left_weight * right_weight)


def entity_weights(rarity: Rarity, *key_sets: Iterable[str]) -> dict[str, float]:
    """Weight of every entity key in ``key_sets``."""
    return {k: rarity.entity_weight(k) for keys in key_sets for k in keys}


def topic_weights(rarity: Rarity, *id_sets: Iterable[int]) -> dict[int, float]:
    """Weight of every topic id in ``id_sets``."""
    return {t: rarity.topic_weight(t) for ids in id_sets for t in ids}


def card_text(title: str, summary: str, key_texts: Iterable[str], topic_labels: Iterable[str]) -> str:
    """The text a signal is embedded from: the card's headline, claim, key facts and topics.

    Not the article: the card is what the signal says, in a bounded length, and two
    outlets' cards about one event read alike even when their articles do not.
    """
    parts = [title.strip(), summary.strip(), *(t.strip() for t in key_texts)]
    labels = [label.strip() for label in topic_labels if label.strip()]
    if labels:
        parts.append("Topics: " + ", ".join(labels))
    return "\n".join(p for p in parts if p)
