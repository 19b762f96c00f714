"""The strict tooling from pyproject runs as part of the suite, so CI enforces it."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_finds_nothing():
    folders = [name for name in ("service", "schemas", "tests", "bench") if (ROOT / name).is_dir()]
    result = _run(str(BIN / "ruff"), "check", *folders)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_passes_on_service_and_schemas():
    result = _run(str(BIN / "mypy"))
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
