"""Gates: checks awaited before an answer's first byte, which may replace the answer.

Driven as plain ASGI: a streaming app of three chunks behind RequestContextMiddleware, the
messages the server would be sent collected in order.
"""

from __future__ import annotations

import json
from typing import Any

from service.errors import RateLimited, SignalsError
from service.request_context import RequestContextMiddleware, add_response_gate, add_response_headers


def scope(method: str = "GET") -> dict[str, Any]:
    return {"type": "http", "method": method, "path": "/v1/signals/export", "headers": [], "state": {}}


class StreamingApp:
    """Sends a start with a CORS header and an ETag, then three chunks; records how far it got."""

    def __init__(self, gate_error: SignalsError | None) -> None:
        self.gate_error = gate_error
        self.sent_chunks = 0
        self.stopped_by: BaseException | None = None
        self.gate_calls = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        async def gate() -> SignalsError | None:
            self.gate_calls += 1
            add_response_headers(scope["state"], [("RateLimit", '"default";r=0;t=7')])
            return self.gate_error

        add_response_gate(scope["state"], gate)
        headers = [(b"access-control-allow-origin", b"https://app.example"), (b"etag", b'"v1"')]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        try:
            for i in range(3):
                await send({"type": "http.response.body", "body": b"row\n", "more_body": i < 2})
                self.sent_chunks += 1
        except BaseException as exc:
            self.stopped_by = exc
            raise


async def run(app: StreamingApp, method: str = "GET") -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    await RequestContextMiddleware(app)(scope(method), receive, send)
    return messages


async def test_a_gate_that_passes_lets_the_answer_through_with_its_headers():
    app = StreamingApp(None)
    messages = await run(app)
    headers = dict(messages[0]["headers"])
    assert messages[0]["status"] == 200 and headers[b"etag"] == b'"v1"'
    assert headers[b"ratelimit"] == b'"default";r=0;t=7'
    assert [m["body"] for m in messages[1:]] == [b"row\n"] * 3
    assert app.sent_chunks == 3 and app.gate_calls == 1


async def test_a_vetoing_gate_replaces_the_answer_and_stops_the_stream():
    app = StreamingApp(RateLimited("rate limit reached", retry_after=7))
    messages = await run(app)
    start, body = messages
    headers = dict(start["headers"])
    assert start["status"] == 429
    assert headers[b"content-type"] == b"application/problem+json"
    assert headers[b"retry-after"] == b"7" and headers[b"ratelimit"] == b'"default";r=0;t=7'
    assert headers[b"access-control-allow-origin"] == b"https://app.example"  # kept
    assert b"etag" not in headers  # the dropped answer's own headers are gone
    problem = json.loads(body["body"])
    assert problem["status"] == 429 and problem["code"] == "rate_limited"
    assert problem["request_id"] == headers[b"x-request-id"].decode()
    assert int(headers[b"content-length"]) == len(body["body"]) and body["more_body"] is False
    # the first chunk after the replacement raised into the app: it stopped producing there
    assert app.sent_chunks == 0 and type(app.stopped_by).__name__ == "AnswerReplaced"
    assert app.gate_calls == 1


async def test_a_replaced_head_answer_has_no_body():
    messages = await run(StreamingApp(RateLimited("rate limit reached", retry_after=7)), method="HEAD")
    assert messages[0]["status"] == 429 and messages[1]["body"] == b""


async def test_a_gate_runs_even_when_no_answer_goes_out():
    class Silent(StreamingApp):
        async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
            async def gate() -> SignalsError | None:
                self.gate_calls += 1
                return None

            add_response_gate(scope["state"], gate)

    app = Silent(None)
    assert await run(app) == []
    assert app.gate_calls == 1  # awaited once at the end: its token taking is settled
