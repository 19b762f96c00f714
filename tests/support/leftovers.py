"""A pytest run leaves no process behind: the check that fails the run when it does.

Every process the run starts (servers, workers, extraction pools and their fork servers,
embedded PostgreSQL, the README's commands) inherits ``SIGNALS_TEST_RUN=<a random id>``
from the pytest process, wherever it ends up in the process tree, re-parented to PID 1
included. When the session finishes, after every fixture has been torn down, a process
that still carries the id is a leak, with one exception: this pytest process's own
multiprocessing helpers (its fork server with any pool workers, and its resource tracker),
which exit together with it. Leaks get a few seconds to finish exiting; then the run
fails, the summary lists them, and they are ended so that they do not pile up.
"""

from __future__ import annotations

import os
import uuid

import psutil
import pytest

from tests.support.processes import describe, processes_with_env, wait_until_gone

RUN_ID = "SIGNALS_TEST_RUN"
GRACE_SECONDS = 10.0
_HELPERS = ("multiprocessing.forkserver", "multiprocessing.resource_tracker")

_run_id: str | None = None
_leftovers: list[str] = []


def _own_helpers() -> set[int]:
    """PIDs of this process's multiprocessing helpers and everything they started."""
    pids: set[int] = set()
    for child in psutil.Process().children():
        try:
            if any(helper in " ".join(child.cmdline()) for helper in _HELPERS):
                pids.add(child.pid)
                pids.update(p.pid for p in child.children(recursive=True))
        except psutil.Error:
            continue
    return pids


def pytest_configure(config: pytest.Config) -> None:
    global _run_id
    _run_id = uuid.uuid4().hex
    os.environ[RUN_ID] = _run_id  # inherited by every process started from here on


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _run_id is None:
        return
    me = os.getpid()
    helpers = _own_helpers()
    found = processes_with_env(RUN_ID, _run_id, keep=lambda p: p.pid != me and p.pid not in helpers)
    still = wait_until_gone(found, GRACE_SECONDS)
    if not still:
        return
    _leftovers.extend(describe(p) for p in still)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
    for proc in still:
        try:
            proc.kill()
        except psutil.Error:
            continue


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _leftovers:
        terminalreporter.section("processes left running", sep="=", red=True, bold=True)
        for line in _leftovers:
            terminalreporter.line(line)
        terminalreporter.line(f"{len(_leftovers)} process(es) outlived the test run; they were killed")
