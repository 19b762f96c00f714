"""The schema sent to the model: inside what grammar-constrained decoders accept."""

import json
from typing import Any

import pytest

from service.analysis.client import SignalsProbe
from service.analysis.model import KeyDetailsFix, SignalDraft
from service.analysis.probe import PROBE_SCHEMA, PROBE_SCHEMA_NAME
from service.analysis.schema import MAX_ENUM_SENTENCES, cite_sentences, citing, field_guide, wire_schema
from service.digests.model import DigestDraft, DigestPlan

REFUSED = {"minLength", "maxLength", "pattern", "format", "$ref", "$defs", "allOf", "oneOf", "default"}


def walk(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        found.append((path, node))
        for key, value in node.items():
            found.extend(walk(value, f"{path}/{key}"))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.extend(walk(value, f"{path}/{index}"))
    return found


@pytest.mark.parametrize("model", [SignalDraft, KeyDetailsFix, DigestPlan, DigestDraft])
def test_only_keywords_every_constrained_decoder_takes(model):
    schema = wire_schema(model)
    for path, node in walk(schema):
        if path.endswith("/properties"):
            continue  # property names, not keywords
        assert not REFUSED & set(node), f"{model.__name__}{path} uses {REFUSED & set(node)}"
        if node.get("type") == "object":
            assert node["additionalProperties"] is False
            assert node["required"] == list(node["properties"]), path  # strict mode: all required
    assert schema["title"] == model.__name__
    assert [p for p, n in walk(schema) if "title" in n and p.endswith("/properties") is False] == [""]


def test_length_limits_become_written_instructions():
    properties = wire_schema(SignalDraft)["properties"]
    assert "At most 2500 characters." in properties["analysis"]["description"]
    assert "At least 80 characters." in properties["analysis"]["description"]
    details = properties["key_details"]
    assert (details["minItems"], details["maxItems"]) == (3, 6)
    numbers = details["items"]["properties"]["sentences"]
    assert (numbers["minItems"], numbers["maxItems"]) == (1, 3)


def test_sentence_numbers_are_an_enum_for_constrained_decoders_and_a_range_otherwise():
    listed = cite_sentences(wire_schema(SignalDraft), 12, enumerate_numbers=True)
    numbers = listed["properties"]["key_details"]["items"]["properties"]["sentences"]["items"]
    assert numbers == {"type": "integer", "enum": list(range(1, 13))}
    hinted = cite_sentences(wire_schema(SignalDraft), 12, enumerate_numbers=False)
    numbers = hinted["properties"]["key_details"]["items"]["properties"]["sentences"]["items"]
    assert numbers == {"type": "integer", "minimum": 1, "maximum": 12}
    many = cite_sentences(wire_schema(SignalDraft), MAX_ENUM_SENTENCES + 1, enumerate_numbers=True)
    assert "enum" not in json.dumps(many["properties"]["key_details"])


def test_each_call_gets_its_own_copy():
    first = cite_sentences(wire_schema(SignalDraft), 3, enumerate_numbers=True)
    second = wire_schema(SignalDraft)
    assert "enum" in json.dumps(first["properties"]["key_details"])
    assert "enum" not in json.dumps(second["properties"]["key_details"])


def test_the_field_guide_gives_a_grammar_only_server_the_descriptions():
    guide = field_guide(wire_schema(SignalDraft))
    assert guide.startswith("Answer with one JSON object with these fields:")
    assert "- analysis: Deep analysis" in guide and "At most 2500 characters." in guide
    assert "  - sentences: The numbers of the 1-3 article sentences" in guide


def test_a_per_article_model_numbers_its_sentences_and_is_made_once_per_count():
    listed = citing(SignalDraft, 12, listed=True)
    assert listed is citing(SignalDraft, 12, listed=True) and listed.__name__ == "SignalDraft"
    numbers = listed.model_json_schema()["properties"]["key_details"]["items"]["properties"]["sentences"]
    assert numbers["items"] == {"type": "integer", "enum": list(range(1, 13))}
    hinted = citing(SignalDraft, 12, listed=False).model_json_schema()
    assert "enum" not in json.dumps(hinted["properties"]["key_details"])
    card = wire_schema(SignalDraft)
    assert card["title"] == "SignalDraft" and "enum" not in json.dumps(card["properties"]["key_details"])
    # Validation takes any number: citations decide what is usable, one detail at a time.
    fix = citing(KeyDetailsFix, 3, listed=True).model_validate(
        {"key_details": [{"text": "A fact worth noting", "sentences": [900]}]}
    )
    assert fix.key_details[0].sentences == [900]


def test_the_probe_model_sends_the_schema_the_stub_knows():
    assert wire_schema(SignalsProbe) == {**PROBE_SCHEMA, "title": PROBE_SCHEMA_NAME}
