"""Finding processes a test started, however far they moved from it (re-parented to PID 1)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

import psutil


def describe(proc: psutil.Process) -> str:
    """``pid (parent pid): command line`` or what is left of it."""
    try:
        return f"{proc.pid} (parent {proc.ppid()}): {' '.join(proc.cmdline())[:300]}"
    except psutil.Error:
        return f"{proc.pid}: (gone)"


def is_running(proc: psutil.Process) -> bool:
    """Running and not a zombie (a zombie has exited; only its parent's bookkeeping is left)."""
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def wait_until_gone(procs: Iterable[psutil.Process], seconds: float) -> list[psutil.Process]:
    """Wait up to ``seconds`` for ``procs`` to exit; return the ones still running."""
    deadline = time.monotonic() + seconds
    alive = [p for p in procs if is_running(p)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.2)
        alive = [p for p in alive if is_running(p)]
    return alive


def processes_with_env(
    name: str, value: str, *, keep: Callable[[psutil.Process], bool]
) -> list[psutil.Process]:
    """Running processes whose environment has ``name=value`` and for which ``keep`` is true."""
    found: list[psutil.Process] = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get(name) == value and is_running(proc) and keep(proc):
                found.append(proc)
        except psutil.Error:  # exited meanwhile, a zombie, or another user's
            continue
    return found
