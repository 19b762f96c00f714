"""A client generated from the served OpenAPI document works: openapi-python-client (what many
Python users generate with) builds a package from /schema/openapi.json, and that package alone
submits an article, waits for its job, reads the card, lists and asks for related signals
against the real app, its worker and the LLM stub."""

from __future__ import annotations

import importlib
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any
from uuid import UUID

import httpx
import pytest

from service.app import create_app
from service.keys import service as keys
from tests.support.articles import article_page
from tests.support.clients import connected, stub_llm
from tests.support.servers import running_asgi
from tests.support.site import FakeSite

pytestmark = pytest.mark.timeout(300)

PACKAGE = "signals_contract_client"
GENERATOR = Path(sys.executable).parent / "openapi-python-client"
CONFIG = """\
# Feeds in XML are text to a client (the generator has no XML parser to hand them to).
content_type_overrides:
  application/atom+xml: text/plain
  application/rss+xml: text/plain
post_hooks: []
"""


@pytest.fixture(scope="module")
def api(make_settings: Any, stub: SimpleNamespace) -> Iterator[str]:
    settings = make_settings(**stub_llm(stub), llm_http_retries=0, digest_daily_at=None)
    with running_asgi(create_app(settings, worker=True)) as base:
        yield base


@pytest.fixture(scope="module")
async def api_key(database_url: str) -> str:
    async with connected(database_url) as conn:
        created = await keys.create_key(
            conn, name="generated-client", scopes=["signals:read", "signals:write"]
        )
    return created.key


@pytest.fixture(scope="module")
def generated(api: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ModuleType, str]]:
    """The package generated from the served document, imported; and the generator's output."""
    workdir = tmp_path_factory.mktemp("generated-client")
    document = workdir / "openapi.json"
    document.write_bytes(httpx.get(f"{api}/schema/openapi.json", timeout=30).content)
    config = workdir / "config.yaml"
    config.write_text(CONFIG)
    done = subprocess.run(
        [str(GENERATOR), "generate", "--path", str(document), "--config", str(config),
         "--meta", "none", "--output-path", str(workdir / PACKAGE)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    sys.path.insert(0, str(workdir))
    try:
        yield importlib.import_module(PACKAGE), output
    finally:
        sys.path.remove(str(workdir))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def _module(package: ModuleType, name: str) -> Any:
    return importlib.import_module(f"{package.__name__}.{name}")


def test_the_document_generates_a_client_without_warnings(generated: tuple[ModuleType, str]) -> None:
    package, output = generated
    assert "Warning" not in output and "WARNING" not in output, output
    assert hasattr(package, "AuthenticatedClient")


def test_round_trip_through_the_generated_client(
    generated: tuple[ModuleType, str], api: str, api_key: str, site: FakeSite
) -> None:
    package, _ = generated
    signals_api = "api.signals"
    create = _module(package, f"{signals_api}.v1_signals_create_signal")
    get_job = _module(package, f"{signals_api}.v1_jobs_job_id_get_job")
    get_signal = _module(package, f"{signals_api}.v1_signals_signal_id_get_signal")
    list_signals = _module(package, f"{signals_api}.v1_signals_list_signals")
    related = _module(package, f"{signals_api}.v1_signals_signal_id_related_get_related")
    models = _module(package, "models")
    client = package.AuthenticatedClient(base_url=api, token=api_key, timeout=httpx.Timeout(30))

    url = site.set_page("/news/generated-client", article_page(27))
    submitted = create.sync_detailed(client=client, body=models.AnalyzeRequestUrl(url=url))
    assert submitted.status_code == 202, submitted.content
    job = submitted.parsed
    assert isinstance(job, models.Job) and job.status in ("queued", "running", "done"), job

    deadline = time.monotonic() + 60
    while job.status not in ("done", "failed"):
        assert time.monotonic() < deadline, f"job {job.id} still {job.status}"
        time.sleep(0.1)
        job = get_job.sync(client=client, job_id=job.id)
        assert isinstance(job, models.Job), job
    assert job.status == "done", job.error
    assert isinstance(job.signal_id, UUID)

    card = get_signal.sync(client=client, signal_id=job.signal_id)
    assert isinstance(card, models.Signal), card
    assert card.id == job.signal_id and card.source.url == url
    assert card.key_details and all(detail.evidence for detail in card.key_details)

    page = list_signals.sync(client=client, limit=10)
    assert isinstance(page, models.SignalPage), page
    assert job.signal_id in [item.id for item in page.items]

    cards = list_signals.sync(client=client, include=models.V1SignalsListSignalsIncludeType0.CARD)
    assert isinstance(cards, models.SignalCardPage), cards
    assert [item.id for item in cards.items] == [item.id for item in page.items]

    answer = related.sync(client=client, signal_id=job.signal_id)
    assert isinstance(answer, models.RelatedSignals), answer
    assert answer.signal_id == job.signal_id and isinstance(answer.items, list)

    missing = get_signal.sync_detailed(client=client, signal_id=UUID(int=1))
    assert missing.status_code == 404 and isinstance(missing.parsed, models.Problem), missing.content
