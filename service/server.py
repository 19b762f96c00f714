"""How `signals serve` runs uvicorn: deadlines for slow clients, and the socket peer as the
client address.

uvicorn (0.3x-0.5x) bounds how long a kept-alive connection may sit idle between requests
(``timeout_keep_alive``) and nothing else: a client may open a connection and send a request's
headers or body one byte at a time, for ever, holding a connection, a parser and (once the
headers are in) an application task. A few hundred such clients ("slowloris") would exhaust
file descriptors and memory while sending almost nothing. h11's
``h11_max_incomplete_event_size`` caps only header size, and only with the h11 parser;
``limit_concurrency`` answers 503 to everyone once slow clients fill it.

So the HTTP protocol here is uvicorn's httptools protocol with two deadlines:

- **headers**: ``SIGNALS_REQUEST_HEADER_TIMEOUT`` seconds from the connection's opening (or,
  on a kept-alive connection, from the first byte after the previous request) until the
  request's headers are complete; also at most ``MAX_HEADER_BYTES`` of them (431);
- **body**: ``SIGNALS_REQUEST_BODY_TIMEOUT`` seconds from the end of the headers until the
  body is complete, whether or not the application reads it.

A connection past a deadline gets a ``408`` problem (when no answer to the request has begun)
and is closed; the application, if it was waiting for the body, reads a disconnect and
whatever it answers is dropped. Deadlines live in the protocol, not in an ASGI middleware,
because a request's headers arrive before any application code runs, and a body may be
trickled to a route that never reads it.

``proxy_headers`` is off: ``scope["client"]`` is the socket's peer, never what an
``X-Forwarded-For`` header claims (the failed-authentication throttle counts by it).
"""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import uvicorn
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from schemas.problems import PROBLEM_MEDIA_TYPE
from service.errors import HeadersTooLarge, RequestTimeout, SignalsError
from service.request_context import HEADER as REQUEST_ID_HEADER
from service.request_context import accept_request_id
from service.settings import Settings

MAX_HEADER_BYTES = 64 * 1024
"""Request line and headers of one request; more is refused with 431."""


class ServerConfig(uvicorn.Config):
    """uvicorn's Config with the request deadlines and the protocol that enforces them."""

    def __init__(self, app: Any, *, header_timeout: float, body_timeout: float, **kwargs: Any) -> None:
        super().__init__(app, http=DeadlineProtocol, proxy_headers=False, **kwargs)
        self.header_timeout = header_timeout
        self.body_timeout = body_timeout


def server_config(app: Any, settings: Settings, *, host: str, port: int) -> ServerConfig:
    """The uvicorn configuration `signals serve` runs ``app`` with."""
    return ServerConfig(
        app,
        host=host,
        port=port,
        header_timeout=settings.request_header_timeout_seconds,
        body_timeout=settings.request_body_timeout_seconds,
        log_level=settings.log_level.lower(),
        log_config=None,  # the process's logging (service/log_setup.py): one format for every line
        access_log=False,
    )


def _headers_too_large() -> HeadersTooLarge:
    return HeadersTooLarge(f"send at most {MAX_HEADER_BYTES} bytes of request line and headers")


def _raw_problem(error: SignalsError) -> bytes:
    """A whole HTTP/1.1 problem+json answer for a request no application saw."""
    request_id = accept_request_id(None)
    body = msgspec.json.encode(msgspec.structs.replace(error.to_problem(), request_id=request_id))
    headers = {
        "content-type": PROBLEM_MEDIA_TYPE,
        "content-length": str(len(body)),
        REQUEST_ID_HEADER.lower(): request_id,
        **{name.lower(): value for name, value in error.headers().items()},
    }
    lines = b"".join(f"{name}: {value}\r\n".encode("latin-1") for name, value in headers.items())
    return STATUS_LINE[error.status] + lines + b"\r\n" + body


class DeadlineProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a header deadline, a header size cap and a body
    deadline (see the module docstring)."""

    def __init__(self, config: uvicorn.Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self._header_timeout = float(getattr(config, "header_timeout", 10.0))
        self._body_timeout = float(getattr(config, "body_timeout", 30.0))
        self._deadline: asyncio.TimerHandle | None = None
        self._reading_headers = True
        self._header_bytes = 0
        """Bytes received since the current request began, while its headers are incomplete."""
        self._parsed_bytes = 0
        """Request line and headers the parser has delivered for the current request."""
        self._too_large = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self._header_timeout)  # a client that connects and says nothing

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._reading_headers:
            self._header_bytes += len(data)
            if self._deadline is None:  # the first byte of the next request on this connection
                self._arm(self._header_timeout)
        super().data_received(data)
        # Checked after parsing (a chunk that completes the headers may carry body bytes too):
        # headers still incomplete after this many bytes are too large whatever comes next.
        if self._reading_headers and self._header_bytes > MAX_HEADER_BYTES:
            self._too_large = True
            self._refuse(_headers_too_large())

    def send_400_response(self, msg: str) -> None:
        if self._too_large:  # the parser stopped because a callback below said so
            self._refuse(_headers_too_large())
            return
        super().send_400_response(msg)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._parsed_bytes = 0
        if self._deadline is None:  # a request that began in the chunk that ended the last one
            self._arm(self._header_timeout)

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def _count(self, size: int) -> None:
        self._parsed_bytes += size
        if self._parsed_bytes > MAX_HEADER_BYTES:
            # Raising from a parser callback stops the parser before the request reaches the
            # application; uvicorn then calls send_400_response, which answers 431 instead.
            self._too_large = True
            raise ValueError("request headers too large")

    def on_headers_complete(self) -> None:
        self._disarm()
        self._reading_headers = False
        super().on_headers_complete()
        self._arm(self._body_timeout)

    def on_message_complete(self) -> None:
        self._disarm()
        # Whatever comes next on this connection is the next request's headers.
        self._reading_headers = True
        self._header_bytes = 0
        super().on_message_complete()

    # --- deadlines ---

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expire)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        self._deadline = None
        what = "headers" if self._reading_headers else "body"
        self._refuse(RequestTimeout(f"the request's {what} did not arrive in time; the connection is closed"))

    def _refuse(self, error: SignalsError) -> None:
        """Answer ``error`` if no answer has begun on this connection, then close it."""
        self._disarm()
        if self.transport is None or self.transport.is_closing():
            return
        cycle = self.cycle
        if cycle is None or cycle.response_complete or not cycle.response_started:
            if cycle is not None and not cycle.response_complete:
                # The application may be waiting for the body: it now reads a disconnect, and
                # anything it sends is dropped (set now, before it can run and write).
                cycle.disconnected = True
                cycle.message_event.set()
            self.transport.write(_raw_problem(error))
        self.transport.close()
