"""The outside world for bench/pipeline.py, in a process of its own: an article site and an
OpenAI-compatible model that answers every chat call after a fixed latency.

.venv/bin/python -m bench.pipeline_fakes --site-port P --model-port Q [--latency 1.0]

The site serves ``/<run>/<seed>``: the story ``tests.support.articles.article_text(seed)`` in
the heavier chrome of the labelled gate pages (inline scripts, mega menu, icon sprite: about
125 KB, as real news pages weigh). The model is the project's stub (``signals llm-stub``)
behind a door that waits ``latency`` seconds before each chat completion; embeddings answer
at once. ``POST /bench/latency?seconds=S`` on the model port changes the latency.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import uvicorn

from service.llmstub.server import create_stub_app
from tests.fixtures.gate.shapes import article
from tests.support.articles import article_text

PAGE_WEIGHT = 3


class Site:
    def __init__(self) -> None:
        self.cache: dict[str, bytes] = {}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        path = scope["path"]
        body = self.cache.get(path)
        if body is None:
            try:
                seed = int(path.rsplit("/", 1)[-1])
            except ValueError:
                seed = -1
            if seed < 0:
                await _answer(send, 404, b"<h1>not found</h1>")
                return
            title, paragraphs = article_text(seed)
            body = article("en", title, paragraphs, path=path, weight=PAGE_WEIGHT).encode()
            self.cache[path] = body
        await _answer(send, 200, body)


async def _answer(send: Any, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"text/html; charset=utf-8")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class SlowModel:
    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.app = create_stub_app()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/bench/latency":
            query = dict(p.split("=", 1) for p in scope["query_string"].decode().split("&") if "=" in p)
            self.latency = float(query.get("seconds", self.latency))
            await _answer(send, 200, str(self.latency).encode())
            return
        if scope["type"] == "http" and scope["path"].endswith("/chat/completions"):
            await asyncio.sleep(self.latency)
        await self.app(scope, receive, send)


async def serve(site_port: int, model_port: int, latency: float) -> None:
    servers = [
        # nginx's keep-alive (75 s), as news sites keep connections: a connection the site
        # closes just as the fetcher reuses it costs a retried GET
        # (tests/integration/test_fetch_keepalive.py), which is not what this bench measures.
        uvicorn.Server(
            uvicorn.Config(
                Site(), host="127.0.0.1", port=site_port, log_level="warning", timeout_keep_alive=75
            )
        ),
        uvicorn.Server(
            uvicorn.Config(SlowModel(latency), host="127.0.0.1", port=model_port, log_level="warning")
        ),
    ]
    await asyncio.gather(*(s.serve() for s in servers))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--site-port", type=int, required=True)
    parser.add_argument("--model-port", type=int, required=True)
    parser.add_argument("--latency", type=float, default=1.0)
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(serve(args.site_port, args.model_port, args.latency))


if __name__ == "__main__":
    main()
