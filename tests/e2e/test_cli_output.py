"""What the `signals` command prints, and where: data on stdout only, quiet by default, a port
in use reported before anything else, every option explained."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import time
from pathlib import Path

import pytest

from service.cli import build_parser
from service.ingest.extract import content_hash
from service.ingest.quality import count_words
from service.samples import load_sample, sample_page
from tests.e2e.conftest import ROOT, SIGNALS, clean_env, free_port, run_signals, start_signals, wait_http
from tests.e2e.test_cli import LOG_LINE
from tests.support.articles import article_page

pytestmark = pytest.mark.timeout(180)


def test_version_and_help_for_every_option():
    result = run_signals("--version", env=clean_env())
    assert result.returncode == 0 and re.fullmatch(r"signals \d+\.\d+\.\d+\S*\n", result.stdout)
    undocumented = []
    parsers = [build_parser()]
    while parsers:
        parser = parsers.pop()
        for action in parser._actions:
            if action.choices and isinstance(action.choices, dict):  # subcommands
                parsers.extend(action.choices.values())
            elif not action.help:
                undocumented.append(f"{parser.prog} {'/'.join(action.option_strings) or action.dest}")
    assert not undocumented, undocumented
    keys_help = run_signals("keys", "create", "--help", env=clean_env()).stdout
    assert "default: signals:read" in keys_help.replace("\n", " ").replace("  ", " ")


def test_a_fresh_database_sets_itself_up_quietly_unless_asked(tmp_path: Path):
    quiet = run_signals("migrate", env=clean_env(SIGNALS_DATA_DIR=str(tmp_path / "quiet")))
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr == "database is up to date\n"
    chatty = run_signals("-vv", "migrate", env=clean_env(SIGNALS_DATA_DIR=str(tmp_path / "chatty")))
    assert chatty.returncode == 0
    log_lines = [line for line in chatty.stderr.splitlines() if LOG_LINE.match(line)]
    assert any(" pgserver " in line for line in log_lines)  # the embedded database's set-up
    assert any("applied migration 0001_core" in line for line in log_lines)
    info = run_signals("migrate", "-v", env=clean_env(SIGNALS_DATA_DIR=str(tmp_path / "info")))
    assert "applied migration 0001_core" in info.stderr and " pgserver " not in info.stderr


def test_a_port_in_use_is_reported_first_and_alone(tmp_path: Path):
    port = free_port()
    stub = start_signals("llm-stub", "--port", str(port), env=clean_env())
    try:
        wait_http(f"http://127.0.0.1:{port}/v1/models", 30, stub)
        second = run_signals("llm-stub", "--port", str(port), env=clean_env())
        served = run_signals(
            "serve", "--port", str(port), env=clean_env(SIGNALS_DATA_DIR=str(tmp_path / "data"))
        )
    finally:
        stub.terminate()
        _, stub_err = stub.communicate(timeout=30)
    expected = f"signals: cannot listen on 127.0.0.1:{port}: the port is in use by another process"
    for result in (second, served):
        assert result.returncode == 3
        assert result.stderr.startswith(expected), result.stderr
        assert "serving on" not in result.stderr and "LLM stub on" not in result.stderr
    assert not (tmp_path / "data").exists()  # refused before the database was started
    # The stub that did start said so once, in the common format, and logged no request lines.
    lines = stub_err.splitlines()
    assert (
        len(lines) == 1 and LOG_LINE.match(lines[0]) and f"LLM stub on http://127.0.0.1:{port}/v1" in lines[0]
    )


def test_extract_writes_only_ndjson_to_stdout_and_its_progress_to_a_terminal_on_stderr(tmp_path: Path):
    inputs = []
    for seed in range(8):
        path = tmp_path / f"page-{seed}.html"
        path.write_text(article_page(seed))
        inputs.append(str(path))
    text_file = tmp_path / "sample.txt"
    text_file.write_text(load_sample().text)
    bare_text = tmp_path / "sample-without-suffix"
    bare_text.write_text(load_sample().text)
    inputs += [str(text_file), str(bare_text)]

    terminal, terminal_end = pty.openpty()  # stderr is a terminal: the progress bar is drawn
    with (tmp_path / "out.ndjson").open("wb") as out:
        proc = subprocess.Popen(
            [*SIGNALS, "extract", *inputs],
            env=clean_env(SIGNALS_EXTRACT_WORKERS="1", COLUMNS="100", TERM="xterm"),
            cwd=ROOT,
            stdout=out,
            stderr=terminal_end,
        )
        os.close(terminal_end)
        drawn = _read_terminal(terminal, proc)
        assert proc.wait(60) == 0, drawn[-2000:]
    stdout = (tmp_path / "out.ndjson").read_text()
    assert "extracting" in drawn  # the bar went to stderr ...
    assert stdout.endswith("}\n") and "\n\n" not in stdout and "extracting" not in stdout  # ... not here
    lines = [json.loads(line) for line in stdout.splitlines()]
    assert [line["input"] for line in lines] == inputs
    for line in lines[-2:]:  # plain text is taken as the API takes it
        assert "error" not in line, line
        assert line["word_count"] == count_words(load_sample().text)
        assert line["content_hash"] == content_hash(load_sample().text)  # the same article as via the API


def test_sample_prints_a_request_body_and_a_page(tmp_path: Path):
    body = json.loads(run_signals("sample", env=clean_env()).stdout)
    assert set(body) == {"title", "text"} and len(body["text"].split()) > 600
    page = run_signals("sample", "--html", env=clean_env()).stdout
    assert page == sample_page()
    (tmp_path / "page.html").write_text(page)
    extracted = run_signals(
        "extract", str(tmp_path / "page.html"), env=clean_env(SIGNALS_EXTRACT_WORKERS="1")
    )
    assert json.loads(extracted.stdout)["title"] == body["title"]


def _read_terminal(fd: int, proc: subprocess.Popen[bytes]) -> str:
    chunks: list[bytes] = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                data = os.read(fd, 65536)
            except OSError:  # the other end closed
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    os.close(fd)
    return b"".join(chunks).decode(errors="replace")
