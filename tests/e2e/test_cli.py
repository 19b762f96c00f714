"""The `signals` command line, run as a subprocess."""

from __future__ import annotations

import json
import re
import signal
from pathlib import Path

import asyncpg
import pytest

from service.db.database import init_connection
from tests.e2e.conftest import clean_env, free_port, run_signals, start_signals, wait_http
from tests.support.articles import article_page
from tests.support.seeding import SeedSignal, seed_signal

PAGES = Path(__file__).resolve().parents[1] / "fixtures" / "pages"
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d [\d:]{8},\d{3} (DEBUG|INFO|WARNING|ERROR) [\w.]+ \[[^\]]+\]: ")

pytestmark = pytest.mark.timeout(240)


def test_serve_starts_on_an_embedded_postgresql_with_nothing_configured(tmp_path: Path):
    port = free_port()
    env = clean_env(SIGNALS_DATA_DIR=str(tmp_path / "data"), SIGNALS_EXTRACT_WORKERS="1")
    proc = start_signals("serve", "-v", "--port", str(port), env=env)
    try:
        assert wait_http(f"http://127.0.0.1:{port}/healthz", 90, proc).json() == {"status": "ok"}
        ready = wait_http(f"http://127.0.0.1:{port}/readyz", 10, proc).json()
        assert ready == {
            "status": "ready",
            "database": "ok",
            "llm": "not_configured",
            "llm_mode": None,
            "llm_context_tokens": None,
        }
        assert (tmp_path / "data" / "pgdata" / "PG_VERSION").exists()
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    # uvicorn shuts down gracefully, then re-raises SIGTERM so the exit status tells the truth.
    assert proc.returncode in (0, -signal.SIGTERM), stderr[-3000:]
    assert "worker stopped" in stderr and "Application shutdown complete" in stderr
    assert "no language model configured" in stderr
    # One format for the CLI's, the service's and uvicorn's lines alike.
    assert all(LOG_LINE.match(line) for line in stderr.splitlines()), stderr[-3000:]


def test_keys_are_created_listed_and_revoked(signals_env):
    created = run_signals(
        "keys", "create", "--name", "cli", "--scopes", "signals:read,signals:write", env=signals_env
    )
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    assert key.startswith("sk_live_") and "not shown again" in created.stderr
    listed = [json.loads(line) for line in run_signals("keys", "list", env=signals_env).stdout.splitlines()]
    mine = [k for k in listed if k["name"] == "cli"]
    assert mine and mine[0]["scopes"] == ["signals:read", "signals:write"]
    assert key not in json.dumps(listed)
    revoked = run_signals("keys", "revoke", mine[0]["prefix"], env=signals_env)
    assert revoked.returncode == 0 and "revoked" in revoked.stderr
    assert run_signals("keys", "revoke", "sk_live_nothing", env=signals_env).returncode == 1
    bad = run_signals("keys", "create", "--name", "x", "--scopes", "root", env=signals_env)
    assert bad.returncode == 1 and "unknown scopes" in bad.stderr


def test_extract_prints_one_ndjson_line_per_input_in_order(tmp_path: Path):
    inputs = []
    for seed in range(6):
        path = tmp_path / f"story-{seed}.html"
        path.write_text(article_page(seed))
        inputs.append(str(path))
    inputs.insert(2, str(PAGES / "short_page.html"))
    inputs.insert(4, str(tmp_path / "missing.html"))
    env = clean_env(SIGNALS_EXTRACT_WORKERS="2")
    result = run_signals("extract", *inputs, env=env)
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["input"] for line in lines] == inputs
    assert lines[2]["error"]["code"] == "extraction_failed" and lines[2]["error"]["reason"] == "too_short"
    assert lines[4]["error"]["reason"] == "unreadable"
    stories = [line for line in lines if "error" not in line]
    assert len(stories) == 6
    for line in stories:
        seed = int(Path(line["input"]).stem.split("-")[1])
        assert (
            f"(story {seed})" in line["title"]
            and line["word_count"] >= 120
            and len(line["content_hash"]) == 64
        )
    assert result.returncode == 1  # some inputs failed


def test_analyze_runs_the_pipeline_once_and_prints_the_signal(signals_env, site, stub):
    url = site.set_page("/cli/story", article_page(30))
    stub.state.reset()
    result = run_signals("analyze", url, env=signals_env)
    assert result.returncode == 0, result.stderr[-3000:]
    signal_json = json.loads(result.stdout)
    assert signal_json["title"].startswith("[stub]") and signal_json["source"]["url"] == url
    assert signal_json["grounding"]["grounded"] == len(signal_json["key_details"]) >= 3
    assert stub.state.stats()["chat_completions"] == 1


def test_analyze_reports_a_typed_failure(signals_env, site):
    url = site.set_page("/cli/short", (PAGES / "short_page.html").read_text())
    result = run_signals("analyze", url, env=signals_env)
    assert result.returncode == 1
    assert json.loads(result.stdout)["error"]["reason"] == "too_short"
    assert "extraction_failed" in result.stderr


def test_bad_configuration_is_a_clear_startup_error(tmp_path: Path):
    result = run_signals("migrate", env=clean_env(SIGNALS_LLM_MODE="telepathy"))
    assert result.returncode == 2 and "SIGNALS_LLM_MODE" in result.stderr
    secret = "s3cret-password"
    result = run_signals(
        "migrate",
        env=clean_env(DATABASE_URL=f"postgresql://signals:{secret}@127.0.0.1:{free_port()}/signals"),
    )
    assert result.returncode == 2 and "cannot use the database" in result.stderr
    assert secret not in result.stderr + result.stdout


async def test_reembed_embeds_with_the_configured_model_and_resumes(signals_env, database_url):
    conn = await asyncpg.connect(database_url)
    try:
        await init_connection(conn)
        await seed_signal(conn, SeedSignal(title="Reembed from the command line"))
        current = await conn.fetchval("SELECT count(*) FROM signals WHERE is_current")
    finally:
        await conn.close()
    env = {**signals_env, "SIGNALS_EMBEDDING_MODEL": "cli-embed", "SIGNALS_EMBEDDING_DIMENSIONS": "32"}
    first = run_signals("reembed", "--no-progress", env=env)
    assert first.returncode == 0, first.stderr[-3000:]
    assert json.loads(first.stdout) == {"model": "cli-embed", "dimensions": 32, "embedded": current}
    second = run_signals("reembed", "--no-progress", env=env)
    assert json.loads(second.stdout)["embedded"] == 0
    unset = run_signals("reembed", env=signals_env)
    assert unset.returncode == 2 and "SIGNALS_EMBEDDING_MODEL" in unset.stderr
