"""Real HTTP servers on loopback sockets for tests: fake article sites, the LLM stub, the API."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn


@contextmanager
def running_asgi(app: Any, host: str = "127.0.0.1", *, lifespan: str = "on") -> Iterator[str]:
    """Serve an ASGI app with uvicorn in a background thread; yield its base URL.

    The server has its own event loop, so a test's loop blocking never stalls it.
    """
    config = uvicorn.Config(app, host=host, port=0, log_level="warning", lifespan=lifespan)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"asgi-{host}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("test server failed to start")
        if time.monotonic() > deadline:
            raise TimeoutError("test server did not start in 30 s")
        time.sleep(0.01)
    sock = server.servers[0].sockets[0]
    port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    try:
        yield f"http://{shown}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
