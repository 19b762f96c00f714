"""Walking every operation of the API's OpenAPI document with chosen parameter values.

The operations come from the document, never from a list kept by hand: a new route is walked
as soon as it is served. What is listed by hand is only the *kinds* of parameter (a table keyed
by parameter name: ``signal_id``, ``slug``, ``webhook_id``…), each with the values the walk
tries. A path parameter whose name is not in that table, or a query parameter that is neither
in it nor declared neutral (a limit, a cursor, a date…), fails the walk: whoever adds such a
parameter says which values of it must stay out of whose reach.

Request bodies come from a small table keyed by operation id (hostile bodies where the body
itself is the attack) or else from the operation's request-body schema: required fields get a
plain value of their type, and fields that name a parameter kind (``topic``, ``topics``,
``into``) get that kind's values, so a new route that takes a topic is walked with the hidden one.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

METHODS = ("get", "head", "post", "put", "patch", "delete")
HTTP_METHODS = (*METHODS, "options", "trace")
_ORDER = {"get": 0, "head": 0, "post": 1, "put": 1, "patch": 1, "delete": 2}
"""Reads first and deletions last, so an answer that wrongly deletes spoils as little as can be."""


@dataclass(frozen=True)
class Target:
    """One value the walk gives a parameter kind, and who must not reach what it names."""

    kind: str
    label: str
    value: str | int
    hidden_from: frozenset[str] = frozenset()
    """Adversaries that must get the answer an unknown value gets (and see nothing of it)."""
    skip_for: frozenset[str] = frozenset()
    """Adversaries for whom it is in reach, to use and change as they like: not walked."""


@dataclass(frozen=True)
class Kind:
    """A parameter kind: the values to try, and one that names nothing (the "missing" twin)."""

    targets: tuple[Target, ...]
    missing: str | int


@dataclass(frozen=True)
class Param:
    """A place in a body template that takes a value of parameter kind ``kind``."""

    kind: str


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    operation_id: str
    path_params: tuple[str, ...]
    query_params: tuple[str, ...]
    body_schema: dict[str, Any] | None

    @property
    def name(self) -> str:
        return f"{self.method.upper()} {self.path}"

    @property
    def writes(self) -> bool:
        return self.method not in ("get", "head")


def operations(document: Mapping[str, Any]) -> list[Operation]:
    """Every operation of the document, reads first and deletions last."""
    found = []
    for path, item in document["paths"].items():
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            params = op.get("parameters", [])
            body = op.get("requestBody")
            schema = None
            if body is not None:
                schema = body["content"].get("application/json", {}).get("schema", {})
            found.append(
                Operation(
                    method=method,
                    path=path,
                    operation_id=op["operationId"],
                    path_params=tuple(p["name"] for p in params if p["in"] == "path"),
                    query_params=tuple(p["name"] for p in params if p["in"] == "query"),
                    body_schema=schema,
                )
            )
    return sorted(found, key=lambda o: (_ORDER[o.method], o.path))


def route_scopes(app: Any) -> dict[tuple[str, str], str | None]:
    """(OpenAPI path, method) -> the scope the Litestar app's handler declares (None: none)."""
    scopes: dict[tuple[str, str], str | None] = {}
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            for method in getattr(handler, "http_methods", ()):
                scopes[(route.path_format, str(method).lower())] = handler.opt.get("scope")
    return scopes


# --- bodies -------------------------------------------------------------------------------------


def _resolve(schema: Mapping[str, Any], document: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = document["components"]["schemas"][name]
    for choice in ("oneOf", "anyOf"):
        if choice in schema:
            options = [s for s in schema[choice] if s.get("type") != "null"]
            if options:
                merged = {k: v for k, v in schema.items() if k != choice}
                return {**merged, **_resolve(options[0], document)}
    return schema


def body_from_schema(
    schema: Mapping[str, Any], document: Mapping[str, Any], field_kinds: Mapping[str, str]
) -> Any:
    """A minimal body the schema accepts: required fields with a plain value of their type,
    fields named in ``field_kinds`` with a ``Param`` of that kind (a list of one for arrays)."""
    schema = _resolve(schema, document)
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        required = set(schema.get("required", []))
        body: dict[str, Any] = {}
        for name, prop in schema.get("properties", {}).items():
            if name in field_kinds:
                resolved = _resolve(prop, document)
                param = Param(field_kinds[name])
                body[name] = [param] if resolved.get("type") == "array" else param
            elif name in required:
                body[name] = body_from_schema(prop, document, field_kinds)
        return body
    if "enum" in schema:
        return schema["enum"][0]
    if kind == "array":
        return [body_from_schema(schema.get("items", {}), document, field_kinds)]
    if kind == "integer":
        return max(1, int(schema.get("minimum", 1)))
    if kind == "number":
        return 1.0
    if kind == "boolean":
        return True
    if schema.get("format") == "date":
        return datetime.now(UTC).date().isoformat()
    return "walk"


def _kinds_in(template: Any) -> set[str]:
    if isinstance(template, Param):
        return {template.kind}
    if isinstance(template, dict):
        return set().union(*(_kinds_in(v) for v in template.values()))
    if isinstance(template, list):
        return set().union(*(_kinds_in(v) for v in template))
    return set()


def _fill(template: Any, values: Mapping[str, Any]) -> Any:
    if isinstance(template, Param):
        return values[template.kind]
    if isinstance(template, dict):
        return {k: _fill(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [_fill(v, values) for v in template]
    return template


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


# --- probes -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rendered:
    """One request as sent: what the adversary itself put in it is never a leak."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    has_body: bool
    sent: tuple[str, ...]
    target_values: tuple[str, ...]

    def describe(self) -> str:
        query = "?" + "&".join(f"{k}={v}" for k, v in self.query.items()) if self.query else ""
        body = f" body={json.dumps(self.body)[:160]}" if self.has_body else ""
        return f"{self.method.upper()} {self.path}{query}{body}"


@dataclass(frozen=True)
class Probe:
    """One operation with one value per parameter slot (``path:name``, ``query:name``, ``body:kind``)."""

    op: Operation
    bindings: tuple[tuple[str, Target], ...]
    body: Any
    has_body: bool

    def targets(self) -> list[Target]:
        return [t for _, t in self.bindings]

    def hidden_for(self, adversary: str) -> list[Target]:
        return [t for t in self.targets() if adversary in t.hidden_from]

    def hidden_in_path(self, adversary: str) -> bool:
        return any(s.startswith("path:") and adversary in t.hidden_from for s, t in self.bindings)

    def render(self, kinds: Mapping[str, Kind], *, missing_for: str | None = None) -> Rendered:
        """The request; with ``missing_for``, every value hidden from that adversary is
        replaced by its kind's missing value (the twin an honest "not found" is compared to)."""

        def value(target: Target) -> str | int:
            if missing_for is not None and missing_for in target.hidden_from:
                return kinds[target.kind].missing
            return target.value

        path = self.op.path
        query: dict[str, str] = {}
        body_values: dict[str, Any] = {}
        used: list[str] = []
        for slot, target in self.bindings:
            where, name = slot.split(":", 1)
            current = value(target)
            used.append(str(current))
            if where == "path":
                path = path.replace("{" + name + "}", str(current))
            elif where == "query":
                query[name] = str(current)
            else:
                body_values[name] = current
        body = _fill(self.body, body_values) if self.has_body else None
        sent = [path, *query.values(), *_strings(body), *used]
        return Rendered(
            method=self.op.method,
            path=path,
            query=query,
            body=body,
            has_body=self.has_body,
            sent=tuple(s for s in sent if len(s) >= 4),
            target_values=tuple(used),
        )

    def describe(self) -> str:
        """What the probe's values name, e.g. ``path:webhook_id=K1's endpoint``."""
        return ", ".join(f"{slot}={t.label}" for slot, t in self.bindings) or "no identifiers"


@dataclass
class ParameterTable:
    """Parameter kinds by name; query names that take no identifier; bodies by operation id."""

    kinds: Mapping[str, Kind]
    query_kinds: Mapping[str, str]
    neutral_query: frozenset[str]
    field_kinds: Mapping[str, str]
    bodies: Mapping[str, list[Any]] = field(default_factory=dict)


def probes(op: Operation, table: ParameterTable, document: Mapping[str, Any], adversary: str) -> list[Probe]:
    """Every probe of ``op`` for ``adversary``. Raises AssertionError for a parameter the
    table does not know: the walk refuses to skip what nobody has thought about."""
    slots: list[tuple[str, str]] = []
    for name in op.path_params:
        assert name in table.kinds, (
            f"{op.name}: path parameter {name!r} is not in the walk's parameter table; add the "
            "values it must try (and who must not reach them) to tests/support/partner_walk.py"
        )
        slots.append((f"path:{name}", name))
    query_slots: list[tuple[str, str]] = []
    for name in op.query_params:
        if name in table.query_kinds:
            query_slots.append((f"query:{name}", table.query_kinds[name]))
        else:
            assert name in table.neutral_query, (
                f"{op.name}: query parameter {name!r} is neither a parameter kind nor declared "
                "neutral in the walk's parameter table"
            )
    if op.body_schema is None:
        templates: list[Any] = [None]
    elif op.operation_id in table.bodies:
        templates = table.bodies[op.operation_id]
    else:
        templates = [body_from_schema(op.body_schema, document, table.field_kinds)]
    found: list[Probe] = []
    for template in templates:
        body_slots = [(f"body:{kind}", kind) for kind in sorted(_kinds_in(template))]
        for combo in _combinations(slots + body_slots, table):
            found.append(Probe(op, combo, template, op.body_schema is not None))
    # Identifiers in the query string, one at a time, on the operation's first path values.
    first = next(_combinations(slots, table), ())
    for slot, kind in query_slots:
        for target in table.kinds[kind].targets:
            found.append(Probe(op, (*first, (slot, target)), None, False))
    return [p for p in found if not any(adversary in t.skip_for for t in p.targets())]


def _combinations(
    slots: list[tuple[str, str]], table: ParameterTable
) -> Iterator[tuple[tuple[str, Target], ...]]:
    choices = [[(slot, t) for t in table.kinds[kind].targets] for slot, kind in slots]
    for combo in itertools.product(*choices):
        yield tuple(combo)


# --- sending and reading answers ------------------------------------------------------------------


async def send(http: httpx.AsyncClient, request: Rendered) -> httpx.Response:
    """Send the request; writes ask to wait for their job so that its effects can be checked."""
    headers = {"Prefer": "wait=30"} if request.method not in ("get", "head") else {}
    if request.has_body:
        return await http.request(
            request.method, request.path, params=request.query, json=request.body, headers=headers
        )
    return await http.request(request.method, request.path, params=request.query, headers=headers)


def leaked(response: httpx.Response, markers: Mapping[str, str], sent: Iterable[str]) -> list[str]:
    """The markers found anywhere in the answer (headers included), once everything the
    request itself carried is taken out of it (an echo of the caller's own input is no leak)."""
    text = response.text + "\n" + "\n".join(f"{k}: {v}" for k, v in response.headers.items())
    for value in sorted(set(sent), key=len, reverse=True):
        text = text.replace(value, "\x00")
    folded = text.casefold()
    return [f"{what} ({marker!r})" for marker, what in markers.items() if marker.casefold() in folded]


def shape(response: httpx.Response, values: Iterable[str]) -> tuple[Any, ...]:
    """What an answer says, with the request's own parameter values blanked: status, and for a
    problem its code, reason and detail. Two answers of one shape tell the caller nothing apart."""
    status = response.status_code
    if not response.headers.get("content-type", "").startswith("application/problem+json"):
        return (status,)
    body = response.json()
    detail = str(body.get("detail", ""))
    for value in sorted(set(values), key=len, reverse=True):
        detail = detail.replace(value, "<value>")
    return (status, body.get("code"), body.get("reason"), detail)


def json_documents(response: httpx.Response) -> list[Any]:
    """The JSON an answer carries: one document, a document per line (NDJSON), or none."""
    media = response.headers.get("content-type", "")
    if "ndjson" in media:
        return [json.loads(line) for line in response.text.splitlines() if line.strip()]
    if "json" in media and response.content:
        return [response.json()]
    return []


def signal_cards(value: Any) -> Iterator[dict[str, Any]]:
    """Every object in a JSON answer that carries topics as ``[{slug, label}]`` (signal cards
    and list items)."""
    if isinstance(value, dict):
        topics = value.get("topics")
        if isinstance(topics, list) and topics and all(isinstance(t, dict) and "slug" in t for t in topics):
            yield value
        for v in value.values():
            yield from signal_cards(v)
    elif isinstance(value, list):
        for v in value:
            yield from signal_cards(v)
