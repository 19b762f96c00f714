"""Managing webhook endpoints through the API, as the webhook tests do it."""

from __future__ import annotations

from typing import Any

import httpx


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
