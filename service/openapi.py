"""Finishing the generated OpenAPI document so that it says what the API really does.

Litestar generates the document from the route handlers; three things it cannot know are
filled in here, once, when the app is built (every route, including ones added later by
other features, gets them without repeating itself):

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
"""

from __future__ import annotations

import dataclasses

from litestar import Litestar
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIResponse, Operation, Reference, Schema

from schemas.problems import PROBLEM_MEDIA_TYPE
from service.hostile_input import BIGINT_MAX, BIGINT_MIN

BEARER = "bearer"
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


def _route_scopes(app: Litestar) -> dict[tuple[str, str], str | None]:
    """(OpenAPI path, lower-case method) → the scope its handler needs (None: public)."""
    scopes: dict[tuple[str, str], str | None] = {}
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            for method in getattr(handler, "http_methods", ()):
                scopes[(route.path_format, str(method).lower())] = handler.opt.get("scope")
    return scopes


def _finish_operation(operation: Operation, scope: str | None) -> None:
    responses = operation.responses if operation.responses is not None else {}
    for status, response in list(responses.items()):
        if not status.startswith("4") or not isinstance(response, OpenAPIResponse):
            continue
        if response.content is None or PROBLEM_MEDIA_TYPE not in response.content:
            responses[status] = _problem(_GENERIC.get(status, response.description))
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


def finish_openapi(app: Litestar) -> None:
    """Complete ``app``'s OpenAPI document in place (before it is first served)."""
    document = app.openapi_schema
    scopes = _route_scopes(app)
    for path, item in (document.paths or {}).items():
        for method in _METHODS:
            operation = getattr(item, method, None)
            if isinstance(operation, Operation):
                _finish_operation(operation, scopes.get((path, method)))
                _exact_bigint_bounds(operation.parameters)
