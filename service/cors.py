"""Cross-origin access for browser frontends, from SIGNALS_CORS_ORIGINS.

Empty (the default) means no CORS at all: browsers on other origins cannot read answers. The
configuration is Litestar's ``CORSConfig``; what this module adds is the list of headers a
frontend needs (Authorization, Idempotency-Key, If-None-Match... in; ETag, RateLimit,
X-Request-ID... readable), and problem+json for refused preflights, which Litestar answers
in text/plain.

``*`` together with credentials is refused by Settings at startup: a browser would send its
cookies along with requests that any web site makes.
"""

from __future__ import annotations

import msgspec
from litestar.config.cors import CORSConfig

from schemas.base import json_encoder
from schemas.problems import PROBLEM_MEDIA_TYPE
from service.errors import BadRequest
from service.request_context import ASGIApp, Message, Receive, Scope, Send, request_id_of
from service.settings import Settings

ALLOW_HEADERS = [
    "Authorization",
    "Content-Type",
    "Idempotency-Key",
    "If-None-Match",
    "Prefer",
    "X-Request-ID",
]
EXPOSE_HEADERS = [
    "Content-Disposition",
    "Content-Location",
    "ETag",
    "Location",
    "Preference-Applied",
    "RateLimit",
    "RateLimit-Policy",
    "Retry-After",
    "X-Request-ID",
]
ALLOW_METHODS: list[str] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def cors_config(settings: Settings) -> CORSConfig | None:
    """Litestar's CORS configuration for the settings; None when CORS is off."""
    if not settings.cors_origins:
        return None
    if "*" in settings.cors_origins and settings.cors_allow_credentials:  # Settings refuses it too
        raise ValueError("SIGNALS_CORS_ORIGINS='*' cannot be combined with SIGNALS_CORS_ALLOW_CREDENTIALS")
    return CORSConfig(
        allow_origins=list(settings.cors_origins),
        allow_methods=ALLOW_METHODS,  # type: ignore[arg-type]  # Litestar types them as Method literals
        allow_headers=ALLOW_HEADERS,
        expose_headers=EXPOSE_HEADERS,
        allow_credentials=settings.cors_allow_credentials,
        max_age=600,
    )


def _is_preflight(scope: Scope) -> bool:
    if scope.get("method") != "OPTIONS":
        return False
    names = {bytes(name).lower() for name, _ in scope.get("headers", ())}
    return b"origin" in names and b"access-control-request-method" in names


class PreflightProblems:
    """Turns Litestar's plain-text refusal of a CORS preflight into a problem+json answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _is_preflight(scope):
            await self.app(scope, receive, send)
            return
        refusal: Message | None = None
        text = bytearray()

        async def send_as_problem(message: Message) -> None:
            nonlocal refusal
            if message["type"] == "http.response.start" and message["status"] == 400:
                refusal = message
                return
            if refusal is None:
                await send(message)
                return
            text.extend(message.get("body", b""))
            if message.get("more_body", False):
                return
            # e.g. "Disallowed CORS Origin" or "Disallowed CORS method, headers"
            problem = BadRequest(text.decode("utf-8", "replace"), reason="cors_refused").to_problem(
                instance=str(scope.get("path", ""))
            )
            body = json_encoder.encode(msgspec.structs.replace(problem, request_id=request_id_of(scope)))
            await send(
                {
                    "type": "http.response.start",
                    "status": 400,
                    "headers": [
                        (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, send_as_problem)
