"""The floors under GET /v1/signals: the same service call served with nothing of ours around it.

    python -m bench.floor_app --port 8123 --kind litestar|asgi   (DATABASE_URL from the environment)

``bench.queries`` runs one process of each kind beside the API and times
``GET /floor?topic=<slug>`` against the endpoint and the bare loop:

- ``litestar``: a Litestar app with one handler (one query parameter, the page returned as a
  Struct), no middleware, key check, rate limit or page link: what the framework's handler
  path costs on its own;
- ``asgi``: a bare ASGI callable under the same uvicorn (parse the query string, call the
  service, encode with msgspec, two send calls): what HTTP and the service cost with no
  framework at all.

Both call ``service.signals.listing.list_signals`` for ``topic=<slug>&lang=en&limit=20``,
as the endpoint does for the bench's list parameters, on a runtime opened as the API opens
its own. Benchmark tooling only: never part of the service.
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qs

import msgspec
import uvicorn
from litestar import Litestar, Request, get

from schemas.signals import SignalCardPage, SignalPage
from service.runtime import Runtime, open_runtime
from service.settings import load_settings
from service.signals.listing import SignalQuery, list_signals

Message = MutableMapping[str, Any]
_encode = msgspec.json.Encoder().encode
_HEALTH = b'{"status":"ok"}'


def _query(topic: str) -> SignalQuery:
    return SignalQuery(topics=(topic,), lang="en", limit=20)


def litestar_app() -> Litestar:
    settings = load_settings()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with open_runtime(settings, extraction=False, waiter=True) as rt:
            app.state.runtime = rt
            yield

    @get("/floor")
    async def floor(request: Request[Any, Any, Any], topic: str) -> SignalPage | SignalCardPage:
        return await list_signals(
            request.app.state.runtime.db.pool, request.app.state.runtime.topic_cache, _query(topic)
        )

    @get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return Litestar([floor, healthz], lifespan=[lifespan])


def asgi_app() -> Callable[[Message, Any, Any], Awaitable[None]]:
    settings = load_settings()
    runtime: list[Runtime] = []

    async def answer(send: Callable[[Message], Awaitable[None]], body: bytes) -> None:
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def app(scope: Message, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            async with open_runtime(settings, extraction=False, waiter=True) as rt:
                runtime.append(rt)
                await receive()
                await send({"type": "lifespan.startup.complete"})
                await receive()
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["path"] == "/healthz":
            await answer(send, _HEALTH)
            return
        topic = parse_qs(scope["query_string"].decode())["topic"][0]
        await answer(
            send, _encode(await list_signals(runtime[0].db.pool, runtime[0].topic_cache, _query(topic)))
        )

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--kind", choices=["litestar", "asgi"], required=True)
    args = parser.parse_args()
    app = litestar_app() if args.kind == "litestar" else asgi_app()
    # as `signals serve` runs the API: uvloop and httptools where installed, no access log
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
