"""A deterministic synthetic news corpus with realistic skew, for the query benchmarks.

Signal ``i`` of a corpus of ``total`` is a pure function of ``(i, total)``: a crashed seed run
resumes by generating only the indexes it has not stored yet, and the benchmark can tell
which topics are mid-frequency or which words are rare without asking the database.

Signals come in events (a story reported by a few outlets within a short time): signals of
one event share their primary topic, two entities and an embedding direction, so related
lookups and story-like neighbours exist. Topics, entities, sites and words are Zipf
distributed, as they are in real news.
"""

from __future__ import annotations

import itertools
import math
import random
import re
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property, lru_cache

from faker import Faker
from faker.providers.company.en_US import Provider as CompanyWords
from faker.providers.job.en_US import Provider as JobWords
from faker.providers.lorem.en_US import Provider as LoremWords
from justext import get_stoplist

from service.topics.taxonomy import entity_key, is_synonym, topic_slug
from tests.support.seeding import SeedSignal

SEED = 20261122
DIMS = 384
CENTROIDS = 3000
CENTROIDS_PER_TOPIC = 10
EVENT_SPREAD = 0.03  # per-component noise of an event's direction around its centroid
SIGNAL_SPREAD = 0.02  # per-component noise of one article around its event
END = datetime(2026, 11, 20, tzinfo=UTC)
SPAN = timedelta(days=730)
BUCKET = 64  # signals per time slice; events are drawn inside one slice
EVENTS_PER_BUCKET = 20  # so an event has about 3 signals
LANGUAGES = [("en", 90), ("de", 3), ("fr", 3), ("es", 2), ("it", 1), ("nl", 1)]
ENTITY_TYPES = [("organization", 45), ("person", 35), ("product", 10), ("place", 10)]
_WORD = re.compile(r"[a-z]+")


class Zipf:
    """Ranks 0..n-1 with P(rank r) proportional to 1 / (r + 1) ** s."""

    def __init__(self, n: int, s: float = 1.0) -> None:
        self.n = n
        self.cum = list(itertools.accumulate(1 / (r + 1) ** s for r in range(n)))

    def draw(self, rng: random.Random, k: int = 1) -> list[int]:
        return rng.choices(range(self.n), cum_weights=self.cum, k=k)

    def distinct(self, rng: random.Random, k: int) -> list[int]:
        seen: dict[int, None] = {}
        while len(seen) < k:
            seen.setdefault(self.draw(rng)[0], None)
        return list(seen)

    def share(self, rank: int) -> float:
        """The probability of ``rank`` in one draw."""
        return (self.cum[rank] - (self.cum[rank - 1] if rank else 0.0)) / self.cum[-1]


def _vocabulary() -> list[str]:
    """A few thousand real English words, most frequent first: function words, then the rest."""
    stop = sorted(w for w in get_stoplist("English") if _WORD.fullmatch(w))
    content: list[str] = list(LoremWords.word_list)
    for phrase in itertools.chain(JobWords.jobs, *CompanyWords.catch_phrase_words, *CompanyWords.bsWords):
        content.extend(_WORD.findall(phrase.lower()))
    rng = random.Random(SEED)
    ordered_stop = rng.sample(stop, len(stop))
    rest = [w for w in dict.fromkeys(content) if w not in set(stop) and len(w) > 2]
    rng.shuffle(rest)
    return ordered_stop + rest


@dataclass(frozen=True, slots=True)
class Event:
    """What the signals of one event share."""

    key: int
    topic: int
    centroid: int
    entities: tuple[int, ...]
    title_words: tuple[str, ...]


class Corpus:
    """The corpus of ``total`` signals; ``signal(i)`` and ``embedding(i)`` are deterministic."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.words = _vocabulary()
        self.word_zipf = Zipf(len(self.words), 1.07)
        self.topic_zipf = Zipf(len(self.topics), 1.0)
        self.entity_zipf = Zipf(len(self.entities), 1.0)
        self.site_zipf = Zipf(len(self.sites), 1.0)

    # --- the fixed populations -----------------------------------------------------------------

    @cached_property
    def topics(self) -> list[str]:
        """~300 two-word topic labels that the taxonomy will not merge into one another."""
        rng = random.Random(SEED + 1)
        nouns = [w for w in LoremWords.word_list if len(w) > 4]
        labels: list[str] = []
        slugs: list[str] = []
        while len(labels) < 300:
            label = f"{rng.choice(nouns).title()} {rng.choice(nouns)}"
            slug = topic_slug(label)
            if not any(is_synonym(slug, other) or is_synonym(other, slug) for other in slugs):
                labels.append(label)
                slugs.append(slug)
        return labels

    @cached_property
    def entities(self) -> list[tuple[str, str]]:
        """~20 000 (name, type) pairs, distinct by the taxonomy's key."""
        fake = Faker("en_US")
        fake.seed_instance(SEED + 2)
        rng = random.Random(SEED + 2)
        kinds, weights = zip(*ENTITY_TYPES, strict=True)
        seen: set[tuple[str, str]] = set()
        found: list[tuple[str, str]] = []
        while len(found) < 20_000:
            kind = rng.choices(kinds, weights)[0]
            if kind == "person":
                name = f"{fake.first_name()} {fake.last_name()}"
            elif kind == "organization":
                name = fake.company()
            elif kind == "product":
                name = f"{fake.word().title()} {rng.choice('XSZQ')}{rng.randint(1, 99)}"
            else:
                name = fake.city()
            if (kind, entity_key(name)) not in seen:
                seen.add((kind, entity_key(name)))
                found.append((name, kind))
        return found

    @cached_property
    def sites(self) -> list[str]:
        fake = Faker("en_US")
        fake.seed_instance(SEED + 3)
        kinds = ["Courier", "Ledger", "Times", "Post", "Review", "Dispatch", "Herald", "Wire"]
        names = {f"The {fake.city()} {kind}" for kind in kinds for _ in range(12)}
        return sorted(names)[:80]

    # --- one signal ------------------------------------------------------------------------------

    def url(self, i: int, site: str) -> str:
        return f"https://{topic_slug(site)}.example/a/{i}"

    @staticmethod
    def index_of(url: str) -> int:
        return int(url.rsplit("/", 1)[1])

    def created_at(self, i: int) -> datetime:
        """Signals arrive in index order over two years (as a pipeline stores them)."""
        return END - SPAN + SPAN * (i / self.total) + timedelta(seconds=random.Random(i).random() * 60)

    def event_of(self, i: int) -> Event:
        rng = random.Random(SEED * 7 + i)
        bucket = i // BUCKET
        return self._event(bucket * EVENTS_PER_BUCKET + rng.randrange(EVENTS_PER_BUCKET))

    @lru_cache(maxsize=8192)  # noqa: B019 - one corpus per process
    def _event(self, key: int) -> Event:
        rng = random.Random(SEED * 13 + key)
        topic = self.topic_zipf.draw(rng)[0]
        return Event(
            key=key,
            topic=topic,
            centroid=(topic * CENTROIDS_PER_TOPIC + rng.randrange(CENTROIDS_PER_TOPIC)) % CENTROIDS,
            entities=tuple(self.entity_zipf.distinct(rng, 2)),
            title_words=tuple(self._words(rng, 4)),
        )

    def _words(self, rng: random.Random, k: int) -> list[str]:
        return [self.words[r] for r in self.word_zipf.draw(rng, k)]

    def _sentences(self, rng: random.Random, count: int, extra: list[str] | None = None) -> str:
        words = self._words(rng, count)
        for name in extra or []:  # articles name their entities
            words.insert(rng.randrange(len(words) + 1), name)
        sentences, at = [], 0
        while at < len(words):
            size = rng.randint(8, 18)
            if len(words) - at - size < 4:  # no one-word sentence at the end
                size = len(words) - at
            chunk = words[at : at + size]
            sentences.append(chunk[0].capitalize() + " " + " ".join(chunk[1:]) + ".")
            at += size
        return " ".join(sentences)

    def signal(self, i: int) -> SeedSignal:
        rng = random.Random(SEED * 3 + i)
        event = self.event_of(i)
        topics = [event.topic] + [
            t for t in self.topic_zipf.distinct(rng, rng.randint(0, 3)) if t != event.topic
        ]
        entity_ids = list(event.entities) + self.entity_zipf.distinct(rng, rng.randint(1, 5))
        entities = list(dict.fromkeys(self.entities[e] for e in entity_ids))
        site = self.sites[self.site_zipf.draw(rng)[0]]
        names = [name for name, _ in entities[:3]]
        created = self.created_at(i)
        title_words = list(event.title_words) + self._words(rng, rng.randint(2, 6))
        rng.shuffle(title_words)
        return SeedSignal(
            title=" ".join(title_words).capitalize(),
            summary=self._sentences(rng, rng.randint(20, 35), names[:1]),
            topics=[self.topics[t] for t in topics],
            entities=entities,
            site_name=site,
            language=rng.choices([c for c, _ in LANGUAGES], [w for _, w in LANGUAGES])[0],
            published=None if rng.random() < 0.05 else (created - timedelta(hours=rng.random() * 72)).date(),
            created_at=created,
            sentiment=round(max(-1.0, min(1.0, rng.gauss(0, 0.4))), 3),
            text=self._sentences(rng, rng.randint(120, 250), names),
            analysis=self._sentences(rng, rng.randint(60, 120)),
            key_details=[self._sentences(rng, rng.randint(8, 15)) for _ in range(rng.randint(3, 5))],
            url=self.url(i, site),
        )

    # --- embeddings ------------------------------------------------------------------------------

    @lru_cache(maxsize=CENTROIDS)  # noqa: B019
    def _centroid(self, k: int) -> tuple[float, ...]:
        return _unit(_noise(random.Random(SEED * 17 + k), 1.0))

    @lru_cache(maxsize=8192)  # noqa: B019
    def _event_point(self, key: int) -> tuple[float, ...]:
        event = self._event(key)
        noise = _noise(random.Random(SEED * 19 + key), EVENT_SPREAD)
        return tuple(c + n for c, n in zip(self._centroid(event.centroid), noise, strict=True))

    def embedding(self, i: int) -> list[float]:
        """Centroid + event offset + article noise, L2-normalised."""
        base = self._event_point(self.event_of(i).key)
        noise = _noise(random.Random(SEED * 23 + i), SIGNAL_SPREAD)
        return _unit([b + n for b, n in zip(base, noise, strict=True)])

    def query_vector(self, rng: random.Random) -> list[float]:
        """A new article's embedding from the same distribution (an event not stored)."""
        key = 10**12 + rng.randrange(10**9)
        base = self._event_point(key)
        return _unit([b + n for b, n in zip(base, _noise(rng, SIGNAL_SPREAD), strict=True)])

    # --- what the benchmark asks for -------------------------------------------------------------

    def word_doc_share(self, rank: int, words_per_doc: int = 330) -> float:
        return 1 - (1 - self.word_zipf.share(rank)) ** words_per_doc


_UNIFORM_SCALE = math.sqrt(12)


def _noise(rng: random.Random, sigma: float) -> list[float]:
    # Uniform noise with the given standard deviation: as good as Gaussian here, and faster.
    scale = sigma * _UNIFORM_SCALE
    rand = rng.random
    return [(rand() - 0.5) * scale for _ in range(DIMS)]


def _unit(vector: list[float] | tuple[float, ...]) -> tuple[float, ...]:
    norm = math.sqrt(sum(x * x for x in vector))
    return tuple(x / norm for x in vector)


def encode_vector(vector: list[float] | tuple[float, ...]) -> bytes:
    """pgvector's binary format: dims, unused, float4 values (network order)."""
    return struct.pack(f">HH{len(vector)}f", len(vector), 0, *vector)


def decode_vector(data: bytes) -> list[float]:
    dims, _ = struct.unpack_from(">HH", data)
    return list(struct.unpack_from(f">{dims}f", data, 4))


def vector_text(vector: list[float] | tuple[float, ...]) -> str:
    return "[" + ",".join(f"{x:.6f}" for x in vector) + "]"
