"""The server without the development LLM: wheels (and so the Docker image, which installs
one) leave `service/llmstub` out. Each test runs the wheel's own files, unpacked into a
folder placed first on PYTHONPATH, in a subprocess started outside the source tree, so that
`service.llmstub` cannot be imported from anywhere (the editable install's path to the source
tree comes after PYTHONPATH, and the `service` package found first is the wheel's)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import zipfile
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from service.samples import sample_request
from tests.e2e.conftest import clean_env, free_port, wait_http

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.timeout(300)

# Every module of the packages the wheel ships, imported one by one; prints what failed, where
# `service` was found, and whether `service.llmstub` can be found at all.
_IMPORT_ALL = """
import importlib, importlib.util, json, pkgutil, sys
import schemas, service
failed, imported = {}, []
for package in (service, schemas):
    for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        try:
            importlib.import_module(module.name)
            imported.append(module.name)
        except Exception as exc:
            failed[module.name] = repr(exc)
print(json.dumps({
    "service": service.__file__,
    "imported": imported,
    "failed": failed,
    "stub_found": importlib.util.find_spec("service.llmstub") is not None,
    "stub_loaded": any(name.startswith("service.llmstub") for name in sys.modules),
}))
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel `pip wheel .` builds, as the Dockerfile's build stage runs it."""
    folder = tmp_path_factory.mktemp("wheel")
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(folder), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    (found,) = folder.glob("signals-*.whl")
    return found


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel's files unpacked, as pip would place them in site-packages."""
    site = tmp_path_factory.mktemp("site")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    return site


def from_wheel(site: Path, **values: str) -> dict[str, str]:
    """An environment whose `service` and `schemas` are the wheel's, not the source tree's."""
    return clean_env(PYTHONPATH=str(site), **values)


def signals_from_wheel(
    site: Path, *args: str, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "service.cli", *args],
        env=env,
        cwd=site.parent,  # not the source tree: python -m puts the working folder first on sys.path
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_the_wheel_leaves_the_stub_out_and_keeps_every_other_module(wheel: Path):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert not [name for name in names if name.startswith("service/llmstub")]
    sources = {
        path.relative_to(ROOT).as_posix()
        for package in ("service", "schemas")
        for path in (ROOT / package).rglob("*.py")
        if "llmstub" not in path.parts and "__pycache__" not in path.parts
    }
    assert sources and sources <= names, sorted(sources - names)


def test_every_module_imports_without_the_stub(installed: Path):
    result = subprocess.run(
        [sys.executable, "-c", _IMPORT_ALL],
        env=from_wheel(installed),
        cwd=installed.parent,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert Path(report["service"]).is_relative_to(installed)  # the wheel's copy, not the source tree
    assert report["failed"] == {}
    assert "service.app" in report["imported"] and "service.cli" in report["imported"]
    assert len(report["imported"]) > 100
    assert report["stub_found"] is False and report["stub_loaded"] is False


def test_the_command_works_and_llm_stub_says_where_to_get_it(installed: Path):
    env = from_wheel(installed)
    helped = signals_from_wheel(installed, "--help", env=env)
    assert helped.returncode == 0, helped.stderr
    assert "serve" in helped.stdout and "llm-stub" in helped.stdout
    try:
        refused = signals_from_wheel(installed, "llm-stub", "--port", str(free_port()), env=env, timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail("`signals llm-stub` started a stub from the wheel")
    assert refused.returncode == 2
    assert refused.stdout == ""
    lines = refused.stderr.splitlines()
    assert len(lines) == 1, refused.stderr  # one clear line, no traceback
    assert lines[0].startswith("signals: the LLM stub is a development tool, not installed here")
    assert "`pip install -e .`" in lines[0]


def test_the_server_analyses_an_article_without_the_stub(
    installed: Path, database_url: str, stub: SimpleNamespace
):
    # The stub runs here, in the test process, as any model server outside the image would.
    env = from_wheel(
        installed,
        DATABASE_URL=database_url,
        OPENAI_BASE_URL=f"{stub.base}/v1",
        OPENAI_API_KEY="test-key",
        SIGNALS_LLM_MODEL="signals-stub",
        SIGNALS_EXTRACT_WORKERS="1",
    )
    created = signals_from_wheel(
        installed, "keys", "create", "--name", "nostub", "--scopes", "signals:read,signals:write", env=env
    )
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "serve", "--port", str(port)],
        env=env,
        cwd=installed.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        api = f"http://127.0.0.1:{port}"
        wait_http(f"{api}/healthz", 90, proc)
        stub.state.reset()
        posted = httpx.post(
            f"{api}/v1/signals",
            json=sample_request(),
            headers={"Authorization": f"Bearer {key}", "Prefer": "wait=60"},
            timeout=90,
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    assert posted.status_code == 201, posted.text
    body = posted.json()
    assert body["title"].startswith("[stub]") and body["grounding"]["grounded"] >= 3
    assert stub.state.stats()["chat_completions"] == 1
    assert "llmstub" not in stderr, stderr[-3000:]
