"""HEAD on every GET route: the GET answer's status and headers, without its body.

RFC 9110 (9.3.2) asks a server to answer HEAD exactly as GET, minus the content. Litestar
(2.x) answers HEAD only on routes declared for it, and its HEAD handlers may not return a
body, so every GET route answered HEAD with 405. This plain ASGI wrapper, outside the whole
application, runs a HEAD request as a GET and drops the body on its way out:

- the status and every header (``Content-Length`` of the body that would have come, ``ETag``,
  ``RateLimit``, ``X-Request-ID``) are the GET's, so conditional requests (``If-None-Match``
  → 304), authentication, topic restrictions and 404s behave the same;
- the rate limiter sees a GET, a read, as RFC 9110 makes HEAD;
- other methods pass through untouched: a route without GET still answers HEAD with 405.

The price: the handler does the GET's work (a streamed export is produced and thrown away),
which is what a HEAD of it would cost any server that computes the headers honestly.
"""

from __future__ import annotations

from typing import Any

from service.request_context import ASGIApp, Message, Receive, Scope, Send


class HeadAsGet:
    """Answers HEAD requests with the GET answer's status and headers and an empty body."""

    def __init__(self, app: ASGIApp | Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "HEAD":
            await self.app(scope, receive, send)
            return

        async def send_without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return  # a chunk of a streamed body: nothing of it goes out
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        # A copy: the server keeps its own scope, which still says HEAD (so it, too, knows
        # no body follows the headers).
        await self.app({**scope, "method": "GET"}, receive, send_without_body)
