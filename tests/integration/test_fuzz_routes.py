"""Every route, every parameter, hostile values: never a 5xx, and every 4xx a problem.

The cases come from the app's own OpenAPI document, so a route added later is fuzzed without
being listed here: each path, query and header parameter (and the ``?key=`` of feeds) gets
NUL characters, integers past 64 bits, 5000-digit numbers and far dates; each JSON body gets
the same in every property, and JSON nested 5000 deep. Paths hold real ids (a seeded signal,
its article, story and entity, a partner and its key, a webhook) so that the deeper code runs
too. Requests go with an admin key, which every route accepts.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote
from uuid import uuid4

import httpx
import pytest
from cryptography.fernet import Fernet

from service.app import create_app
from service.keys import service as keys
from service.signals import repository as signals_repository
from service.stories import repository as stories
from tests.support.clients import connected, keyed_client, stub_llm
from tests.support.problems import PROBLEM
from tests.support.seeding import SeedSignal, seed_signal
from tests.support.servers import running_asgi
from tests.support.webhooks import create_webhook

pytestmark = pytest.mark.timeout(240)

_METHODS = ("get", "post", "put", "patch", "delete")
TIMEOUT = 15
"""Seconds one answer may take (no route does anything slow with these values)."""
_DIGITS = "9" * 5000
_BIG_NUMBER = "__5000_digits__"
"""Stands in a body for a 5000-digit JSON number (json.dumps will not write one)."""
_HUGE_INTEGERS = [2**63, 2**70, -(2**63) - 1]
_FAR_DATES = ["9999-12-31", "0001-01-01", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00+01:00"]

PARAMETER_VALUES = [
    "ports\x00",
    "\x00",
    *(str(n) for n in _HUGE_INTEGERS),
    _DIGITS,
    *_FAR_DATES,
]
"""For path and query parameters, whatever their declared type (a mismatch must be a 400 too)."""
ENCODED_VALUES = ["%FF%FE", "%C0%80", "%ED%A0%80", "%"]
"""Sent as they are in paths and query strings: bytes that are not UTF-8 (an overlong NUL, a
lone surrogate) and a stray percent sign."""
HEADER_VALUES = [
    _DIGITS,
    "wait=" + _DIGITS,
    str(2**70),
    "9999-12-31",
    "Fri, 31 Dec 9999 23:59:59 GMT",
    "Mon, 01 Jan 0001 00:00:00 GMT",
    '"' + _DIGITS + '"',
]
"""For header parameters: a NUL cannot be sent in a header (the HTTP parser refuses it)."""
BODY_VALUES: list[Any] = [
    "x\x00",
    "\x00",
    *_HUGE_INTEGERS,
    _BIG_NUMBER,
    1e308,
    *_FAR_DATES,
    ["ports\x00"],
    [2**70],
    {"a": "\x00"},
]
"""For every property of a JSON body, whatever its declared type."""


def _nested(depth: int) -> list[bytes]:
    return [
        b"[" * depth + b"]" * depth,
        b'{"a":' * depth + b"1" + b"}" * depth,
    ]


@pytest.fixture(scope="module")
def api(make_settings: Any, stub: SimpleNamespace) -> Iterator[str]:
    settings = make_settings(
        **stub_llm(stub),
        digest_daily_at=None,
        secret_key=Fernet.generate_key().decode(),
    )
    # no worker: jobs the fuzzing queues stay queued, nothing is fetched or delivered
    with running_asgi(create_app(settings, worker=False)) as base:
        yield base


@pytest.fixture(scope="module")
async def world(api: str, database_url: str) -> dict[str, str]:
    """Real values for path parameters, by name."""
    async with connected(database_url) as conn:
        signal_id = await seed_signal(
            conn,
            SeedSignal(
                title="Harbour terminal approved",
                topics=["Ports"],
                entities=[("Harbour Authority", "organization")],
                created_at=datetime.now(UTC),
            ),
        )
        story_id = await stories.create_story(conn, signal_id)
        await stories.set_signal_story(conn, signal_id, story_id)
        await signals_repository.refresh_story(conn, story_id)
        article_id = await conn.fetchval("SELECT article_id FROM signals WHERE id = $1", signal_id)
        entity_id = await conn.fetchval("SELECT id FROM entities WHERE name = 'Harbour Authority'")
        admin = await keys.create_key(conn, name="fuzzer", scopes=["admin"])
        partner = await keys.ensure_partner(conn, "Fuzz Media")
        partner_key = await keys.create_key(
            conn, name="fuzz-partner", scopes=["signals:read"], partner_id=partner["id"]
        )
    values = {
        "admin": admin.key,
        "signal_id": str(signal_id),
        "article_id": str(article_id),
        "story_id": str(story_id),
        "entity_id": str(entity_id),
        "partner_id": str(partner["id"]),
        "key_id": str(partner_key.id),
        "slug": "ports",
    }
    async with keyed_client(api, admin.key) as http:
        values["webhook_id"] = (await create_webhook(http, "http://127.0.0.1:9/fuzz-hook"))["id"]
    return values


@dataclass
class Findings:
    sent: int = 0
    by_operation: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)

    def check(self, where: str, what: str, response: httpx.Response) -> None:
        self.sent += 1
        self.by_operation[where] = self.by_operation.get(where, 0) + 1
        status = response.status_code
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if status >= 500:
            self.failures.append(f"{where} {what}: {status} {response.text[:200]}")
        elif status >= 400 and not response.headers.get("content-type", "").startswith(PROBLEM):
            self.failures.append(f"{where} {what}: {status} is not problem+json: {response.text[:200]}")


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    for key in ("oneOf", "anyOf"):
        if key in schema:
            options = [_resolve(doc, s) for s in schema[key] if s.get("type") != "null"]
            if options:
                return {**{k: v for k, v in schema.items() if k != key}, **options[0]}
    return schema


def _plausible(doc: dict[str, Any], schema: dict[str, Any], name: str, world: dict[str, str]) -> Any:
    """A value the schema accepts (roughly): what the parts not under attack hold."""
    schema = _resolve(doc, schema)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next(k for k in kind if k != "null")
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties", {})
        return {
            key: _plausible(doc, properties[key], key, world)
            for key in schema.get("required", [])
            if key in properties
        }
    if kind == "array":
        return [_plausible(doc, schema.get("items", {}), name, world)]
    if kind == "integer":
        return int(schema.get("minimum", 1))
    if kind == "number":
        return 1.0
    if kind == "boolean":
        return True
    if name in world:
        return world[name]
    if schema.get("format") == "uuid":
        return str(uuid4())
    if schema.get("format") == "date":
        return datetime.now(UTC).date().isoformat()
    if name == "url":
        return "http://127.0.0.1:9/fuzz"
    return "ports"


def _operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if method in _METHODS:
                yield path, method, operation


def _parameters(doc: dict[str, Any], operation: dict[str, Any]) -> list[dict[str, Any]]:
    """The operation's parameters, and query parameters its security schemes take (``?key=``)."""
    parameters = list(operation.get("parameters", []))
    schemes = doc["components"].get("securitySchemes", {})
    for requirement in operation.get("security", []):
        for scheme_name in requirement:
            scheme = schemes.get(scheme_name, {})
            if scheme.get("type") == "apiKey" and scheme.get("in") in ("query", "header"):
                parameters.append({"name": scheme["name"], "in": scheme["in"], "schema": {"type": "string"}})
    return parameters


class Fuzzer:
    def __init__(self, http: httpx.AsyncClient, doc: dict[str, Any], world: dict[str, str]) -> None:
        self.http, self.doc, self.world = http, doc, world
        self.findings = Findings()
        self.limit = asyncio.Semaphore(6)

    def _path(
        self, template: str, parameters: list[dict[str, Any]], override: dict[str, str], *, raw: bool = False
    ) -> str:
        path = template
        for parameter in parameters:
            if parameter["in"] != "path":
                continue
            name = parameter["name"]
            if name in override:
                value = override[name] if raw else quote(override[name], safe="")
            else:
                value = quote(
                    str(_plausible(self.doc, parameter.get("schema", {}), name, self.world)), safe=""
                )
            path = path.replace("{" + name + "}", value)
        return path

    def _base_body(self, operation: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any]]:
        content = operation.get("requestBody", {}).get("content", {}).get("application/json")
        if content is None:
            return None, {}
        schema = _resolve(self.doc, content["schema"])
        return _plausible(self.doc, schema, "", self.world), schema.get("properties", {})

    async def send(
        self,
        where: str,
        what: str,
        method: str,
        url: str,
        *,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
    ) -> None:
        if content is not None:
            headers = {**(headers or {}), "Content-Type": "application/json"}
        async with self.limit:
            try:
                response = await self.http.request(
                    method, url, params=params, headers=headers, content=content
                )
            except httpx.TimeoutException:
                self.findings.failures.append(f"{where} {what}: no answer in {TIMEOUT} s")
                return
        self.findings.check(where, what, response)

    async def operation(self, template: str, method: str, operation: dict[str, Any]) -> None:
        where = f"{method.upper()} {template}"
        parameters = _parameters(self.doc, operation)
        body, properties = self._base_body(operation)
        encoded = json.dumps(body).encode() if body is not None else None
        sends = []
        for parameter in parameters:
            name, place = parameter["name"], parameter["in"]
            values = HEADER_VALUES if place == "header" else PARAMETER_VALUES
            for value in values:
                what = f"{place} {name}={value[:24]!r}"
                if place == "path":
                    url = self._path(template, parameters, {name: value})
                    sends.append(self.send(where, what, method, url, content=encoded))
                    continue
                url = self._path(template, parameters, {})
                if place == "query":
                    sends.append(self.send(where, what, method, url, params={name: value}, content=encoded))
                else:
                    sends.append(self.send(where, what, method, url, headers={name: value}, content=encoded))
            for value in ENCODED_VALUES if place in ("path", "query") else ():
                what = f"{place} {name}={value} (encoded)"
                if place == "path":
                    url = self._path(template, parameters, {name: value}, raw=True)
                else:
                    url = f"{self._path(template, parameters, {})}?{quote(name)}={value}"
                sends.append(self.send(where, what, method, url, content=encoded))
        url = self._path(template, parameters, {})
        for key in properties:
            for value in BODY_VALUES:
                text = json.dumps({**(body or {}), key: value}).replace(f'"{_BIG_NUMBER}"', _DIGITS)
                sends.append(
                    self.send(where, f"body {key}={str(value)[:24]!r}", method, url, content=text.encode())
                )
        if body is not None:
            for i, deep in enumerate(_nested(5000)):
                sends.append(self.send(where, f"body nested 5000 deep ({i})", method, url, content=deep))
            first = next(iter(properties), "a")
            under = b'{"' + first.encode() + b'": ' + _nested(5000)[0] + b"}"
            sends.append(self.send(where, f"body {first} nested 5000 deep", method, url, content=under))
        await asyncio.gather(*sends)


async def test_no_route_answers_5xx_or_a_non_problem_4xx_to_hostile_input(api, world):
    async with keyed_client(api, world["admin"], timeout=TIMEOUT) as http:
        doc = (await http.get("/schema/openapi.json")).json()
        fuzzer = Fuzzer(http, doc, world)
        operations = list(_operations(doc))
        for template, method, operation in operations:
            await fuzzer.operation(template, method, operation)
    findings = fuzzer.findings
    assert len(operations) > 40  # the document, not a hand-kept list, names the routes
    with_inputs = [
        f"{m.upper()} {p}" for p, m, op in operations if _parameters(doc, op) or "requestBody" in op
    ]
    assert set(with_inputs) <= set(findings.by_operation), set(with_inputs) - set(findings.by_operation)
    assert findings.sent > 1000
    # the key was never refused nor throttled: every request reached its route's own checks
    assert not {401, 403, 429} & set(findings.statuses), findings.statuses
    assert not findings.failures, f"{len(findings.failures)} of {findings.sent}:\n" + "\n".join(
        findings.failures[:60]
    )
