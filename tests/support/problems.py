"""One check for an RFC 9457 problem answer, shared by the API tests."""

from __future__ import annotations

from typing import Any

import httpx

PROBLEM = "application/problem+json"


def assert_problem(
    response: httpx.Response, status: int, code: str | None = None, reason: str | None = None
) -> dict[str, Any]:
    """``response`` is a problem with this status (and code and reason, when given): the
    problem content type, a title, ``type`` naming the code, the request id of the header."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM), response.headers
    body = response.json()
    assert body["status"] == status and body["title"], body
    assert body["type"] == f"/problems/{body['code']}", body
    if code is not None:
        assert body["code"] == code, body
    if reason is not None:
        assert body.get("reason") == reason, body
    assert body["request_id"] == response.headers["X-Request-ID"], body
    return dict(body)
