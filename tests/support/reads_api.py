"""The API without its worker, for modules that store their signals directly (through the
repository or the pipeline's SQL) and read them back over a real socket: the ``api`` fixture,
and ``http``, a client holding the module's reader key (``keys.reader``).

A module takes them by assignment (``api = reads_api.api``); module-scoped ones are then that
module's own, one server per module, as if written there."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from types import SimpleNamespace

import httpx
import pytest

from service.app import create_app
from service.settings import Settings
from tests.support.servers import running_asgi


@pytest.fixture(scope="module")
def api(make_settings: Callable[..., Settings]) -> Iterator[str]:
    with running_asgi(create_app(make_settings(), worker=False)) as base:
        yield base


@pytest.fixture
async def http(api: str, keys: SimpleNamespace) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=api, headers={"Authorization": f"Bearer {keys.reader}"}, timeout=30
    ) as client:
        yield client
