"""`signals mcp`: the MCP server over stdio, for an agent that starts it as a subprocess.

The process serves one API key (SIGNALS_MCP_KEY or --key): its scopes, topic restriction and
supplier view apply to every request, and the key is checked again on each request (through
the key cache, which revocations invalidate), so revoking it stops a running server's answers
too. Without a key it starts only with SIGNALS_PUBLIC_READ, as a keyless public reader.
stdout carries the protocol alone; logs go to stderr.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from mcp.server.context import ServerRequestContext
from mcp.server.stdio import stdio_server

from service.errors import StartupError
from service.keys.service import authenticate, parse_bearer, require_scope
from service.mcp.caller import Caller
from service.mcp.server import build_server
from service.settings import Settings

log = logging.getLogger(__name__)


async def serve_stdio(settings: Settings, key: str | None, *, worker: bool) -> None:
    """Serve MCP on stdin/stdout until stdin closes. Raises (before serving) for a missing,
    malformed, unknown or revoked key, or a key without signals:read."""
    from service.jobs.worker import run_worker
    from service.runtime import open_runtime

    header = f"Bearer {key}" if key else None
    if header is None:
        if not settings.public_read:
            raise StartupError(
                "signals mcp needs an API key: set SIGNALS_MCP_KEY or pass --key "
                "(or set SIGNALS_PUBLIC_READ=true to serve public reads without one)"
            )
    else:
        parse_bearer(header)  # a malformed key fails before the database starts

    async with open_runtime(settings, extraction=worker, waiter=True) as rt:
        if header is not None:
            require_scope(await authenticate(rt.db.pool, header, rt.key_cache), "signals:read")

        async def caller_of(_ctx: ServerRequestContext[Any, Any]) -> Caller:
            if header is None:
                return Caller(rt, None)
            return Caller(rt, await authenticate(rt.db.pool, header, rt.key_cache))

        server = build_server(caller_of)
        stop = asyncio.Event()
        jobs = asyncio.create_task(run_worker(rt, stop)) if worker else None
        try:
            log.info("serving MCP on stdio%s", " with a queue worker" if worker else "")
            async with stdio_server() as (read_stream, write_stream):
                await server.run(read_stream, write_stream, server.create_initialization_options())
        finally:
            stop.set()
            if jobs is not None:
                with contextlib.suppress(Exception):
                    await jobs
