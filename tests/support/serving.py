"""The API served on loopback exactly as `signals serve` serves it (service.server's uvicorn
configuration: request deadlines, the socket peer as client address), in a background thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from service.app import create_app
from service.server import server_config
from service.settings import Settings


@contextmanager
def serving(settings: Settings, host: str = "127.0.0.1") -> Iterator[str]:
    """`signals serve --no-worker` with ``settings`` on a free loopback port; yield its base URL."""
    config = server_config(create_app(settings, worker=False), settings, host=host, port=0)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="signals-serve", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the server failed to start")
        if time.monotonic() > deadline:
            raise TimeoutError("the server did not start in 30 s")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
