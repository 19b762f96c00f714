"""MCP over streamable HTTP at /mcp, a route of the API.

Every request is checked as a JSON read is (service/http.py): the Bearer key through the key
cache, the failed-authentication throttle and the database (so a revoked key stops working as
soon as the JSON API refuses it), the ``signals:read`` scope, then a token from the key's
bucket. Refusals are the API's problem+json (401, 403, 429), raised before the MCP layer sees
the request. The transport is stateless: no session outlives a request, so each request is
served for the key it carries and the mount holds no per-client state between requests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar, asgi
from litestar.connection import ASGIConnection
from litestar.handlers import ASGIRouteHandler
from litestar.types import Receive, Scope, Send
from mcp.server.context import ServerRequestContext
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

from service.errors import Unauthorized
from service.http import authenticate_connection, take_token
from service.keys.service import require_scope
from service.mcp.caller import Caller
from service.mcp.server import build_server
from service.runtime import Runtime
from service.settings import Settings

MCP_PATH = "/mcp"
_CALLER = "signals.mcp.caller"
"""The scope key under which the mount leaves the checked caller for the MCP handlers."""


async def _caller_of_request(ctx: ServerRequestContext[Any, Any]) -> Caller:
    request = ctx.request
    caller = request.scope.get(_CALLER) if request is not None else None
    if not isinstance(caller, Caller):  # only reachable if a request bypassed the mount
        raise Unauthorized("send an API key as 'Authorization: Bearer <key>'", reason="missing")
    return caller


class McpMount:
    """The /mcp route handler and the lifespan of its session manager (one per app)."""

    def __init__(self, settings: Settings) -> None:
        self.manager = StreamableHTTPSessionManager(
            app=build_server(_caller_of_request),
            stateless=True,
            json_response=True,  # one JSON answer per POST: nothing streams from these tools
            max_request_body_size=settings.max_body_bytes,
        )

    @asynccontextmanager
    async def lifespan(self, _app: Litestar) -> AsyncIterator[None]:
        """Runs the session manager's task group for as long as the app runs."""
        async with self.manager.run():
            yield

    def route(self) -> ASGIRouteHandler:
        manager = self.manager

        # One path, not a mount: streamable HTTP has a single endpoint, and an unmounted route
        # keeps the request's path, so refusals name /mcp as their problem's instance.
        @asgi(MCP_PATH, copy_scope=True)
        async def mcp_endpoint(scope: Scope, receive: Receive, send: Send) -> None:
            connection: ASGIConnection[Any, Any, Any, Any] = ASGIConnection(scope, receive, send)
            rt: Runtime = connection.app.state.runtime
            header = connection.headers.get("authorization")
            key = None
            if header is not None or not rt.settings.public_read:
                key = await authenticate_connection(rt, connection, header)
                require_scope(key, "signals:read")
            # With SIGNALS_PUBLIC_READ and no key: a public reader, from the shared public bucket.
            await take_token(connection, key)
            scope[_CALLER] = Caller(rt, key)  # type: ignore[literal-required]
            await manager.handle_request(scope, receive, send)  # type: ignore[arg-type]

        return mcp_endpoint
