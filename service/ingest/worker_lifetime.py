"""Extraction workers end with the process that owns their pool, however it ends.

A pool worker's parent is the multiprocessing fork server, not the pool's owner, and a pool
whose owner is killed (SIGKILL, the OOM killer) never sends its workers the sentinel: they
would wait on their call queue for ever and, holding the fork server's and the resource
tracker's pipes, keep both of those alive too, re-parented to PID 1. A worker therefore
watches its owner and exits when the owner is gone; the fork server and the resource tracker
then see their pipes close and exit by themselves.
"""

from __future__ import annotations

import os
import select
import threading
import time


def exit_with_owner(owner_pid: int) -> None:
    """From a pool worker: end this process as soon as ``owner_pid`` has exited."""
    try:
        handle: int | None = os.pidfd_open(owner_pid)  # Linux: readable once the owner exits
    except ProcessLookupError:
        os._exit(0)
    except (AttributeError, OSError):  # no pidfd (not Linux, or an old kernel): poll
        handle = None

    def watch() -> None:
        if handle is not None:
            select.select([handle], [], [])
        else:
            while _process_exists(owner_pid):
                time.sleep(1.0)
        os._exit(0)  # the owner is gone: nobody will read this worker's results

    threading.Thread(target=watch, name="exit-with-owner", daemon=True).start()


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, under another user
        pass
    return True
