"""Listening for `signals serve` and `signals llm-stub`: bind first, announce once ready.

uvicorn binds its port only after the application has started (for `serve`: after the
database is up and migrated), and reports a port in use as a bare ``[Errno 98]`` line
among its own. Binding here, before anything starts, turns a port in use into one clear
error and exit status; the "serving on" line is written once the server really accepts
connections, and names the port the system chose when asked for port 0.
"""

from __future__ import annotations

import errno
import logging
import socket
from collections.abc import Callable

import uvicorn

from service.errors import StartupError

log = logging.getLogger("signals")

BIND_FAILED_EXIT = 3
"""Exit status when the port cannot be bound (uvicorn's own for a failed start-up)."""


class ListenFailed(StartupError):
    """The address or port cannot be listened on."""


def listen(host: str, port: int) -> socket.socket:
    """A bound TCP socket for ``host:port`` (``host`` an address or a name), or ``ListenFailed``."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (OSError, UnicodeError):
        raise ListenFailed(f"cannot listen on {host}:{port}: the host {host!r} is not known") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn: restart without waiting
        sock.bind(address)
    except OSError as exc:
        sock.close()
        hint = {
            errno.EADDRINUSE: "the port is in use by another process; choose another with --port",
            errno.EACCES: "permission denied (ports below 1024 need privileges)",
            errno.EADDRNOTAVAIL: "this machine has no such address",
        }.get(exc.errno or 0, exc.strerror or str(exc))
        raise ListenFailed(f"cannot listen on {host}:{port}: {hint}") from None
    sock.set_inheritable(True)
    return sock


def bound_url(sock: socket.socket, path: str = "") -> str:
    """``http://host:port`` of a bound socket (IPv6 hosts in brackets)."""
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}{path}"


class AnnouncingServer(uvicorn.Server):
    """uvicorn's Server, serving an already bound socket, that calls ``on_ready`` once it
    accepts connections (after the application's start-up)."""

    def __init__(self, config: uvicorn.Config, on_ready: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_ready = on_ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and not self.should_exit:
            self._on_ready()


def serve_on(sock: socket.socket, config: uvicorn.Config, on_ready: Callable[[], None]) -> bool:
    """Run ``config``'s app on ``sock`` until interrupted; True if it started."""
    server = AnnouncingServer(config, on_ready)
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
    return bool(server.started)
