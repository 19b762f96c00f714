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


def test_ci_runs_exactly_the_readme_test_command():
    """CI must run what the README tells a newcomer to run, so the README never lies."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("**Install and run the whole test suite:**", 1)[1]
    command = section.split("```sh\n", 1)[1].split("\n```", 1)[0].strip()
    ci = [
        line.strip()
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip() and not line.startswith(("#", "set ", "cd "))
    ]
    assert ci == [command]
