"""The finished OpenAPI document itself (no server needed): links resolve, request bodies say
what msgspec enforces, and answers name their real media types and shapes."""

from __future__ import annotations

from typing import Any

import pytest

from service.app import create_app
from service.openapi_links import CHAINS
from service.settings import Settings

_METHODS = ("get", "put", "post", "delete", "patch")


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    app = create_app(Settings(database_url="postgresql://unused@localhost/unused"), worker=False)
    document: dict[str, Any] = app.openapi_schema.to_schema()
    return document


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _follow(doc: dict[str, Any], schema: dict[str, Any], pointer: list[str]) -> dict[str, Any]:
    """The schema a JSON pointer into a value of ``schema`` lands on (unions: any branch)."""
    schema = _resolve(doc, schema)
    if not pointer:
        return schema
    head, rest = pointer[0], pointer[1:]
    for union in ("anyOf", "oneOf"):
        for option in schema.get(union, []):
            try:
                return _follow(doc, option, pointer)
            except KeyError:
                continue
    if head.isdigit():
        return _follow(doc, schema["items"], rest)
    return _follow(doc, schema["properties"][head], rest)


def _operations(doc: dict[str, Any]) -> dict[str, tuple[str, str, dict[str, Any]]]:
    return {
        operation["operationId"]: (path, method, operation)
        for path, item in doc["paths"].items()
        for method, operation in item.items()
        if method in _METHODS
    }


def test_every_link_names_a_served_operation_its_parameters_and_a_field_of_the_answer(
    doc: dict[str, Any],
) -> None:
    operations = _operations(doc)
    found = 0
    for chain in CHAINS:
        path, method, status = chain.source
        response = doc["paths"][path][method]["responses"][status]
        link = response["links"][chain.name]
        target_path, target_method, target = operations[link["operationId"]]
        assert (target_path, target_method) == chain.target
        assert set(link["parameters"]) == {
            p["name"] for p in target.get("parameters", []) if p["in"] == "path"
        }
        body = response["content"]["application/json"]["schema"]
        for expression in link["parameters"].values():
            assert expression.startswith("$response.body#/"), expression
            _follow(
                doc, body, expression.removeprefix("$response.body#/").split("/")
            )  # KeyError: no such field
        found += 1
    assert found == len(CHAINS) >= 30


def test_request_bodies_refuse_unknown_fields_and_state_msgspec_constraints(doc: dict[str, Any]) -> None:
    for _, _, operation in _operations(doc).values():
        body = operation.get("requestBody")
        if body is None:
            continue
        schema = _resolve(doc, body["content"]["application/json"]["schema"])
        for shape in schema.get("oneOf", [schema]):
            shape = _resolve(doc, shape)
            if shape.get("type") == "null":
                continue
            assert shape["additionalProperties"] is False, (operation["operationId"], shape)
    partner = doc["components"]["schemas"]["PartnerCreate"]["properties"]["rate_per_second"]["anyOf"][0]
    assert partner["minimum"] == 0.001 and partner["maximum"] == 100_000
    assert not doc["paths"]["/v1/webhooks/{webhook_id}/rotate-secret"]["post"]["requestBody"]["required"]


def test_an_article_request_is_one_of_three_shapes(doc: dict[str, Any]) -> None:
    shapes = doc["components"]["schemas"]["AnalyzeRequest"]["oneOf"]
    assert [(s["title"], s["required"]) for s in shapes] == [
        ("AnalyzeRequestUrl", ["url"]),
        ("AnalyzeRequestHtml", ["html", "url"]),
        ("AnalyzeRequestText", ["text"]),
    ]
    assert shapes[0]["properties"]["title"] == {"type": "null"}
    assert shapes[2]["properties"]["html"] == {"type": "null"}


def test_answers_name_their_media_types_and_shapes(doc: dict[str, Any]) -> None:
    export = doc["paths"]["/v1/signals/export"]["get"]["responses"]["200"]["content"]
    assert set(export) == {"application/x-ndjson", "text/csv"}
    feed = doc["paths"]["/v1/feeds/signals.json"]["get"]["responses"]["200"]["content"]
    assert feed["application/feed+json"]["schema"] == {"$ref": "#/components/schemas/JsonFeed"}
    listing = doc["paths"]["/v1/signals"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert "oneOf" not in listing and len(listing["anyOf"]) == 2
    created = doc["paths"]["/v1/signals"]["post"]["responses"]
    assert created["201"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Signal"}
    assert created["202"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Job"}


def test_window_bounds_are_dates_in_the_years_the_api_takes(doc: dict[str, Any]) -> None:
    since = next(p for p in doc["paths"]["/v1/signals"]["get"]["parameters"] if p["name"] == "since")
    assert [o.get("format") for o in since["schema"]["anyOf"]] == ["date", "date-time", None]
    assert {o.get("pattern") for o in since["schema"]["anyOf"][:2]} == {"^(19[0-9]{2}|[2-8][0-9]{3})-"}
    assert "since must be before until" in since["description"]
