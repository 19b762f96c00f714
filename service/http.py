"""HTTP plumbing shared by every route: problem+json rendering, the key check, runtime access."""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
import msgspec
from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.exceptions import HTTPException, ValidationException
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi.datastructures import ResponseSpec

from schemas.problems import PROBLEM_MEDIA_TYPE, FieldError, Problem
from service.errors import (
    BadRequest,
    Contended,
    Forbidden,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    ServiceUnavailable,
    SignalsError,
    Unauthorized,
    UnsupportedMediaType,
)
from service.keys.repository import StoredKey
from service.keys.service import authenticate, require_scope
from service.keys.suppliers import SupplierView, supplier_view
from service.ratelimit import service as ratelimit
from service.request_context import request_id_of
from service.runtime import Runtime

log = logging.getLogger(__name__)

_BY_STATUS: dict[int, type[SignalsError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    405: MethodNotAllowed,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
    429: RateLimited,
    503: ServiceUnavailable,
}


def _as_signals_error(exc: Exception) -> SignalsError:
    if isinstance(exc, SignalsError):
        return exc
    if isinstance(exc, HTTPException):
        cls = _BY_STATUS.get(exc.status_code)
        if isinstance(exc, ValidationException) or (cls is BadRequest):
            errors = [
                FieldError(message=str(e.get("message", "")), key=e.get("key"), source=e.get("source"))
                for e in (exc.extra if isinstance(exc.extra, list) else [])
                if isinstance(e, dict)
            ]
            # out-of-range or mistyped path and query parameters: the reason our own checks give
            by_parameter = bool(errors) and all(e.source in ("query", "path") for e in errors)
            reason = "bad_parameter" if by_parameter else None
            return BadRequest(exc.detail or "invalid request", reason=reason, errors=errors or None)
        if cls is not None:
            return cls(exc.detail if exc.detail and exc.detail != cls.title else None)
        error = SignalsError(exc.detail)
        error.status = exc.status_code  # type: ignore[misc]
        return error
    if isinstance(exc, asyncpg.TransactionRollbackError):
        # A transaction PostgreSQL ended to break a deadlock, outside run_in_transaction's
        # retries: nothing was written, and the client may simply try again.
        log.warning("a transaction was rolled back by PostgreSQL: %s", exc)
        return Contended("the change collided with concurrent changes; try again", retry_after=1)
    log.exception("unhandled error", exc_info=exc)
    return SignalsError("internal error; the request was not completed")


def problem_response(request: Request[Any, Any, Any], exc: Exception) -> Response[Problem]:
    """Render any error as RFC 9457 application/problem+json (with the request's id)."""
    error = _as_signals_error(exc)
    headers = error.headers()
    if isinstance(exc, HTTPException) and exc.headers:
        headers = {**exc.headers, **headers}
    problem = error.to_problem(instance=request.url.path)
    request_id = request_id_of(request.scope)
    if request_id is not None:
        problem = msgspec.structs.replace(problem, request_id=request_id)
    return Response(
        problem,
        status_code=error.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def provide_runtime(state: State) -> Runtime:
    """Dependency: the process's Runtime."""
    runtime: Runtime = state.runtime
    return runtime


async def authorize(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """The key check (run by ``before_request``): a route's ``opt["scope"]`` names the scope
    its key must hold; then the key's token bucket (or, for a keyless public read, the shared
    public one) gives up a token.

    With SIGNALS_PUBLIC_READ a GET needs no key, but one that sends a key is served as that
    key: checked (401 if bad), limited by its own bucket and held to its topic restriction.
    """
    scope = handler.opt.get("scope")
    if scope is None:
        return
    rt: Runtime = connection.app.state.runtime
    header = connection.headers.get("authorization")
    settings = rt.settings
    if (
        settings.public_read
        and header is None
        and scope == "signals:read"
        and connection.scope.get("method") in ("GET", "HEAD")
    ):
        await take_token(connection, None)
        return
    key = await authenticate_connection(rt, connection, header)
    require_scope(key, scope)
    connection.state.api_key = key
    await take_token(connection, key)


async def authenticate_connection(
    rt: Runtime, connection: ASGIConnection[Any, Any, Any, Any], header: str | None
) -> StoredKey:
    """``authenticate`` for a request: the key cache, then the failed-authentication
    throttle of the connection's peer address (never X-Forwarded-For), then the database."""
    client = connection.scope.get("client")
    return await authenticate(
        rt.db.pool,
        header,
        rt.key_cache,
        throttle=rt.auth_throttle,
        client=client[0] if client else None,
    )


async def take_token(connection: ASGIConnection[Any, Any, Any, Any], key: StoredKey | None) -> None:
    """The request's token: from its key's bucket, or (``key`` None: a keyless public read)
    from the shared public one. Reads may take it beside the handler (service.ratelimit)."""
    rt: Runtime = connection.app.state.runtime
    settings = rt.settings
    if not settings.rate_limit:
        return
    limit = ratelimit.key_limit(key, settings) if key is not None else ratelimit.public_limit(settings)
    if limit is None:
        return
    read = connection.scope.get("method") in ("GET", "HEAD")
    bucket = key.id if key is not None else ratelimit.PUBLIC_BUCKET
    state = connection.scope["state"]
    try:
        await ratelimit.enforce(rt.db.pool, state, bucket, limit, rt.rate_levels, read=read)
    except RateLimited:
        if key is not None:
            log.info("rate limited: key %s… (%s/s, burst %d)", key.prefix, limit.rate, limit.burst)
        raise


async def before_request(request: Request[Any, Any, Any]) -> None:
    """The ``before_request`` hook of every route: the key and its rate limit (``authorize``),
    then the body's media type (``require_json_body``). Both run before the parameters are
    parsed, as guards would; a hook rather than a guard because Litestar hands every guard
    its own copy of the route handler, made anew on every request."""
    await authorize(request, request.route_handler)
    await require_json_body(request)


async def require_json_body(request: Request[Any, Any, Any]) -> None:
    """before_request hook: a route that reads a JSON body answers 415 to any other declared
    media type (``application/json`` and ``application/*+json`` pass; a body sent without a
    Content-Type is still parsed as JSON, as curl users expect). Also: Litestar's catch-all
    under /schema answers an unknown path with an HTML page; it gets the API's problem+json
    404 like any other unknown path."""
    if request.route_handler.handler_name == "handle_schema_path_not_found":  # litestar/_openapi
        raise NotFound(f"no such document: {request.url.path}")
    if "data" not in request.route_handler.parsed_fn_signature.parameters:
        return
    content_type = request.headers.get("content-type")
    if content_type is None:
        return
    media = content_type.partition(";")[0].strip().lower()
    if media == "application/json" or (media.startswith("application/") and media.endswith("+json")):
        return
    raise UnsupportedMediaType(f"send the body as application/json, not {media or 'an empty media type'}")


def allowed_topics(connection: ASGIConnection[Any, Any, Any, Any]) -> tuple[int, ...] | None:
    """The topic ids the request's key is restricted to (None: no restriction, or no key)."""
    key = getattr(connection.state, "api_key", None)
    if key is None or key.allowed_topic_ids is None:
        return None
    return tuple(key.allowed_topic_ids)


def suppliers_seen(connection: ASGIConnection[Any, Any, Any, Any]) -> SupplierView:
    """Whose supplied content the request's key sees: its own supplier's (or every one, for an
    admin key); a keyless public read sees fetched content only (service/keys/suppliers.py)."""
    return supplier_view(getattr(connection.state, "api_key", None))


def problem_spec(description: str) -> ResponseSpec:
    """An OpenAPI response entry for a problem+json error."""
    return ResponseSpec(
        data_container=Problem,
        description=description,
        media_type=PROBLEM_MEDIA_TYPE,
        generate_examples=False,
    )


AUTH_ERRORS = {
    401: problem_spec("Missing, malformed, unknown or revoked API key"),
    403: problem_spec("The key lacks the required scope"),
    429: problem_spec(
        "The key's rate limit is reached, or (auth_throttled) the client's address made too many "
        "failed authentications; Retry-After says when to try again"
    ),
}
