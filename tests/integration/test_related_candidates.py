"""Related coverage's candidates sharing names and topics over all time: every signal of the
rarest names or topics is read, of common ones only the newest. Reading every signal naming
a common name took 2 s a relate step at a million signals (bench/relate.py)."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable, Hashable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID

import asyncpg
import pytest

from service.db.database import init_connection
from service.similarity.features import split_by_reach
from service.stories import candidates
from tests.support.seeding import SeedSignal, seed_signal

K = TypeVar("K", bound=Hashable)

# name -> how many signals (besides the subject) name it; "mid" is typed two ways
NAMES = {"Rare One": 2, "Rare Two": 3, "Mid Works": 10, "Common Alpha": 30, "Common Beta": 40}
TOPICS = {"Niche Rail": 3, "Markets": 25, "World": 50}
OTHERS = 60  # signals besides the subject
START = datetime(2026, 3, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Seeded:
    id: UUID
    created_at: datetime
    names: frozenset[str]
    topics: frozenset[str]


@pytest.fixture(scope="module")
async def corpus(database_url: str) -> AsyncIterator[tuple[Seeded, list[Seeded]]]:
    """The subject (every name and topic) and OTHERS signals, each name and topic on a random
    set of them of its size, an hour apart."""
    db = await asyncpg.connect(database_url)
    await init_connection(db)
    try:
        yield await _seed(db)
    finally:
        await db.close()


async def _seed(db: Any) -> tuple[Seeded, list[Seeded]]:
    rng = random.Random(5)
    names: list[set[str]] = [set() for _ in range(OTHERS)]
    topics: list[set[str]] = [set() for _ in range(OTHERS)]
    for name, n in NAMES.items():
        for i in rng.sample(range(OTHERS), n):
            names[i].add(name)
    for label, n in TOPICS.items():
        for i in rng.sample(range(OTHERS), n):
            topics[i].add(label)
    others = []
    order = list(range(OTHERS))
    rng.shuffle(order)  # creation order unrelated to what a signal names
    for i in range(OTHERS):
        at = START + timedelta(hours=order[i])
        entities = [(n, "place" if n == "Mid Works" and i % 2 else "organization") for n in sorted(names[i])]
        signal_id = await seed_signal(
            db,
            SeedSignal(
                title=f"Candidate report {i}",
                topics=sorted(topics[i]) or ["Elsewhere"],
                entities=entities,
                created_at=at,
            ),
        )
        others.append(Seeded(signal_id, at, frozenset(names[i]), frozenset(topics[i])))
    at = START + timedelta(hours=OTHERS)
    subject_id = await seed_signal(
        db,
        SeedSignal(
            title="The subject",
            topics=sorted(TOPICS),
            entities=[(n, "organization") for n in sorted(NAMES)],
            created_at=at,
        ),
    )
    return Seeded(subject_id, at, frozenset(NAMES), frozenset(TOPICS)), others


def expected(
    others: list[Seeded], of: Callable[[Seeded], frozenset[K]], whole: set[K], walked: set[K], newest: int
) -> list[UUID]:
    """What the query must return, worked out from what was seeded: every signal sharing a key
    read whole, the ``newest`` newest sharing a walked one; scored by 1 / signals per key
    (the subject included) over every key they share, then newest first."""
    counts = {key: 1 + sum(key in of(s) for s in others) for key in whole | walked}
    found = {s for s in others if of(s) & whole}
    sharing_walked = sorted((s for s in others if of(s) & walked), key=lambda s: s.created_at, reverse=True)
    found |= set(sharing_walked[:newest])

    def score(s: Seeded) -> Decimal:
        # as PostgreSQL turns float8 into numeric (15 significant digits), summed exactly
        return sum((Decimal(f"{1 / counts[key]:.15g}") for key in of(s) & counts.keys()), Decimal(0))

    return [s.id for s in sorted(found, key=lambda s: (-score(s), -s.created_at.timestamp()))]


async def keys_of(db: Any, names: set[str]) -> dict[str, str]:
    rows = await db.fetch(
        "SELECT DISTINCT name, key FROM entities WHERE name = ANY($1::text[])", sorted(names)
    )
    return {r["name"]: r["key"] for r in rows}


async def topic_ids_of(db: Any, labels: set[str]) -> dict[str, int]:
    rows = await db.fetch("SELECT label, id FROM topics WHERE label = ANY($1::text[])", sorted(labels))
    return {r["label"]: r["id"] for r in rows}


def test_keys_are_read_whole_rarest_first_within_the_budget() -> None:
    counts = {"a": 2, "b": 3, "c": 10, "d": 30, "e": 40}
    assert split_by_reach(counts, 15) == ({"a", "b", "c"}, {"d", "e"})
    assert split_by_reach(counts, 14) == ({"a", "b"}, {"c", "d", "e"})
    assert split_by_reach(counts, 4) == ({"a"}, {"b", "c", "d", "e"})
    assert split_by_reach(counts, 1) == (set(), set(counts))  # not even the rarest fits
    # together within twice the budget: every key is read whole
    assert split_by_reach(counts, 42.5) == (set(counts), set())
    assert split_by_reach(counts, 42) == ({"a", "b", "c"}, {"d", "e"})
    # equal counts split in a stable order
    assert split_by_reach({"x": 5, "y": 5, "z": 100}, 5) == ({"x"}, {"y", "z"})


async def test_names_every_signal_below_the_budget(corpus, db):
    """A small corpus is within the budget: every signal sharing a name, best first."""
    subject, others = corpus
    keys = await keys_of(db, set(NAMES))
    asked = sorted(keys.values())
    found = await candidates.signals_sharing_entities(db, subject.id, asked, within=None, k=1000)
    want = expected(others, lambda s: frozenset(keys[n] for n in s.names), set(asked), set(), 0)
    assert len(want) == sum(1 for s in others if s.names)
    assert found == want
    top = await candidates.signals_sharing_entities(db, subject.id, asked, within=None, k=5)
    assert top == want[:5]


async def test_names_common_ones_give_only_their_newest(corpus, db):
    subject, others = corpus
    keys = await keys_of(db, set(NAMES))
    of: Callable[[Seeded], frozenset[str]] = lambda s: frozenset(keys[n] for n in s.names)  # noqa: E731
    whole = {keys["Rare One"], keys["Rare Two"]}
    walked = set(keys.values()) - whole
    assert split_by_reach({k: 1 + sum(k in of(s) for s in others) for k in keys.values()}, 16) == (
        whole,
        walked,
    )
    found = await candidates.signals_sharing_entities(
        db, subject.id, sorted(keys.values()), within=None, k=1000, budget=16, newest=5
    )
    want = expected(others, of, whole, walked, 5)
    assert found == want
    # the walk left some out, and what it found carries the weights of the rare names it shares
    assert len(want) < sum(1 for s in others if s.names)
    by_id = {s.id: s for s in others}
    assert any(
        by_id[i].names & {"Rare One", "Rare Two"} and by_id[i].names - {"Rare One", "Rare Two"} for i in want
    )


async def test_topics_every_signal_below_the_budget(corpus, db):
    subject, others = corpus
    ids = await topic_ids_of(db, set(TOPICS))
    found = await candidates.signals_sharing_topics(db, subject.id, sorted(ids.values()), 1000)
    want = expected(others, lambda s: frozenset(ids[t] for t in s.topics), set(ids.values()), set(), 0)
    assert len(want) == sum(1 for s in others if s.topics)
    assert found == want


async def test_topics_big_ones_give_only_their_newest(corpus, db):
    subject, others = corpus
    ids = await topic_ids_of(db, set(TOPICS))
    of: Callable[[Seeded], frozenset[int]] = lambda s: frozenset(ids[t] for t in s.topics)  # noqa: E731
    whole, walked = {ids["Niche Rail"]}, {ids["Markets"], ids["World"]}
    assert split_by_reach({t: 1 + sum(t in of(s) for s in others) for t in ids.values()}, 10) == (
        whole,
        walked,
    )
    found = await candidates.signals_sharing_topics(
        db, subject.id, sorted(ids.values()), 1000, budget=10, newest=7
    )
    want = expected(others, of, whole, walked, 7)
    assert found == want
    assert len(want) < sum(1 for s in others if s.topics)
