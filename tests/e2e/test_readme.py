"""The README's "Trying it" block, run as it is written, as a newcomer would: a fresh home
folder (so a fresh embedded database), no Signals or OpenAI variables, `.venv/bin/signals`
from the clone, real curl, jq, python3 and bash.

Only the three ports are moved to free ones (8000-8002 may be taken on a shared machine). A
`curl` first on PATH records each call's arguments and response headers next to it, then
runs the real curl with the same arguments, so the test can check every answer's status
without changing a word of the commands.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from service.signals.export import CSV_COLUMNS
from tests.e2e.conftest import ROOT, clean_env, free_port
from tests.support.processes import describe, processes_with_env, wait_until_gone

pytestmark = pytest.mark.timeout(300)

README = ROOT / "README.md"
PORTS = ("8000", "8001", "8002")
TOOLS = ("bash", "curl", "jq", "python3")

CURL_RECORDER = """#!/bin/sh
# Records the arguments and the response headers of each call, then is the real curl.
n=$(date +%s%N)
printf '%s\\n' "$@" > "$CURL_LOG/$n.args"
exec {curl} -D "$CURL_LOG/$n.headers" "$@"
"""


def trying_it_block() -> str:
    """Every ```sh block of the README's "Trying it" section, in order."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Trying it\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.S)
    assert blocks, "the Trying it section has no ```sh block"
    return "\n".join(blocks)


@dataclass
class Call:
    args: list[str]
    statuses: list[int]
    headers: dict[str, str]

    @property
    def url(self) -> str:
        return next(a for a in self.args if a.startswith(("localhost:", "http://")))

    @property
    def status(self) -> int:
        return self.statuses[-1]


def recorded_calls(log: Path) -> list[Call]:
    calls = []
    for args_file in sorted(log.glob("*.args")):
        head = args_file.with_suffix(".headers")
        raw = head.read_bytes().decode("latin-1") if head.exists() else ""  # keeps the CRLFs
        statuses = [int(m) for m in re.findall(r"^HTTP/[\d.]+ (\d{3})", raw, flags=re.M)]
        last = raw.split("\r\n\r\n")[-2] if raw.count("\r\n\r\n") >= 1 else ""
        headers = {
            k.strip().lower(): v.strip()
            for k, _, v in (line.partition(":") for line in last.splitlines()[1:])
            if k.strip()
        }
        calls.append(Call(args_file.read_text().splitlines(), statuses or [0], headers))
    return calls


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """A folder that looks like the README's clone: `.venv/bin/signals` runs this checkout."""
    folder = tmp_path / "clone"
    bin_dir = folder / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    wrapper = bin_dir / "signals"
    wrapper.write_text(f'#!/bin/sh\nexec {sys.executable} -m service.cli "$@"\n')
    wrapper.chmod(0o755)
    return folder


def test_the_readme_trying_it_commands_work_as_written(tmp_path: Path, clone: Path):
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"the README's commands need {', '.join(missing)}")
    block = trying_it_block()
    ports = {old: str(free_port()) for old in PORTS}
    for old, new in ports.items():
        assert old in block, f"the README no longer uses port {old}: update this test"
        block = block.replace(old, new)

    log = tmp_path / "curl-log"
    log.mkdir()
    tools = tmp_path / "tools"
    tools.mkdir()
    recorder = tools / "curl"
    recorder.write_text(CURL_RECORDER.format(curl=shutil.which("curl")))
    recorder.chmod(0o755)
    home = tmp_path / "home"
    home.mkdir()
    marker = uuid.uuid4().hex
    env = clean_env(
        HOME=str(home),
        PATH=f"{tools}:{clean_env()['PATH']}",
        CURL_LOG=str(log),
        README_RUN=marker,
        SIGNALS_PORT=ports["8000"],  # the README relies on serve's default port
        SIGNALS_EXTRACT_WORKERS="1",
    )
    for name in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_RUNTIME_DIR"):
        env.pop(name, None)
    script = "set -eo pipefail\n" + block

    proc = subprocess.Popen(
        ["bash", "-c", script],
        cwd=clone,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
        # What the block started in the background must end with it (the README's kill).
        started = processes_with_env("README_RUN", marker, keep=lambda p: True)
        survivors = wait_until_gone(started, 20)
        for p in survivors:
            p.kill()
    output = f"--- stdout\n{stdout[-4000:]}\n--- stderr\n{stderr[-4000:]}"
    assert proc.returncode == 0, output
    assert not survivors, [describe(p) for p in survivors]

    # Quiet by default: the stub's and the server's one line each, and the key's note; no
    # database set-up, migration or server chatter buries them.
    lines = stderr.splitlines()
    assert len(lines) == 3, output
    assert sum(" INFO signals [-]: LLM stub on http://127.0.0.1:" in line for line in lines) == 1
    assert sum(" INFO signals [-]: serving on http://127.0.0.1:" in line for line in lines) == 1
    assert lines[-1].startswith("created key sk_live_") and lines[-1].endswith("it is not shown again.")

    # The embedded database was created in the fresh home folder, nowhere else.
    assert list(home.glob(".local/share/signals/pgdata/PG_VERSION")), output

    calls = [c for c in recorded_calls(log) if "/readyz" not in c.url]
    by_path = {re.sub(r"^(?:http://)?(?:localhost|127\.0\.0\.1):\d+", "", c.url): c for c in calls}
    posts = [c for c in calls if "POST" in c.args and "/v1/signals" in c.url]
    waited = next(c for c in posts if any("Prefer: wait" in a for a in c.args))
    queued = next(c for c in posts if c is not waited)
    assert waited.status == 201, output
    assert queued.status == 202, output
    # The URL job was fetched from the page server, extracted and analysed.
    assert re.search(r'"status": "done",\s*"signal_id": "[0-9a-f-]{36}"', stdout), output

    card = json.loads((clone / "signal.json").read_text())
    assert card["title"].startswith("[stub]")
    assert card["grounding"]["grounded"] >= 3
    assert {t["slug"] for t in card["topics"]} >= {"leak-detection", "water-network", "acoustic-sensors"}
    assert f'"id":"{card["id"]}"' in stdout.replace(" ", "")  # the card was also printed

    reads = {path: c for path, c in by_path.items() if path.startswith("/v1/") and "POST" not in c.args}
    expected = {
        f"/v1/signals/{card['id']}",
        f"/v1/articles/{card['article_id']}",
        f"/v1/signals/{card['id']}/related",
        "/v1/topics?window=7d&sort=trending",
        "/v1/signals?topic=leak-detection&q=acoustic%20sensors&sort=relevance",
        "/v1/signals/export?format=csv&topic=leak-detection",
    }
    assert expected <= set(reads), sorted(reads)
    assert any(path.startswith("/v1/jobs/") for path in reads)
    for path, call in reads.items():
        assert call.status == 200, (path, call.statuses, output)

    export = reads["/v1/signals/export?format=csv&topic=leak-detection"]
    assert export.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO((clone / "signals.csv").read_text(encoding="utf-8"), newline="")))
    assert tuple(rows[0]) == tuple(CSV_COLUMNS) and len(rows) >= 2
    assert card["id"] in {row[0] for row in rows[1:]}


def test_the_readme_shows_no_placeholder_the_reader_would_have_to_fill_in():
    block = trying_it_block()
    for placeholder in ("…", "example.com", "$JOB_ID", "$SIGNAL", "$ARTICLE"):
        if placeholder.startswith("$"):
            name = placeholder[1:]
            assert re.search(rf"(?:^|\s){name}=", block, flags=re.M), f"{name} is never set"
        else:
            assert placeholder not in block, placeholder
