"""Finishing the generated OpenAPI document so that it says what the API really does.

Litestar generates the document from the route handlers; what it cannot know is filled in
here, once, when the app is built (every route, including ones added later by other
features, gets it without repeating itself):

- **Security per operation.** A route with ``opt["scope"]`` needs a bearer key, so its
  operation lists ``bearer`` explicitly; a route without one (``/healthz``, ``/readyz``) lists
  no requirement (``security: []``), which is how OpenAPI marks an operation public when the
  document has a global requirement.
- **Errors are problem+json.** Litestar documents the 400 it raises for invalid parameters as
  its own JSON shape; every error this API sends is RFC 9457 ``application/problem+json``
  (service/http.py renders them), so those entries are replaced by the ``Problem`` schema.
- **Keyed operations can fail the key**, and operations with a body can fail it: 401, 403
  and 429, and 400, 413 and 415, are added where a route did not declare them.
- **Exact bigint bounds.** Litestar writes every bound as a float, and the float nearest
  2^63 - 1 is 2^63, one past what a bigint parameter takes: those bounds are written back
  as the exact integers.
- **Request bodies as msgspec validates them.** Litestar's schema of a Struct drops some of
  its constraints (``gt``, lengths of list items) and allows unknown fields; msgspec, which
  decodes the body, writes its own JSON Schema exactly (``additionalProperties: false`` for
  ``forbid_unknown_fields``). Each request Struct's component is that schema; a Struct with
  ``openapi_shapes`` (``AnalyzeRequest``: url, html or text) is oneOf one object per shape. A
  body the handler takes as optional is optional.
- **Answers as they are sent.** A union of answer shapes is anyOf (an empty page is both a
  page of items and of cards); ``opt["media_types"]`` lists a streaming route's formats
  (the NDJSON and CSV export); every ``application/feed+json`` answer is a ``JsonFeed``.
- **Query values the service parses itself** (service/openapi_params.py), **links** between
  operations (service/openapi_links.py), and ``Allow`` on OPTIONS naming every method.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from typing import Any

import msgspec
from litestar import Litestar
from litestar.openapi.spec import (
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Reference,
    RequestBody,
    Schema,
)
from litestar.routes import HTTPRoute
from litestar.types import Method

from schemas.feeds import JsonFeed
from schemas.problems import PROBLEM_MEDIA_TYPE
from service.hostile_input import BIGINT_MAX, BIGINT_MIN
from service.openapi_links import add_links
from service.openapi_params import bound_dates, finish_parameters

BEARER = "bearer"
FEED_JSON = "application/feed+json"
_REF = "#/components/schemas/{name}"
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_PROBLEM = Reference(ref="#/components/schemas/Problem")
_KEY_ERRORS = {
    "401": "Missing, malformed, unknown or revoked API key",
    "403": "The key lacks the required scope",
    "429": "The key's rate limit is reached; Retry-After says when to try again",
}
_GENERIC = {"400": "Invalid parameter (see errors)"}
_BODY_ERRORS = {
    "400": "Malformed body (see errors)",
    "413": "Body over the size limit (SIGNALS_MAX_BODY_BYTES)",
    "415": "The body is not application/json",
}


def _problem(description: str) -> OpenAPIResponse:
    return OpenAPIResponse(
        description=description, content={PROBLEM_MEDIA_TYPE: OpenAPIMediaType(schema=_PROBLEM)}
    )


def _route_opts(app: Litestar) -> dict[tuple[str, str], dict[str, Any]]:
    """(OpenAPI path, lower-case method) → its handler's ``opt`` (``scope``: the scope it
    needs, None for public; ``media_types``: what its success answer can be, see below)."""
    opts: dict[tuple[str, str], dict[str, Any]] = {}
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            for method in getattr(handler, "http_methods", ()):
                opts[(route.path_format, str(method).lower())] = handler.opt
    return opts


def _media_types(operation: Operation, media_types: dict[str, str] | None) -> None:
    """A handler that streams text in several formats (``opt["media_types"]``: media type →
    what it holds) documents each of them for its success status, instead of Litestar's
    one ``application/json``."""
    if not media_types:
        return
    for status, response in (operation.responses or {}).items():
        if status.startswith("2") and isinstance(response, OpenAPIResponse):
            response.content = {
                media: OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING, description=holds))
                for media, holds in media_types.items()
            }
            return


def document_json_feeds(document: Any) -> None:
    """Every ``application/feed+json`` answer is a JSON Feed object (not a string). Idempotent:
    whatever documents a feed after ``finish_openapi`` can call it again."""
    components = document.components.schemas
    for name, schema in msgspec.json.schema_components([JsonFeed], ref_template=_REF)[1].items():
        components.setdefault(name, _to_spec(schema))
    for item in (document.paths or {}).values():
        for method in _METHODS:
            operation = getattr(item, method, None)
            if not isinstance(operation, Operation):
                continue
            for response in (operation.responses or {}).values():
                content = response.content if isinstance(response, OpenAPIResponse) else None
                for media, entry in (content or {}).items():
                    if media.startswith(FEED_JSON):
                        entry.schema = Reference(ref=_REF.format(name="JsonFeed"))


def _finish_operation(operation: Operation, scope: str | None) -> None:
    responses = operation.responses if operation.responses is not None else {}
    for status, response in list(responses.items()):
        if not status.startswith("4") or not isinstance(response, OpenAPIResponse):
            continue
        if response.content is None or PROBLEM_MEDIA_TYPE not in response.content:
            responses[status] = _problem(_GENERIC.get(status, response.description))
    for response in responses.values():
        for entry in (response.content or {}).values() if isinstance(response, OpenAPIResponse) else ():
            schema = entry.schema
            # A union of answers (a page of items or of cards, a job or a signal) can be valid
            # under more than one shape (an empty page): anyOf says so, oneOf would not.
            if isinstance(schema, Schema) and schema.one_of and schema.discriminator is None:
                schema.any_of, schema.one_of = schema.one_of, None
    if operation.request_body is not None:
        for status, description in _BODY_ERRORS.items():
            responses.setdefault(status, _problem(description))
    operation.responses = responses
    if scope is None:
        operation.security = []
        return
    operation.security = [{BEARER: []}]
    for status, description in _KEY_ERRORS.items():
        responses.setdefault(status, _problem(description))


def _exact_bigint_bounds(value: object) -> None:
    """Every schema under ``value`` with a bigint bound gets it as the exact integer."""
    if isinstance(value, Schema):
        if value.maximum == float(BIGINT_MAX):
            value.maximum = BIGINT_MAX
        if value.minimum == float(BIGINT_MIN):
            value.minimum = BIGINT_MIN
    if isinstance(value, list | tuple):
        for item in value:
            _exact_bigint_bounds(item)
    elif isinstance(value, dict):
        for item in value.values():
            _exact_bigint_bounds(item)
    elif dataclasses.is_dataclass(value):
        for spec_field in dataclasses.fields(value):
            _exact_bigint_bounds(getattr(value, spec_field.name))


def _body_types(app: Litestar) -> dict[tuple[str, str], Any]:
    """(OpenAPI path, lower-case method) → the annotation of its handler's ``data``."""
    bodies: dict[tuple[str, str], Any] = {}
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            signature = getattr(handler, "parsed_fn_signature", None)
            data = signature.parameters.get("data") if signature is not None else None
            if data is None:
                continue
            for method in getattr(handler, "http_methods", ()):
                bodies[(route.path_format, str(method).lower())] = data.annotation
    return bodies


def _structs(annotation: Any) -> list[type[msgspec.Struct]]:
    if isinstance(annotation, type) and issubclass(annotation, msgspec.Struct):
        return [annotation]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [t for arg in typing.get_args(annotation) for t in _structs(arg)]
    return []


_SPEC_NAMES = {"$ref": "ref", "not": "schema_not", "if": "schema_if", "else": "schema_else"}
_SCHEMA_FIELDS = {f.name for f in dataclasses.fields(Schema)}


def _to_spec(value: Any) -> Any:
    """A JSON Schema (msgspec's dict) as Litestar's spec objects, so it is served as written."""
    if isinstance(value, list):
        return [_to_spec(item) for item in value]
    if not isinstance(value, dict):
        return value
    if "$ref" in value:
        return Reference(ref=value["$ref"])
    fields: dict[str, Any] = {}
    for key, item in value.items():
        name = _SPEC_NAMES.get(key) or re.sub(r"(?<!^)([A-Z])", r"_\1", key).lower()
        if name not in _SCHEMA_FIELDS:
            raise ValueError(f"no OpenAPI spelling for JSON Schema keyword {key!r}")
        if name in ("properties", "pattern_properties", "dependent_schemas"):
            fields[name] = {k: _to_spec(v) for k, v in item.items()}
        elif name in ("enum", "required", "examples", "default", "const", "dependent_required"):
            fields[name] = item
        else:
            fields[name] = _to_spec(item)
    return Schema(**fields)


def _shaped(schema: dict[str, Any], shapes: Any) -> dict[str, Any]:
    """A Struct with ``openapi_shapes`` (name, required fields, optional fields) takes one of
    several shapes: its schema is oneOf one complete object per shape, every other field null
    (absent or null is how the service reads a field it does not use), so a generated client
    gets one typed model per shape."""
    if not shapes:
        return schema
    properties = schema.pop("properties")
    schema.pop("required", None)
    schema.pop("additionalProperties", None)
    schema.pop("type", None)

    def present(field: dict[str, Any]) -> dict[str, Any]:
        options = [o for o in field.get("anyOf", [field]) if o.get("type") != "null"]
        return options[0] if len(options) == 1 else {"anyOf": options}

    schema["oneOf"] = [
        {
            "title": f"{schema.get('title', '')}{shape.title()}",
            "type": "object",
            "properties": {
                field: present(spec) if field in required else spec if field in optional else {"type": "null"}
                for field, spec in properties.items()
            },
            "required": list(required),
            "additionalProperties": False,
        }
        for shape, required, optional in shapes
    ]
    return schema


def _finish_request_bodies(app: Litestar) -> None:
    """Request Structs' components as msgspec validates them; optional bodies not required."""
    document = app.openapi_schema
    components = document.components.schemas if document.components is not None else None
    bodies = _body_types(app)
    structs = {t for annotation in bodies.values() for t in _structs(annotation)}
    if components is None or not structs:
        return
    _, written = msgspec.json.schema_components(sorted(structs, key=lambda t: t.__name__), ref_template=_REF)
    for name, schema in written.items():
        struct = next((t for t in structs if t.__name__ == name), None)
        bound_dates(schema)
        if name in components:
            components[name] = _to_spec(_shaped(schema, getattr(struct, "openapi_shapes", None)))
    for (path, method), annotation in bodies.items():
        item = (document.paths or {}).get(path)
        operation = getattr(item, method, None)
        optional = typing.get_origin(annotation) in (typing.Union, types.UnionType) and type(None) in (
            typing.get_args(annotation)
        )
        if optional and isinstance(operation, Operation) and isinstance(operation.request_body, RequestBody):
            operation.request_body.required = False


def allow_every_method(app: Litestar) -> None:
    """``Allow`` (the answer to OPTIONS) lists every method of the path, HEAD with GET.

    Litestar makes a path's OPTIONS handler when it first builds the path's route; a later
    controller on the same path rebuilds the route but keeps that handler, whose ``Allow``
    still names the first route's methods only (POST without GET on /v1/admin/partners)."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        methods: set[Method] = set(route.methods)
        if "GET" in methods:
            methods.add("HEAD")  # service/head.py answers HEAD on every GET route
        for handler in route.route_handlers:
            for cell in getattr(handler.fn, "__closure__", None) or ():
                if isinstance(cell.cell_contents, HTTPRoute):
                    cell.cell_contents.methods = methods


def finish_openapi(app: Litestar) -> None:
    """Complete ``app``'s OpenAPI document in place (before it is first served)."""
    document = app.openapi_schema
    opts = _route_opts(app)
    for path, item in (document.paths or {}).items():
        for method in _METHODS:
            operation = getattr(item, method, None)
            if isinstance(operation, Operation):
                opt = opts.get((path, method), {})
                _finish_operation(operation, opt.get("scope"))
                _media_types(operation, opt.get("media_types"))
                _exact_bigint_bounds(operation.parameters)
                finish_parameters(operation)
    _finish_request_bodies(app)
    document_json_feeds(document)
    add_links(document)
    allow_every_method(app)
