"""A loopback proxy in front of an OpenAI-compatible server that records every exchange.

``bench.models`` points the service's own Analyzer at it, so what the model was sent and
answered (every attempt, its tokens and time) is seen the same way whatever the code version
under test reports about itself. Requests go to the upstream unchanged, path for path;
``/v1/embeddings`` may go to a second server (a chat model and an embeddings model served
by two processes behind the one OPENAI_BASE_URL the service takes).

As a command it is that router alone (nothing recorded), for running the service on a local
chat model and a local embeddings model:

    .venv/bin/python -m bench.recording_proxy --chat http://127.0.0.1:8090/v1 \
        --embeddings http://127.0.0.1:8091/v1 --port 8089
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn

FORWARDED_HEADERS = ("content-type", "authorization", "accept")


def server_root(base_url: str) -> str:
    """``http://host:port/v1`` → ``http://host:port`` (this module runs against code versions
    older than service.analysis.probe too, so it keeps its own copy)."""
    root = base_url.rstrip("/")
    return root[: -len("/v1")] if root.endswith("/v1") else root


@dataclass(slots=True)
class Exchange:
    path: str
    request: Any
    status: int
    response: Any
    seconds: float


@dataclass(slots=True)
class Recording:
    exchanges: list[Exchange] = field(default_factory=list)

    def chats(self) -> list[Exchange]:
        """The chat completions recorded, oldest first."""
        return [e for e in self.exchanges if e.path.endswith("/chat/completions")]

    def clear(self) -> None:
        self.exchanges.clear()


def _json(data: bytes) -> Any:
    try:
        return json.loads(data) if data else None
    except ValueError:
        return data.decode(errors="replace")


@asynccontextmanager
async def recording_proxy(
    upstream: str,
    *,
    embeddings: str | None = None,
    timeout: float = 1800.0,
    port: int = 0,
    record: bool = True,
) -> AsyncIterator[tuple[str, Recording]]:
    """Serve the proxy on 127.0.0.1 (a free port) in a thread with its own event loop, so a
    caller blocking its loop (a server starting up) never stalls it; yields its ``/v1`` base
    URL and the record."""
    recording = Recording()
    chat_root = server_root(upstream)
    embed_root = server_root(embeddings) if embeddings else chat_root
    clients: list[httpx.AsyncClient] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        if not clients:  # made on the proxy's own loop
            clients.append(httpx.AsyncClient(timeout=timeout))
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        query = scope["query_string"].decode()
        path = scope["path"] + (f"?{query}" if query else "")
        root = embed_root if scope["path"].endswith("/embeddings") else chat_root
        headers = {
            k.decode(): v.decode() for k, v in scope["headers"] if k.decode().lower() in FORWARDED_HEADERS
        }
        started = time.perf_counter()
        kind = "application/json"
        try:
            answer = await clients[0].request(scope["method"], root + path, content=body, headers=headers)
            status, content = answer.status_code, answer.content
            kind = answer.headers.get("content-type", kind)
        except httpx.HTTPError as exc:
            status, content = 502, json.dumps({"error": {"message": str(exc)}}).encode()
        if record:
            recording.exchanges.append(
                Exchange(scope["path"], _json(body), status, _json(content), time.perf_counter() - started)
            )
        headers_out = [(b"content-type", kind.encode()), (b"content-length", str(len(content)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers_out})
        await send({"type": "http.response.body", "body": content})

    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )

    async def run() -> None:
        try:
            await server.serve()
        finally:
            for client in clients:
                await client.aclose()

    thread = threading.Thread(target=asyncio.run, args=(run(),), name="recording-proxy", daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the recording proxy failed to start")
        await asyncio.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/v1", recording
    finally:
        server.should_exit = True
        await asyncio.to_thread(thread.join, 10)


async def _serve_forever(args: argparse.Namespace) -> None:
    async with recording_proxy(args.chat, embeddings=args.embeddings, port=args.port, record=False) as (
        base,
        _,
    ):
        print(f"chat {args.chat}, embeddings {args.embeddings or args.chat}: serving {base}", flush=True)
        await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(
        description="route chat and embeddings calls to two OpenAI-compatible servers"
    )
    parser.add_argument(
        "--chat", required=True, help="base URL of the chat model's server, e.g. http://127.0.0.1:8090/v1"
    )
    parser.add_argument("--embeddings", default=None, help="base URL of the embeddings server")
    parser.add_argument("--port", type=int, default=8089)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve_forever(parser.parse_args()))


if __name__ == "__main__":
    main()
