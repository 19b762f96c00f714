"""Managing webhook endpoints through the API, as the webhook tests do it."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet

from service.app import create_app
from tests.support.clients import stub_llm
from tests.support.servers import running_asgi


@pytest.fixture(scope="module")
def api(make_settings: Any, stub: SimpleNamespace) -> Iterator[str]:
    """The API with its worker, public reads and webhooks dispatched every 0.3 s (a module's
    own: take it as ``api = webhooks.api``)."""
    settings = make_settings(
        **stub_llm(stub),
        public_read=True,
        digest_daily_at=None,
        secret_key=Fernet.generate_key().decode(),
        webhook_poll_seconds=0.3,
        job_heartbeat_seconds=10,
    )
    with running_asgi(create_app(settings, worker=True)) as base:
        yield base


async def create_webhook(http: httpx.AsyncClient, url: str, **body: Any) -> dict[str, Any]:
    """Create an endpoint for ``url`` (``body`` adds fields); the created endpoint, secret included."""
    response = await http.post("/v1/webhooks", json={"url": url, **body})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def webhook_deliveries(http: httpx.AsyncClient, webhook_id: str) -> list[dict[str, Any]]:
    """The first page of the endpoint's deliveries."""
    response = await http.get(f"/v1/webhooks/{webhook_id}/deliveries")
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items
