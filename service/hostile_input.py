"""Input no handler should ever see, refused where it enters, as 400 problems.

- **NUL characters** in the path or the query string: PostgreSQL text cannot hold them (an
  insert or a comparison fails deep in a query), and no legitimate slug, name or filter has
  one. ``RefuseNul`` answers before routing, for every route at once. NUL inside a JSON
  body's strings is refused by the request Structs (schemas/base.py).
- **JSON nested deeper than the decoder can recurse**: msgspec gives up with a
  ``RecursionError``, which ``CheckedRequest.json`` turns into a 400.
- **Integers past PostgreSQL's bigint** in paths and query parameters: ``BigInt`` bounds a
  parameter to the signed 64-bit range (and says so in the OpenAPI document); cursors check
  their numbers themselves (service/pagination.py).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import parse_qsl

import msgspec
from litestar import Request
from litestar.params import Parameter

from schemas.base import json_encoder
from schemas.problems import PROBLEM_MEDIA_TYPE, FieldError
from service.errors import BadRequest
from service.request_context import ASGIApp, Receive, Scope, Send, request_id_of

BIGINT_MIN = -(2**63)
BIGINT_MAX = 2**63 - 1
BigInt = Annotated[
    int,
    # msgspec's bound is the check; Litestar's is what the OpenAPI document shows (Litestar
    # reads only its own for items of a list, msgspec only its own when validating them)
    msgspec.Meta(ge=BIGINT_MIN, le=BIGINT_MAX),
    Parameter(ge=BIGINT_MIN, le=BIGINT_MAX),
]
"""An integer parameter that reaches a PostgreSQL bigint (an id): larger ones are a 400."""

_NUL_DETAIL = "{where} contains a NUL character (\\u0000), which no parameter may hold"


def nul_error(where: str, key: str | None, source: str) -> BadRequest:
    """The 400 for a NUL character in ``where`` (``key``: the parameter, if one is known)."""
    message = _NUL_DETAIL.format(where=where)
    return BadRequest(
        message, reason="bad_parameter", errors=[FieldError(message=message, key=key, source=source)]
    )


def find_nul(scope: Scope) -> BadRequest | None:
    """The 400 for a NUL character in the request's path or query string, or None."""
    if "\x00" in scope.get("path", ""):
        return nul_error("the path", None, "path")
    raw = bytes(scope.get("query_string", b""))
    # "%" always starts an escape in a query string, so a NUL is sent as %00 (a raw NUL byte
    # never gets past the HTTP parser); the common case costs one search
    if b"%00" not in raw.lower():
        return None
    for name, value in parse_qsl(raw.decode("latin-1"), keep_blank_values=True):
        if "\x00" in name:
            return nul_error("a query parameter's name", None, "query")
        if "\x00" in value:
            return nul_error(f"the query parameter {name}", name, "query")
    return nul_error("the query string", None, "query")


class RefuseNul:
    """ASGI middleware: a request with a NUL character in its path or query string gets a 400
    problem before any route sees it (placed inside RequestContextMiddleware, for the id)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        error = find_nul(scope) if scope["type"] == "http" else None
        if error is None:
            await self.app(scope, receive, send)
            return
        problem = msgspec.structs.replace(
            error.to_problem(instance=scope.get("path", "").replace("\x00", "")),
            request_id=request_id_of(scope),
        )
        body = json_encoder.encode(problem)
        headers = [
            (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
            (b"content-length", str(len(body)).encode()),
        ]
        await send({"type": "http.response.start", "status": error.status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if scope.get("method") == "HEAD" else body})


class CheckedRequest(Request[Any, Any, Any]):
    """Litestar's request, whose JSON body nested too deep for the decoder is a 400."""

    async def json(self) -> Any:
        try:
            return await super().json()
        except RecursionError:
            raise BadRequest("the JSON body is nested too deeply to be read", reason="too_deep") from None
