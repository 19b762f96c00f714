"""The LLM stub's pure generators: schema-driven objects, fitting, the SignalDraft reading."""

from __future__ import annotations

import base64
import math
import struct
from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec
import pytest
from pydantic import BaseModel, Field

from service.analysis.citations import resolve
from service.analysis.grounding import is_grounded, normalize_text
from service.analysis.model import SignalDraft
from service.analysis.prompt import ArticleForPrompt, build_messages
from service.analysis.schema import cite_sentences, wire_schema
from service.analysis.sentences import split_sentences
from service.llmstub.article_reading import find_entities, pick_topics
from service.llmstub.faults import replace_evidence, violate_schema
from service.llmstub.generate import (
    ChatRequest,
    answer_value,
    embed_text,
    encode_embedding,
    find_schema_in_text,
    read_ask,
)
from service.llmstub.schema_fill import fit_to_schema, minimal_instance
from service.llmstub.signal_draft import draft_from_article

# --- schema-driven objects --------------------------------------------------------------------


class Source(BaseModel):
    url: str = Field(json_schema_extra={"format": "uri"})
    weight: float = Field(ge=0.25, le=0.75)


class Story(BaseModel):
    headline: str = Field(min_length=40, max_length=50)
    kind: Literal["brief", "feature"]
    sources: list[Source] = Field(min_length=2, max_length=3)
    rank: int = Field(gt=10, le=20, multiple_of=5)
    parent: Story | None = None
    tags: list[str] = Field(default_factory=list)


class Digest(BaseModel):
    title: str
    stories: list[Story] = Field(min_length=1)
    published: datetime
    id: UUID
    urgent: bool


def test_minimal_instance_validates_against_a_nested_pydantic_model():
    value = minimal_instance(Digest.model_json_schema())
    digest = Digest.model_validate(value)
    story = digest.stories[0]
    assert len(story.sources) == 2
    assert 40 <= len(story.headline) <= 50
    assert story.rank == 15
    assert digest.title.startswith("[stub]")
    assert "parent" not in value["stories"][0]  # optional and recursive: left out


class Point(msgspec.Struct):
    x: Annotated[int, msgspec.Meta(ge=3, le=3)]
    label: Annotated[str, msgspec.Meta(min_length=2, max_length=4)]


class Shape(msgspec.Struct):
    points: Annotated[list[Point], msgspec.Meta(min_length=3)]
    colour: Literal["red", "blue"]
    area: float | None = None


def test_minimal_instance_validates_against_a_msgspec_schema_with_a_top_level_ref():
    schema = msgspec.json.schema(Shape)
    assert "$ref" in schema
    shape = msgspec.convert(minimal_instance(schema), Shape)
    assert [p.x for p in shape.points] == [3, 3, 3]


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({"const": "fixed"}, "fixed"),
        ({"enum": [7, 8]}, 7),
        ({"type": ["null", "integer"], "minimum": 4}, 4),
        ({"oneOf": [{"type": "null"}, {"type": "boolean"}]}, False),
        ({"type": "array", "maxItems": 0}, []),
        ({"type": "string", "format": "date"}, "2000-01-01"),
        ({"type": "string", "pattern": "^[0-9]+$"}, "0"),
        ({"type": "number", "exclusiveMinimum": 2, "maximum": 2.5}, 2.5),
        (
            {
                "allOf": [{"$ref": "#/definitions/A"}],
                "definitions": {
                    "A": {
                        "required": ["a"],
                        "properties": {"a": {"type": "integer"}},
                        "type": "object",
                    }
                },
            },
            {"a": 0},
        ),
    ],
)
def test_minimal_instance_handles_each_keyword(schema: dict[str, Any], expected: Any):
    assert minimal_instance(schema) == expected


def test_unique_string_items_are_distinct():
    value = minimal_instance({"type": "array", "items": {"type": "string"}, "minItems": 3,
                              "uniqueItems": True})  # fmt: skip
    assert len(set(value)) == 3


def test_fit_to_schema_cuts_pads_trims_and_fills_without_touching_valid_parts():
    schema = Story.model_json_schema()
    value = {
        "headline": "A headline that is far, far too long for the forty to fifty limit",
        "kind": "opinion",
        "sources": [{"url": "https://a.example", "weight": 0.5}] * 5,
        "tags": ["kept"],
    }
    fitted = fit_to_schema(value, schema)
    story = Story.model_validate(fitted)
    assert story.headline == "A headline that is far, far too long for the"
    assert story.kind == "brief"
    assert len(story.sources) == 3
    assert story.sources[0].url == "https://a.example"
    assert story.rank == 15
    assert story.tags == ["kept"]


def test_fit_to_schema_pads_short_strings_with_a_stub_note():
    fitted = fit_to_schema("short", {"type": "string", "minLength": 30})
    assert len(fitted) >= 30
    assert fitted.startswith("short (stub output)")


# --- the SignalDraft reading ------------------------------------------------------------------

ARTICLE = (
    "Harbour Rail Ltd will reopen the coastal line between Callowmere and Penrith Bay in June. "
    "The operator said the line had been closed for eighteen months after storm damage. "
    "Managing director Tomas Berg said repairs to the sea wall cost £42m. "
    "Berg added that the coastal line would run hourly trains on weekdays. "
    "Passenger groups welcomed the coastal line news but asked for later evening trains. "
    "The Ministry of Transport paid for half of the sea wall repairs."
)


def stub_answer(text: str, *, enumerate_numbers: bool = True) -> dict[str, Any]:
    """The stub's answer to an analysis request for ``text``, as the analysis client asks."""
    article = ArticleForPrompt(text=text, title=None, site_name=None, url=None, published=None, language="en")
    count = len(split_sentences(text))
    schema = cite_sentences(wire_schema(SignalDraft), count, enumerate_numbers=enumerate_numbers)
    request = ChatRequest(
        model="signals-stub",
        messages=build_messages(article, today=date(2026, 12, 7), max_chars=60_000),
        response_format={"type": "json_schema", "json_schema": {"name": "SignalDraft", "schema": schema}},
    )
    value: dict[str, Any] = answer_value(read_ask(request))
    return value


def test_the_stub_cites_numbered_sentences_grounded_labelled_and_deterministic():
    value = stub_answer(ARTICLE)
    draft = SignalDraft.model_validate(value)
    sentences = split_sentences(ARTICLE)
    found = resolve(draft.key_details, sentences, ARTICLE, names_comparable=True)
    assert 3 <= len(found.usable) == len(draft.key_details) <= 5 and not found.problems
    assert all(d.unsupported == [] for d in found.usable)  # each text is its sentence's words
    assert all("evidence" not in d for d in value["key_details"])
    assert draft.title == (
        "[stub] Harbour Rail Ltd will reopen the coastal line between Callowmere and Penrith"
    )
    assert stub_answer(ARTICLE) == value


def test_a_prompt_of_the_older_contract_gets_verbatim_quotes():
    legacy = fit_to_schema(draft_from_article(ARTICLE), {"type": "object"})
    normalized = normalize_text(ARTICLE)
    assert all(is_grounded(d["evidence"], normalized) for d in legacy["key_details"])
    text = "Prices rose sharply in the city this spring according to new figures"
    assert len(draft_from_article(text)["key_details"]) == 3


def test_a_one_sentence_text_gets_one_key_detail_citing_it():
    value = stub_answer("Prices rose sharply in the city this spring according to new figures")
    assert value["key_details"][0]["sentences"] == [1]
    assert value["key_details"][0]["text"].startswith("[stub] Point 1: Prices rose sharply")


def test_topics_prefer_repeated_phrases_and_skip_names():
    assert pick_topics(ARTICLE) == ["Coastal line", "Repairs", "Wall"]


def test_entities_are_capitalised_names_typed_by_their_words():
    found = find_entities([ARTICLE])
    assert {"name": "Harbour Rail Ltd", "type": "organization"} in found
    assert {"name": "Tomas Berg", "type": "person"} in found
    assert {"name": "Penrith Bay", "type": "place"} in found
    assert {"name": "Ministry of Transport", "type": "organization"} in found


# --- faults on values -------------------------------------------------------------------------


def test_violate_schema_empties_the_first_required_list():
    value = fit_to_schema(draft_from_article(ARTICLE), SignalDraft.model_json_schema())
    broken = violate_schema(value, SignalDraft.model_json_schema())
    assert broken["key_details"] == []
    with pytest.raises(ValueError, match="key_details"):
        SignalDraft.model_validate(broken)


def test_replace_evidence_changes_all_or_only_the_last_quote():
    value = draft_from_article(ARTICLE)
    normalized = normalize_text(ARTICLE)
    every = replace_evidence(value, only_last=False)
    last = replace_evidence(value, only_last=True)
    assert not any(is_grounded(d["evidence"], normalized) for d in every["key_details"])
    assert [is_grounded(d["evidence"], normalized) for d in last["key_details"]][-2:] == [
        True,
        False,
    ]
    assert all(is_grounded(d["evidence"], normalized) for d in value["key_details"])  # unchanged


# --- request reading and embeddings -----------------------------------------------------------


def test_a_schema_in_a_system_message_is_found_but_not_one_inside_the_article():
    schema = {"title": "Thing", "type": "object", "properties": {"a": {"type": "string"}}}
    article = '<<<ARTICLE 0123456789abcdef>>>\n{"properties": {}}\n<<<END ARTICLE 0123456789abcdef>>>'
    request = ChatRequest(
        model="m",
        messages=[
            {
                "role": "system",
                "content": f"Answer in JSON matching: {msgspec.json.encode(schema).decode()}",
            },
            {"role": "user", "content": article},
        ],
    )
    ask = read_ask(request)
    assert (ask.shape, ask.schema_name, ask.article) == (
        "json_prompt",
        "Thing",
        '{"properties": {}}',
    )
    assert find_schema_in_text("no json {here") is None


def test_embeddings_are_unit_length_deterministic_and_base64_is_float32_le():
    vector = embed_text("Wind power and battery storage", 32)
    assert math.isclose(sum(v * v for v in vector), 1.0, rel_tol=1e-9)
    assert vector == embed_text("wind POWER and battery storage", 32)
    encoded = encode_embedding(vector, "base64")
    assert isinstance(encoded, str)
    decoded = struct.unpack("<32f", base64.b64decode(encoded))
    assert all(math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-7) for a, b in zip(decoded, vector, strict=True))
