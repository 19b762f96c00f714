"""Which signals a briefing is written from, in which order. Pure functions.

1. **Candidates** are the current public signals that entered the service in the period
   (their ``created_at``), optionally only those carrying one topic (the repository reads
   them). Supplied content is its supplier's alone and never reaches a briefing.
2. **One per story** (``collapse_stories``): signals about one event from several outlets are
   one story; the story is represented by its lead signal when the lead entered in the period,
   otherwise by its newest signal of the period. A signal not (yet) placed in a story is a
   story of its own.
3. **Significance** (``significance``), highest first::

       score = log2(1 + coverage) + prominence + 0.25 * recency

   - *coverage*: signals of the story that entered in the period (reports from several outlets
     mean the event mattered to several newsrooms); log-scaled so one heavily covered event
     does not outweigh everything else;
   - *prominence* (0..1): how much the period's other stories talk about the same names: for
     each entity of the story, the share of the other stories naming it; the mean of the
     story's two highest shares;
   - *recency* (0..1): how late in the period the story's newest signal arrived (fresher news
     breaks ties between otherwise equal stories).

   Ties: more coverage, then newer, then id (a stable order).
4. **Caps**: the first SIGNALS_DIGEST_MAX_SIGNALS stories, then the longest prefix whose
   prompt fits SIGNALS_DIGEST_MAX_INPUT_TOKENS (``fit_to_budget``).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

COVERAGE_WEIGHT = 1.0
PROMINENCE_WEIGHT = 1.0
RECENCY_WEIGHT = 0.25
PROMINENT_ENTITIES = 2
"""The story's most-shared entities that count towards its prominence."""


@dataclass(frozen=True, slots=True)
class Candidate:
    """A current signal that entered the service in the period (light columns only)."""

    id: UUID
    story_id: UUID | None
    is_story_lead: bool
    created_at: datetime
    entity_ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class StoryGroup:
    """The period's signals about one event, and the one that represents them."""

    key: UUID
    representative: Candidate
    members: tuple[Candidate, ...]

    @property
    def coverage(self) -> int:
        return len(self.members)

    @property
    def entity_ids(self) -> frozenset[int]:
        return frozenset(e for member in self.members for e in member.entity_ids)

    @property
    def newest(self) -> datetime:
        return max(member.created_at for member in self.members)


@dataclass(frozen=True, slots=True)
class Ranked:
    """A story with its significance and the parts of it (shown in provenance and tests)."""

    group: StoryGroup
    score: float
    coverage: int
    prominence: float
    recency: float

    @property
    def signal_id(self) -> UUID:
        return self.group.representative.id


def collapse_stories(candidates: list[Candidate]) -> list[StoryGroup]:
    """One group per story (a signal without a story is its own), in first-seen order."""
    grouped: dict[UUID, list[Candidate]] = defaultdict(list)
    for candidate in candidates:
        grouped[candidate.story_id or candidate.id].append(candidate)
    groups = []
    for key, members in grouped.items():
        leads = [m for m in members if m.is_story_lead]
        # The story's lead is its freshest current report; outside the period, take ours.
        representative = leads[0] if leads else max(members, key=lambda m: (m.created_at, str(m.id)))
        groups.append(StoryGroup(key, representative, tuple(members)))
    return groups


def significance(
    group: StoryGroup, entity_stories: Counter[int], story_count: int, since: datetime, until: datetime
) -> Ranked:
    """The score of one story among ``story_count`` stories of the period ``[since, until)``.

    ``entity_stories`` counts, per entity id, the period's stories that name it.
    """
    coverage = group.coverage
    others = story_count - 1
    shares = sorted(
        ((entity_stories[e] - 1) / others for e in group.entity_ids) if others > 0 else (),
        reverse=True,
    )
    top = shares[:PROMINENT_ENTITIES]
    prominence = sum(top) / PROMINENT_ENTITIES if top else 0.0
    span = (until - since).total_seconds()
    recency = min(1.0, max(0.0, (group.newest - since).total_seconds() / span)) if span > 0 else 0.0
    score = (
        COVERAGE_WEIGHT * math.log2(1 + coverage) + PROMINENCE_WEIGHT * prominence + RECENCY_WEIGHT * recency
    )
    return Ranked(group, round(score, 6), coverage, round(prominence, 6), round(recency, 6))


def rank_stories(candidates: list[Candidate], since: datetime, until: datetime) -> list[Ranked]:
    """The period's stories, most significant first (see the module docstring)."""
    groups = collapse_stories(candidates)
    entity_stories: Counter[int] = Counter()
    for group in groups:
        entity_stories.update(group.entity_ids)
    ranked = [significance(g, entity_stories, len(groups), since, until) for g in groups]
    ranked.sort(key=lambda r: (-r.score, -r.coverage, -r.group.newest.timestamp(), str(r.signal_id)))
    return ranked


def fit_to_budget(card_tokens: list[int], overhead: int, budget: int) -> int:
    """How many leading cards fit in ``budget`` tokens with ``overhead`` (at least one: a
    briefing of one story beats none; the prompt then trims that card)."""
    total = overhead
    for count, tokens in enumerate(card_tokens):
        total += tokens
        if total > budget:
            return max(1, count)
    return len(card_tokens)


def section_bounds(stories: int) -> tuple[int, int]:
    """How many themed sections a briefing of ``stories`` stories plans: three to five when
    there is enough to weave (two stories a section on average), fewer on a thin day."""
    most = max(1, min(5, stories // 2))
    return min(3, most), most
