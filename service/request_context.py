"""What every HTTP request carries from the first byte to the last: its id, and the response
headers decided while handling it.

- **Request id.** A sane incoming ``X-Request-ID`` (1-128 characters of letters, digits and
  ``._:/+=-``, starting with a letter or digit) is kept, so a caller or a proxy can follow its
  own id through our logs; anything else is replaced by a fresh uuid4 hex, never echoed (it
  could carry log-injection or header-splitting attempts). The id is returned as
  ``X-Request-ID`` on every response (errors, 404s for unknown routes and CORS preflights
  included), is the ``request_id`` member of every problem body, and is on every log record
  written while the request is handled (a context variable read by a log record factory;
  ``%(request_id)s`` in a format prints it, ``-`` outside requests).
- **Headers decided while handling** (the rate limiter's ``RateLimit`` fields) are added to
  whatever answer goes out, including the problem+json of an exception.
- **Gates**: checks that run beside the handler instead of before it (the rate limiter's
  token taking, for reads) are awaited before the answer's first byte goes out. A gate may
  add headers, and may turn the answer into its own problem+json (a 429): the handler's
  answer is then dropped unsent. Every gate is awaited exactly once, even when no answer
  goes out at all.

This is a plain ASGI middleware placed around the whole Litestar application, outside its
router and exception handling, because Litestar's own middleware runs only once a route
matched: a 404 for an unknown path would otherwise go out without an id.
"""

from __future__ import annotations

import contextlib
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from contextvars import ContextVar
from typing import Any

import msgspec

from schemas.problems import PROBLEM_MEDIA_TYPE
from service.errors import SignalsError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

HEADER = "X-Request-ID"
_HEADER_KEY = HEADER.lower().encode("latin-1")
_SANE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/+=-]{0,127}$")
NO_REQUEST = "-"

REQUEST_ID: ContextVar[str] = ContextVar("signals_request_id", default=NO_REQUEST)
"""The id of the request being handled in this task (``-`` outside requests)."""

STATE_ID = "request_id"
STATE_HEADERS = "response_headers"
"""Request-state key of a list of (name, value) pairs every answer to the request carries."""
STATE_GATES = "response_gates"

Gate = Callable[[], Awaitable[SignalsError | None]]
"""Awaited before the answer starts; an error returned replaces the answer."""

# Kept from a replaced answer: a browser must still be allowed to read the problem.
_KEPT_ON_REPLACE = (b"access-control-", b"vary")


class AnswerReplaced(Exception):
    """Raised into a handler still streaming an answer a gate replaced: stop producing it
    (as a server's send raises when the client has gone)."""


def accept_request_id(value: str | None) -> str:
    """The incoming id if it is sane, else a new uuid4 hex."""
    if value is not None and _SANE.match(value):
        return value
    return uuid.uuid4().hex


def request_id_of(scope: Mapping[str, object]) -> str | None:
    """The id the middleware gave this request (None outside it, e.g. in a bare test app)."""
    state = scope.get("state")
    value = state.get(STATE_ID) if isinstance(state, dict) else None
    return value if isinstance(value, str) else None


def add_response_headers(state: MutableMapping[str, Any], headers: list[tuple[str, str]]) -> None:
    """Have every answer to this request carry ``headers`` (``state``: the request's state)."""
    state.setdefault(STATE_HEADERS, []).extend(headers)


def add_response_gate(state: MutableMapping[str, Any], gate: Gate) -> None:
    """Await ``gate`` before this request's answer starts (``state``: the request's state)."""
    state.setdefault(STATE_GATES, []).append(gate)


async def _pass_gates(state: MutableMapping[str, Any]) -> SignalsError | None:
    """Await every gate not yet awaited; the first error any returns."""
    veto: SignalsError | None = None
    gates: list[Gate] = state.get(STATE_GATES) or []
    while gates:
        error = await gates.pop(0)()
        veto = veto or error
    return veto


def _problem_answer(
    scope: Scope, error: SignalsError, request_id: str, replaced: list[tuple[bytes, bytes]]
) -> tuple[list[tuple[bytes, bytes]], bytes]:
    problem = msgspec.structs.replace(error.to_problem(instance=scope.get("path")), request_id=request_id)
    body = msgspec.json.encode(problem)
    headers = [(n, v) for n, v in replaced if bytes(n).lower().startswith(_KEPT_ON_REPLACE)]
    headers += [(b"content-type", PROBLEM_MEDIA_TYPE.encode()), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in error.headers().items()]
    return headers, b"" if scope.get("method") == "HEAD" else body


def _incoming_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == _HEADER_KEY:
            return bytes(value).decode("latin-1")
    return None


class RequestContextMiddleware:
    """Gives each HTTP request its id and adds the request's response headers to its answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = accept_request_id(_incoming_id(scope))
        state = scope.setdefault("state", {})
        state[STATE_ID] = request_id
        extra: list[tuple[str, str]] = state.setdefault(STATE_HEADERS, [])
        replaced = False

        async def send_with_headers(message: Message) -> None:
            nonlocal replaced
            if replaced:
                # the handler's answer after a gate replaced it: dropped, and a stream stopped
                if message.get("more_body"):
                    raise AnswerReplaced
                return
            if message["type"] == "http.response.start":
                veto = await _pass_gates(state)
                headers = [
                    (name, value)
                    for name, value in message.get("headers", ())
                    if bytes(name).lower() != _HEADER_KEY  # ours is the one id of the request
                ]
                body = None
                if veto is not None:
                    replaced = True
                    headers, body = _problem_answer(scope, veto, request_id, headers)
                    message = {"type": "http.response.start", "status": veto.status}
                headers.append((_HEADER_KEY, request_id.encode("latin-1")))
                headers.extend(
                    (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in extra
                )
                message = {**message, "headers": headers}
                if body is not None:
                    await send(message)
                    message = {"type": "http.response.body", "body": body, "more_body": False}
            await send(message)

        token = REQUEST_ID.set(request_id)
        try:
            await self.app(scope, receive, send_with_headers)
        except AnswerReplaced:
            pass  # the replacement went out whole
        finally:
            with contextlib.suppress(Exception):
                await _pass_gates(state)  # no answer went out (client gone, or a crash)
            REQUEST_ID.reset(token)


def install_log_context() -> None:
    """Make every log record carry ``request_id`` (idempotent; keeps any other factory)."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "signals_request_id", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        record.request_id = REQUEST_ID.get()
        return record

    factory.signals_request_id = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
