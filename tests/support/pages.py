"""Following a list endpoint's ``next`` links to the end."""

from __future__ import annotations

from typing import Any

import httpx


async def all_pages(http: httpx.AsyncClient, url: str) -> list[dict[str, Any]]:
    """Every item of every page from ``url`` on; each page must answer 200."""
    items: list[dict[str, Any]] = []
    next_url: str | None = url
    while next_url:
        response = await http.get(next_url)
        assert response.status_code == 200, response.text
        body = response.json()
        items += body["items"]
        next_url = body["next"]
    return items
