"""Nothing outlives what started it: extraction pools whose owner is killed, and the test run."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import psutil
import pytest

from tests.e2e.conftest import ROOT, clean_env
from tests.support.processes import describe, wait_until_gone

pytestmark = pytest.mark.timeout(120)

OWNER = textwrap.dedent(
    """
    import asyncio, sys, time
    from service.ingest.pool import Extractor
    pool = Extractor(2)
    asyncio.run(pool.ready())
    print("ready", flush=True)
    time.sleep(600)
    """
)


def test_a_killed_pool_owner_leaves_no_fork_server_worker_or_resource_tracker():
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER], env=clean_env(), cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert owner.stdout is not None and owner.stdout.readline().strip() == "ready"
        descendants = psutil.Process(owner.pid).children(recursive=True)
        commands = [" ".join(p.cmdline()) for p in descendants]
        # The fork server, its two workers and the resource tracker: what used to survive.
        assert sum("multiprocessing.forkserver" in c for c in commands) == 3, commands
        assert any("multiprocessing.resource_tracker" in c for c in commands), commands
        owner.kill()  # SIGKILL: no atexit, no pool shutdown
        owner.wait(10)
        survivors = wait_until_gone(descendants, 15)
        assert not survivors, [describe(p) for p in survivors]
    finally:
        owner.kill()
        owner.wait(10)


LEAKY_TEST = textwrap.dedent(
    """
    import subprocess

    def test_starts_a_process_and_forgets_it():
        subprocess.Popen(["sleep", "300"], start_new_session=True)
    """
)


def test_a_test_run_that_leaves_a_process_running_fails_and_names_it(tmp_path: Path):
    test_dir = tmp_path / "leaky"
    test_dir.mkdir()
    hooks = "pytest_configure, pytest_sessionfinish, pytest_terminal_summary"
    (test_dir / "conftest.py").write_text(f"from tests.support.leftovers import {hooks}\n")
    (test_dir / "test_leaky.py").write_text(LEAKY_TEST)
    env = clean_env()
    env.pop("SIGNALS_TEST_RUN", None)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", str(test_dir), "-q", "-p", "no:cacheprovider",
         "--rootdir", str(test_dir), f"--basetemp={tmp_path / 'bt'}"],
        env={**env, "PYTHONPATH": str(ROOT)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=90,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    assert "1 passed" in result.stdout
    assert "processes left running" in result.stdout and "sleep 300" in result.stdout
    # The check ended what it found: no `sleep 300` of that run is still there.
    leaked = [
        p
        for p in psutil.process_iter()
        if _cmdline(p) == ["sleep", "300"]
        and _env(p).get("SIGNALS_TEST_RUN") not in (None, os.environ.get("SIGNALS_TEST_RUN"))
    ]
    assert not wait_until_gone(leaked, 5)


def _cmdline(proc: psutil.Process) -> list[str]:
    try:
        return proc.cmdline()
    except psutil.Error:
        return []


def _env(proc: psutil.Process) -> dict[str, str]:
    try:
        return proc.environ()
    except psutil.Error:
        return {}
