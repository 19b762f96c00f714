"""When two signals report the same event: the story rule. Pure functions.

A signal joins the story of an earlier signal when all of these hold:

1. **time**: they were stored within SIGNALS_STORY_WINDOW_HOURS of each other (and, when both
   articles carry a publication date, those dates are that close too);
2. **names**: they share at least SIGNALS_STORY_MIN_SHARED_ENTITIES entities (compared by
   folded name, whatever type the model gave), and the shared names are at least half of
   all the names either signal gives, rarer names weighing more — so a company's *other*
   news, which names the company but not the rest of the cast, stays out;
3. **content**: with embeddings, the cards' cosine similarity is at least
   SIGNALS_STORY_SIMILARITY; without (no embeddings endpoint, or either signal lacks a
   vector), the cards' trigram similarity is at least ``LEXICAL_STORY_SIMILARITY``.

A **copy** (the same text, or a near-identical card: a wire story republished by other
outlets, see ``service.similarity.scoring.is_copy``) within the window reports the same event
whatever names the model gave each copy, unless both name someone and share no name at all
(two templated reports about different companies). Copies are kept out of each other's
related coverage, so without this a syndicated story the model read without names, or
spelled differently each time, would be one lone story per outlet: the feed duplication
stories exist to prevent.

SIGNALS_STORY_MIN_SHARED_ENTITIES=0 switches rule 2 off (content and time alone decide).
Among the signals that qualify, the most similar one's story wins; none: a new story.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

from service.settings import Settings
from service.similarity.features import Candidate, Rarity, Subject, entity_weights, weighted_jaccard
from service.similarity.scoring import is_copy

MIN_ENTITY_OVERLAP = 0.5
"""Weighted share of all named entities that two reports of one event have in common, at least."""

LEXICAL_STORY_SIMILARITY = 0.25
"""Trigram similarity of two cards (headline, claim, key facts) that stands in for the
embedding threshold when there are no embeddings. Measured on the labelled set of
tests/integration/test_stories.py (stub LLM): reports of one event score 0.33-0.55; other
events naming the same company 0.26-0.35 and unrelated reports up to 0.37, which the names
rule keeps apart."""


@dataclass(frozen=True, slots=True)
class StoryRule:
    """The clustering parameters (settings) the rule applies."""

    similarity: float
    min_shared_entities: int
    window: timedelta
    lexical_similarity: float = LEXICAL_STORY_SIMILARITY
    min_entity_overlap: float = MIN_ENTITY_OVERLAP

    @classmethod
    def from_settings(cls, settings: Settings) -> StoryRule:
        return cls(
            similarity=settings.story_similarity,
            min_shared_entities=settings.story_min_shared_entities,
            window=timedelta(hours=settings.story_window_hours),
        )


@dataclass(frozen=True, slots=True)
class Match:
    """A candidate that reports the subject's event, and how closely."""

    candidate: Candidate
    similarity: float
    by_meaning: bool


def same_event(
    subject: Subject, candidate: Candidate, rarity: Rarity, rule: StoryRule, *, use_meaning: bool
) -> Match | None:
    """The match if ``candidate`` reports the subject's event by the rule above, else None."""
    if candidate.id == subject.id or candidate.article_id == subject.article_id:
        return None
    if abs(subject.created_at - candidate.created_at) > rule.window:
        return None
    if subject.published_date is not None and candidate.published_date is not None:
        days = abs((subject.published_date - candidate.published_date).days)
        if days > math.ceil(rule.window / timedelta(days=1)):
            return None
    if is_copy(subject, candidate) and not _name_different_casts(subject, candidate):
        if candidate.content_hash == subject.content_hash:
            return Match(candidate, 1.0, by_meaning=use_meaning and candidate.cosine is not None)
        if use_meaning and candidate.cosine is not None:
            return Match(candidate, candidate.cosine, by_meaning=True)
        return Match(candidate, candidate.text_similarity, by_meaning=False)
    if rule.min_shared_entities > 0:
        shared = subject.entity_keys & candidate.entity_keys
        if len(shared) < rule.min_shared_entities:
            return None
        weights = entity_weights(rarity, subject.entity_keys, candidate.entity_keys)
        if weighted_jaccard(subject.entity_keys, candidate.entity_keys, weights) < rule.min_entity_overlap:
            return None
    if use_meaning and candidate.cosine is not None:
        if candidate.cosine >= rule.similarity:
            return Match(candidate, candidate.cosine, by_meaning=True)
        return None
    if candidate.text_similarity >= rule.lexical_similarity:
        return Match(candidate, candidate.text_similarity, by_meaning=False)
    return None


def choose_story(
    subject: Subject, candidates: list[Candidate], rarity: Rarity, rule: StoryRule, *, use_meaning: bool
) -> UUID | None:
    """The story the subject joins: that of the closest candidate that reports the same event
    and is already in a story (matches by meaning before matches by wording); None: start one."""
    matches = [
        match
        for candidate in candidates
        if candidate.story_id is not None
        and (match := same_event(subject, candidate, rarity, rule, use_meaning=use_meaning)) is not None
    ]
    if not matches:
        return None
    best = max(
        matches, key=lambda m: (m.by_meaning, m.similarity, m.candidate.created_at, str(m.candidate.id))
    )
    return best.candidate.story_id


def _name_different_casts(subject: Subject, candidate: Candidate) -> bool:
    """Both name someone, and no one in common: not copies of one report, whatever the text."""
    return (
        bool(subject.entity_keys)
        and bool(candidate.entity_keys)
        and not (subject.entity_keys & candidate.entity_keys)
    )
