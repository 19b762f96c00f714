"""The API that briefing tests run against (its worker, the LLM stub), their keys, and the
days of signals they seed; shared by the writing and the reading modules.

``api`` and ``keys`` are fixtures: a module takes them by assignment (``api = digests_api.api``)
and they are then that module's own, one API and one set of keys per module."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from types import SimpleNamespace
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest
from cryptography.fernet import Fernet

from service.app import create_app
from service.settings import Settings
from service.signals import repository as signals_repository
from service.stories import repository as stories
from tests.support import signals_api
from tests.support.clients import stub_llm
from tests.support.seeding import SeedSignal, seed_signal
from tests.support.servers import running_asgi

BUDGET = 6000
TOPICS = ["AI infrastructure", "Energy policy", "Chips", "Rail"]


FERNET_KEY = Fernet.generate_key().decode()


@pytest.fixture(scope="module")
def api(make_settings: Callable[..., Settings], stub: SimpleNamespace) -> Iterator[str]:
    """The API with its worker, its model calls sent to the ``stub``."""
    settings = make_settings(
        **stub_llm(stub),
        llm_http_retries=0,
        llm_timeout_seconds=10,
        digest_daily_at=None,  # the schedule has its own tests; here it must not fire
        digest_max_input_tokens=BUDGET,
        secret_key=FERNET_KEY,
    )
    with running_asgi(create_app(settings, worker=True)) as base:
        yield base


@pytest.fixture(scope="module")
async def keys(database_url: str) -> SimpleNamespace:
    """signals_api's reader and writer; the writer also manages webhooks (topic briefings')."""
    return await signals_api.writer_and_reader_keys(database_url, "webhooks:manage")


def noon(day: date, minutes: int = 0) -> datetime:
    return datetime.combine(day, time(12), UTC) + timedelta(minutes=minutes)


async def seed_day(db: asyncpg.Connection, day: date, count: int, *, prefix: str, **extra: Any) -> list[UUID]:
    """``count`` signals on ``day``, with rotating topics and a few shared names."""
    ids = []
    for i in range(count):
        fields: dict[str, Any] = {
            "title": f"{prefix} headline {i}: a development worth a briefing",
            "summary": f"{prefix} claim {i}: what the article reports, in one sentence.",
            "topics": [TOPICS[i % len(TOPICS)]],
            "entities": [(f"{prefix} Company {i % 3}", "organization"), (f"{prefix} Person {i}", "person")],
            "created_at": noon(day, i),
            "key_details": [
                f"{prefix} fact {i}a about it.",
                f"{prefix} fact {i}b about it.",
                "A third fact.",
            ],
        }
        ids.append(await seed_signal(db, SeedSignal(**{**fields, **extra})))
    return ids


async def make_story(db: asyncpg.Connection, signal_ids: list[UUID]) -> UUID:
    """Put signals in one story through the stories SQL (what the relate job does)."""
    async with db.transaction():
        story_id = await stories.create_story(db, signal_ids[0])
        for signal_id in signal_ids:
            await stories.set_signal_story(db, signal_id, story_id)
        await signals_repository.refresh_story(db, story_id)
    return story_id


async def write(client: httpx.AsyncClient, day: date, period: str = "daily", **body: Any) -> httpx.Response:
    return await client.post(
        "/v1/digests", json={"period": period, "date": day.isoformat(), **body}, headers={"Prefer": "wait=30"}
    )


def markers(text: str) -> set[int]:
    return {int(n) for n in re.findall(r"\[(\d+)\]", text)}
