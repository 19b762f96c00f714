"""Running the `signals` command as a user does: real processes, real sockets."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

SIGNALS = [sys.executable, "-m", "service.cli"]
ROOT = Path(__file__).resolve().parents[2]

_INHERITED_PREFIXES = ("SIGNALS_", "OPENAI_", "DATABASE_URL")


def clean_env(**values: str) -> dict[str, str]:
    """The parent's environment without any Signals/OpenAI settings, plus ``values``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_INHERITED_PREFIXES)}
    env["PYTHONPATH"] = str(ROOT)
    env.update(values)
    return env


def run_signals(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SIGNALS, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


def start_signals(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*SIGNALS, *args], env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, seconds: float = 60, proc: subprocess.Popen[str] | None = None) -> httpx.Response:
    deadline = time.monotonic() + seconds
    while True:
        try:
            return httpx.get(url, timeout=2)
        except httpx.TransportError:
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"process exited: {proc.communicate()[1][-3000:]}") from None
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.fixture(scope="module")
def signals_env(database_url: str, stub: SimpleNamespace) -> dict[str, str]:
    """Environment for `signals` processes on the module's database and the stub LLM."""
    return clean_env(
        DATABASE_URL=database_url,
        OPENAI_BASE_URL=f"{stub.base}/v1",
        OPENAI_API_KEY="test-key",
        SIGNALS_LLM_MODEL="signals-stub",
        SIGNALS_FETCH_ALLOWED_NETWORKS="127.0.0.1/32",
        SIGNALS_EXTRACT_WORKERS="1",
        SIGNALS_LOG_LEVEL="INFO",
    )
