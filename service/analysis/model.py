"""What the model answers in (pydantic models; the wire contract is msgspec).

Lenient where leniency costs nothing: an over-long text is cut at a sentence, a sentence a
looping model repeats is kept once, an entity type outside the list is mapped or the entity
dropped, extra topics or key details are left out, a missing sentiment is null. Exact where
it matters: every card field is present and long enough to be a card. Key details cite
sentence numbers; which numbers are usable is decided against the article afterwards
(service.analysis.citations), never here, so a bad citation costs one key detail, not the card.

Length limits live in the models (our validation); the schema instructor sends carries them
as written instructions (``WireModel``, service.analysis.schema), because grammar-constrained
decoders cut text mid-word at a ``maxLength`` and OpenAI's strict mode refuses the keyword.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from service.analysis.schema import WireModel

EntityType = Literal["person", "organization", "product", "place"]

_TYPE_ALIASES = {
    "organisation": "organization",
    "org": "organization",
    "company": "organization",
    "business": "organization",
    "corporation": "organization",
    "institution": "organization",
    "agency": "organization",
    "government": "organization",
    "ministry": "organization",
    "party": "organization",
    "team": "organization",
    "university": "organization",
    "publication": "organization",
    "newspaper": "organization",
    "journal": "organization",
    "media": "organization",
    "group": "organization",
    "people": "person",
    "individual": "person",
    "human": "person",
    "location": "place",
    "country": "place",
    "city": "place",
    "region": "place",
    "state": "place",
    "town": "place",
    "site": "place",
    "facility": "place",
    "brand": "product",
    "technology": "product",
    "software": "product",
    "service": "product",
    "device": "product",
    "model": "product",
    "vehicle": "product",
}
_CHUNK = re.compile(
    r"(\S.*?(?:[.!?\u2026][\"'\u201d\u2019)\]]*(?=\s|$)|[\u3002\uff01\uff1f][\u300d\u300f\uff09]*|$))(\s*)",
    re.S,
)
"""One sentence of a model's prose and the space after it (joined again unchanged)."""
_NUMBER = re.compile(r"\d+")

MIN_KEY_DETAILS = 3
MAX_KEY_DETAILS = 6
MAX_CITED_SENTENCES = 3
MIN_DETAIL_TEXT = 8


def tidy_text(value: Any, limit: int) -> Any:
    """``value`` stripped, each repeated sentence kept once, cut at a sentence (else a word)
    to at most ``limit`` characters. Anything not a string is left for validation to refuse."""
    if not isinstance(value, str):
        return value
    kept: list[str] = []
    seen: set[str] = set()
    for sentence, space in _CHUNK.findall(value.strip()):
        key = " ".join(sentence.split()).casefold()
        if key in seen and len(key.encode()) > 20:
            continue  # a looping model repeats itself; once is enough
        seen.add(key)
        kept.append(sentence + space)
    text = "".join(kept).strip()
    if len(text) <= limit:
        return text
    ends = [len(t) for t in itertools.accumulate(kept) if limit // 2 <= len(t.rstrip()) <= limit]
    if ends:
        return text[: ends[-1]].rstrip()
    cut = text[:limit]
    return cut.rsplit(" ", 1)[0].rstrip(" ,;:") + "\u2026" if " " in cut else cut


def _tidy(limit: int) -> BeforeValidator:
    return BeforeValidator(lambda value: tidy_text(value, limit))


WIDE_WEIGHT = 3
"""A Chinese, Japanese or Korean character carries about what three Latin letters do (an
English sentence runs about three times the characters of its Chinese or Japanese
translation), so minimums count each wide character three times."""


def reading_length(text: str) -> int:
    """``text``'s length for a minimum: wide (East Asian W/F) characters count WIDE_WEIGHT."""
    if text.isascii():  # most cards: no character to look up
        return len(text)
    wide = sum(1 for ch in text if unicodedata.east_asian_width(ch) in ("W", "F"))
    return len(text) + (WIDE_WEIGHT - 1) * wide


def _at_least(minimum: int) -> AfterValidator:
    """A minimum that means the same in every script (``reading_length``); pydantic's
    ``min_length`` counts characters, which refused a two-sentence Japanese analysis."""

    def check(value: str) -> str:
        if reading_length(value) < minimum:
            raise ValueError(f"should have at least {minimum} characters, has {len(value)}")
        return value

    return AfterValidator(check)


def _min(minimum: int) -> dict[str, Any]:
    """The minimum as the schema instructor sends carries it (a written instruction)."""
    return {"minLength": minimum}


def _sentence_numbers(value: Any) -> Any:
    """[12, 13] as given, or read from what small models write instead: 12, "12", "S12",
    "[S12], [S13]", ["S12"]. A string without numbers is not a citation (handled as a quote)."""
    if isinstance(value, bool):
        return []
    if isinstance(value, int):
        return [value]
    if isinstance(value, str):
        return [int(n) for n in _NUMBER.findall(value)]
    if isinstance(value, list):
        numbers: list[int] = []
        for item in value:
            if isinstance(item, int) and not isinstance(item, bool):
                numbers.append(item)
            elif isinstance(item, str):
                numbers.extend(int(n) for n in _NUMBER.findall(item))
        return numbers
    return value


class KeyDetail(WireModel):
    """One fact the article states, and the numbers of the sentences that state it."""

    text: Annotated[str, _tidy(300), _at_least(MIN_DETAIL_TEXT)] = Field(
        json_schema_extra=_min(MIN_DETAIL_TEXT),
        description="The fact, in your own words, as one short sentence. At most 300 characters.",
    )
    sentences: Annotated[list[int], BeforeValidator(_sentence_numbers)] = Field(
        default_factory=list,
        description=(
            "The numbers of the 1-3 article sentences ([S12] is 12) that state this fact, "
            "adjacent or close together. Never a sentence another key detail cites."
        ),
        # What a constrained decoder enforces; our own check takes any count (citations.py).
        json_schema_extra={"minItems": 1, "maxItems": MAX_CITED_SENTENCES},
    )
    quote: SkipJsonSchema[str | None] = None
    """Not asked for: a quote a model wrote instead of numbers ("evidence": "…"); the service
    looks it up among the sentences (service.analysis.citations)."""

    @model_validator(mode="before")
    @classmethod
    def _quote_instead_of_numbers(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for key in ("evidence", "quote", "source"):
            if isinstance(data.get(key), str) and data[key].strip():
                data["quote"] = data[key]
                break
        cited = data.get("sentences")
        if isinstance(cited, str) and not _NUMBER.search(cited):
            data.setdefault("quote", cited)
            data["sentences"] = []
        return data


class EntityDraft(WireModel):
    """A person, organisation, product or place the article is about."""

    name: Annotated[str, _tidy(200)] = Field(min_length=1, description="Full name as the article gives it.")
    type: EntityType = Field(description="person, organization, product or place.")


def _entities(value: Any) -> Any:
    """Entities with a known type (mapped from near misses: "company" is an organization);
    the others are dropped rather than failing the card."""
    if not isinstance(value, list):
        return value
    kept: list[dict[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            continue
        name = " ".join(item["name"].split())
        kind = str(item.get("type") or "").strip().casefold()
        kind = _TYPE_ALIASES.get(kind, kind)
        if not name or kind not in ("person", "organization", "product", "place"):
            continue
        if (name.casefold(), kind) not in seen:
            seen.add((name.casefold(), kind))
            kept.append({"name": name, "type": kind})
    return kept[:30]


def _readable_details(value: Any) -> Any:
    """The first key details whose text is long enough to read (MAX_KEY_DETAILS + 2 of them):
    one of three words costs that detail, not the card (replacements are asked for when fewer
    than three are left). When none is, all are kept, for validation to name what is wrong."""
    if not isinstance(value, list):
        return value
    readable = [
        item for item in value
        if not isinstance(item, dict) or not isinstance(item.get("text"), str)
        or reading_length(" ".join(item["text"].split())) >= MIN_DETAIL_TEXT
    ]  # fmt: skip
    return (readable or value)[: MAX_KEY_DETAILS + 2]


def _first(count: int) -> BeforeValidator:
    return BeforeValidator(lambda value: value[:count] if isinstance(value, list) else value)


class SignalDraft(WireModel):
    """A signal: a structured, grounded reading of one article."""

    title: Annotated[str, _tidy(160), _at_least(5)] = Field(
        json_schema_extra=_min(5),
        description="Your own headline for the signal, at most 15 words. At most 160 characters.",
    )
    summary: Annotated[str, _tidy(400), _at_least(10)] = Field(
        json_schema_extra=_min(10),
        description="One sentence: the central claim of the article. At most 400 characters.",
    )
    eli5: Annotated[str, _tidy(800), _at_least(20)] = Field(
        json_schema_extra=_min(20),
        description=(
            "Explain like I'm five: 2-4 short sentences built on an everyday analogy a child "
            "gets. At most 800 characters."
        ),
    )
    analysis: Annotated[str, _tidy(2500), _at_least(80)] = Field(
        json_schema_extra=_min(80),
        description=(
            "Deep analysis in 2-3 short paragraphs separated by blank lines: who says what, "
            "why it matters, what it changes. Only what the article supports. At most 2500 characters."
        ),
    )
    impact: Annotated[str, _tidy(1200), _at_least(30)] = Field(
        json_schema_extra=_min(30),
        description="Impact: one paragraph on the consequences for the field. At most 1200 characters.",
    )
    key_details: Annotated[list[KeyDetail], BeforeValidator(_readable_details)] = Field(
        min_length=1,
        max_length=MAX_KEY_DETAILS + 2,
        description=f"{MIN_KEY_DETAILS}-{MAX_KEY_DETAILS} key facts, each citing the sentences stating it.",
        json_schema_extra={"minItems": MIN_KEY_DETAILS, "maxItems": MAX_KEY_DETAILS},
    )
    optimistic_outlook: Annotated[str, _tidy(800), _at_least(20)] = Field(
        json_schema_extra=_min(20),
        description="The best realistic case, one short paragraph. At most 800 characters.",
    )
    pessimistic_outlook: Annotated[str, _tidy(800), _at_least(20)] = Field(
        json_schema_extra=_min(20),
        description="The worst realistic case, one short paragraph. At most 800 characters.",
    )
    topics: Annotated[list[str], _first(5)] = Field(
        min_length=1,
        max_length=5,
        description="1-5 broad topic labels of 1-3 words, e.g. 'AI infrastructure', 'Energy policy'.",
    )
    sentiment: float | None = Field(
        default=None,
        description=(
            "Tone of the reported development for those it affects, from -1 (very negative) "
            "through 0 (neutral or mixed) to 1 (very positive)."
        ),
    )
    entities: Annotated[list[EntityDraft], BeforeValidator(_entities)] = Field(
        default_factory=list,
        max_length=30,
        description="Every person, organization, product and place the article names (up to 30).",
    )

    @field_validator("topics")
    @classmethod
    def _topics_have_words(cls, topics: list[str]) -> list[str]:
        cleaned = [" ".join(t.split())[:60] for t in topics if t.strip()]
        if not cleaned:
            raise ValueError("give at least one topic label")
        return cleaned

    @field_validator("sentiment")
    @classmethod
    def _sentiment_in_range(cls, value: float | None) -> float | None:
        return None if value is None else max(-1.0, min(1.0, value))


class KeyDetailsFix(WireModel):
    """Replacement key details, asked for when some the model gave could not be used."""

    key_details: Annotated[list[KeyDetail], _first(MAX_KEY_DETAILS)] = Field(
        min_length=1,
        max_length=MAX_KEY_DETAILS,
        description="Only the replacement key details, each citing sentences no other key detail cites.",
    )
