"""The stub's errors, answered in OpenAI's error shape ({"error": {"message", "type", "param",
"code"}}) so that the real openai client raises the exception it would raise against OpenAI."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, TypeVar

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException

log = logging.getLogger("service.llmstub")

T = TypeVar("T")

_ERROR_KINDS = {
    400: ("invalid_request_error", None),
    401: ("authentication_error", "invalid_api_key"),
    403: ("permission_error", None),
    404: ("invalid_request_error", "not_found"),
    405: ("invalid_request_error", "method_not_allowed"),
    429: ("requests", "rate_limit_exceeded"),
    503: ("server_error", "service_unavailable"),
}


class StubError(Exception):
    """An error the stub answers in OpenAI's error shape."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type, default_code = _ERROR_KINDS.get(
            status, ("server_error" if status >= 500 else "invalid_request_error", None)
        )
        self.code = code or default_code
        self.headers = dict(headers or {})


def decode_body(body: bytes, kind: type[T]) -> T:
    """The request body as ``kind``; a 400 in OpenAI's shape when it does not decode."""
    try:
        return msgspec.json.decode(body, type=kind)
    except msgspec.DecodeError as exc:
        raise StubError(400, f"invalid request body: {exc}") from exc


def _error_response(exc: StubError) -> Response[Any]:
    body = {"error": {"message": exc.message, "type": exc.error_type, "param": None, "code": exc.code}}
    return Response(content=body, status_code=exc.status, headers=exc.headers)


def on_stub_error(_request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Litestar's handler for a StubError."""
    assert isinstance(exc, StubError)
    return _error_response(exc)


def on_http_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Litestar's own errors (an unknown path, a wrong method) in OpenAI's shape."""
    assert isinstance(exc, HTTPException)
    message = str(exc.detail)
    log.info("%s %s status=%d", request.method, request.url.path, exc.status_code)
    if exc.status_code == 404:
        message = f"Unknown request URL: {request.method} {request.url.path}."
    return _error_response(StubError(exc.status_code, message, headers=exc.headers))


def on_unexpected_error(_request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Any other exception: logged with its traceback, answered as a 500 naming only its type."""
    log.exception("llm stub failed", exc_info=exc)
    return _error_response(StubError(500, f"the stub failed: {type(exc).__name__}"))
