"""ETag and If-None-Match for single resources (RFC 9110 sections 8.8.3 and 13.1.2).

The tag is a strong validator: a hash of the exact JSON bytes sent, so two answers share a tag
only when they are byte-for-byte the same. That covers everything a body depends on (a job's
status, a signal's related links, what a topic-restricted key may see) without a version
column on every table. The body is encoded once, here; the hash costs microseconds.

A matching ``If-None-Match`` gets ``304 Not Modified`` with the tag and no body. The resource
is still read (the tag is the body's hash); what is saved is the transfer and the client's work.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any, TypeVar, cast

from litestar import Request, Response
from litestar.enums import MediaType
from litestar.openapi.datastructures import ResponseSpec
from litestar.status_codes import HTTP_304_NOT_MODIFIED

from schemas.base import json_encoder

T = TypeVar("T")

NOT_MODIFIED = {
    304: ResponseSpec(
        data_container=None,
        description="Not modified: If-None-Match named the current ETag (no body)",
        generate_examples=False,
    )
}
"""The OpenAPI entry of a 304, for routes that answer with ``etagged``."""


def entity_tag(body: bytes) -> str:
    """A strong entity tag for these exact bytes (quoted, as the header carries it)."""
    digest = hashlib.blake2b(body, digest_size=16).digest()
    return '"' + base64.urlsafe_b64encode(digest).decode().rstrip("=") + '"'


def none_match(header: str | None, tag: str) -> bool:
    """Whether an ``If-None-Match`` value names ``tag`` (weak comparison, as RFC 9110 asks)."""
    if header is None:
        return False
    for candidate in header.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == tag:
            return True
    return False


def etagged(
    request: Request[Any, Any, Any], body: T, *, headers: dict[str, str] | None = None
) -> Response[T]:
    """``body`` as JSON with its ETag, or 304 when the client already holds that version."""
    encoded = json_encoder.encode(body)
    tag = entity_tag(encoded)
    all_headers = {**(headers or {}), "ETag": tag}
    if none_match(request.headers.get("if-none-match"), tag):
        return cast(
            "Response[T]", Response(content=b"", status_code=HTTP_304_NOT_MODIFIED, headers=all_headers)
        )
    # The bytes are the body; the annotation keeps the route's OpenAPI schema (``T``).
    return cast("Response[T]", Response(content=encoded, media_type=MediaType.JSON, headers=all_headers))
