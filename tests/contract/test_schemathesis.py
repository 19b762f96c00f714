"""The OpenAPI document is a contract: schemathesis, reading nothing but the document, finds no
answer the document does not describe.

The real app (with its worker) runs on loopback against the module's PostgreSQL, seeded with
something behind every kind of id (tests/support/contract_world.py). Every check is on, the
generated cases are bounded and the seed fixed, so a run is repeatable and takes minutes:

- the examples, coverage and fuzzing phases try every operation with positive and negative
  cases, with the admin key; the ``ignored_auth`` check also sends them with no key and a
  made-up one, which must get the documented 401 problems;
- the stateful phase chains calls along the document's links (POST /v1/signals → job →
  signal → related, article, story; partner → keys; webhook → deliveries).

Judgements stated here rather than in the document (each is what the document says in words
where JSON Schema has no way to say it):

- a schema-valid request may get **422**: it then names something the service refuses for
  reasons no schema can state (a webhook URL on a private address, a merge into a topic that
  does not exist, a page that cannot be fetched). A 400 stays a failure, except:
- **rules that join two query parameters** (``since`` before ``until``, windows of at most 3660
  days, at most two of since/until/window, ``sort=relevance`` with a ``q``): OpenAPI cannot
  relate parameters, so their descriptions state them; a 400 problem naming one is expected.
- a **cursor** is opaque: only one the API handed out is valid, so positive cases leave it out
  (negative ones still send bad cursors, which must be refused).
- **NUL characters** are refused in every string (service/hostile_input.py, a 400 problem), so
  generated values hold none (``allow-x00 = false``).
- **DELETE on a partner's key revokes it**: the key stays readable, with ``revoked_at`` set, so
  schemathesis's use-after-free finding for it is expected.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
import schemathesis
from cryptography.fernet import Fernet
from hypothesis.configuration import set_hypothesis_home_dir
from schemathesis.config import SchemathesisConfig
from schemathesis.openapi.checks import RejectedPositiveData, UseAfterFree

from service.app import create_app
from tests.support.clients import stub_llm
from tests.support.contract_world import build_contract_world
from tests.support.receivers import Receiver
from tests.support.schemathesis_run import run_engine
from tests.support.servers import running_asgi

pytestmark = pytest.mark.timeout(900)

SEED = 27
MAX_EXAMPLES = 25
"""Cases per operation and phase (schemathesis's coverage phase adds its own boundary cases)."""
JOINED_PARAMETER_RULES = (
    "since must be before until",
    "a window may be at most",
    "may be at most 3660 days",
    "give at most two of since, until and window",
    "sort=relevance needs a q",
)
"""Details of the 400 problems for rules that relate query parameters (see above)."""
ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]
"""What a schema-valid request may get (5xx is there because ``not_a_server_error`` fails it)."""


@pytest.fixture(scope="module")
def api(make_settings: Any, stub: SimpleNamespace) -> Iterator[str]:
    settings = make_settings(
        **stub_llm(stub),
        llm_http_retries=0,
        digest_daily_at=None,
        secret_key=Fernet.generate_key().decode(),
        webhook_retry_schedule=[0.2],
        webhook_timeout_seconds=2.0,
        webhook_poll_seconds=0.5,
    )
    with running_asgi(create_app(settings, worker=True)) as base:
        yield base


@pytest.fixture(scope="module")
async def world(api: str, database_url: str, receiver: Receiver) -> SimpleNamespace:
    return await build_contract_world(api, database_url, receiver.base_url)


def _ids(world: SimpleNamespace) -> dict[str, list[str | int]]:
    """Path parameter → the seeded ids schemathesis draws it from (most of the time)."""
    return {
        "signal_id": [world.signal_id, *world.seeded],
        "article_id": [world.article_id],
        "story_id": [world.story_id],
        "entity_id": [world.entity_id],
        "job_id": [world.job_id, world.digest_job["id"]],
        "digest_id": [world.digest_job["digest_id"]],
        "partner_id": [world.partner_id],
        "key_id": [world.partner_key_id],
        "webhook_id": [world.webhook_id],
        "slug": ["harbour-ports"],
    }


@pytest.fixture(scope="module")
def hypothesis_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Hypothesis keeps its files in the test's temp folder, not ``.hypothesis/`` in the tree."""
    set_hypothesis_home_dir(tmp_path_factory.mktemp("hypothesis"))
    yield
    set_hypothesis_home_dir(None)


@pytest.fixture(scope="module")
def contract_schema(api: str, world: SimpleNamespace, hypothesis_home: None) -> Any:
    ids = _ids(world)
    config = SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "cache": {"enabled": False},
            "headers": {"Authorization": f"Bearer {world.admin_key}"},
            "request-timeout": 30,
            "workers": 1,
            "generation": {
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "allow-x00": False,
                "database": "none",
            },
            "checks": {"positive_data_acceptance": {"expected-statuses": ACCEPTED}},
            "phases": {"stateful": {"max-steps": 8}},
            "dictionaries": {name: {"values": values} for name, values in ids.items()},
            "parameters": {f"path.{name}": {"dictionary": name, "probability": 0.8} for name in ids},
        }
    )
    schema = schemathesis.openapi.from_url(f"{api}/schema/openapi.json", config=config)

    @schema.hook
    def map_case(context: Any, case: Any) -> Any:
        if case.query and "cursor" in case.query and not case.meta.generation.mode.is_negative:
            case.query = {k: v for k, v in case.query.items() if k != "cursor"}
        return case

    @schema.hook
    def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
        body = _json(response)
        if not isinstance(body, dict):
            return True
        if isinstance(failure, RejectedPositiveData) and response.status_code == 400:
            return not any(rule in str(body.get("detail", "")) for rule in JOINED_PARAMETER_RULES)
        if isinstance(failure, UseAfterFree):
            return body.get("revoked_at") is None
        return True

    return schema


def _json(response: Any) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def test_document_holds(contract_schema: Any, tmp_path_factory: pytest.TempPathFactory) -> None:
    report = run_engine(contract_schema)
    summary = report.summary()
    (tmp_path_factory.getbasetemp() / "schemathesis-summary.txt").write_text(summary)
    print(summary)
    # The document carries no examples, so that phase has nothing to send.
    assert {phase: report.phases.get(phase) for phase in ("examples", "coverage", "fuzzing", "stateful")} == {
        "examples": "skip", "coverage": "success", "fuzzing": "success", "stateful": "success"
    }, summary  # fmt: skip
    assert report.cases_by_phase["stateful"] > 0 and report.links_followed > 0, summary
    assert report.checks_run["ignored_auth"] > 0, summary
    assert not report.failures and not report.errors, summary
