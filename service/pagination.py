"""Opaque keyset cursors shared by every paginated endpoint.

A cursor is the base64url (unpadded) form of a small msgspec-JSON object::

    {"k": "<kind>", "f": "<fingerprint of the query>", "p": {<position of the last item>}}

``k`` names the endpoint that issued it, so a cursor from ``/v1/topics`` is refused by
``/v1/entities``. ``f`` is a short hash of the query parameters the page depends on (filters,
sort, window), so a cursor cannot be replayed against a different query and silently skip
rows. The position is whatever the endpoint's keyset needs (a count and a slug, a timestamp
and an id...). Cursors are not signed: tampering with one can only move a client within the
results it may read anyway, and every field is validated on decode.

Anything wrong with a cursor is a 400 problem with ``reason="bad_cursor"``, never a 500:
that includes a forged position whose integers would not fit PostgreSQL's bigint, or whose
dates lie outside the years 1900 to 9000 (service.time_window), where keyset arithmetic
would leave Python's range.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, TypeVar
from urllib.parse import parse_qsl, unquote_plus, urlencode

import msgspec

from service.errors import BadRequest
from service.hostile_input import BIGINT_MAX, BIGINT_MIN
from service.time_window import EARLIEST_DAY, LATEST_DAY

MAX_CURSOR_LENGTH = 1024
"""Longer tokens are refused before decoding: no endpoint issues anything near this size."""

T = TypeVar("T")

_encoder = msgspec.json.Encoder(order="sorted")


class _Envelope(msgspec.Struct, forbid_unknown_fields=True):
    k: str
    f: str
    p: dict[str, Any]


_decoder = msgspec.json.Decoder(_Envelope)


def _bad(detail: str) -> BadRequest:
    return BadRequest(detail, reason="bad_cursor")


def query_fingerprint(query: Mapping[str, Any] | None) -> str:
    """A short, stable hash of the parameters a cursor is bound to (order-insensitive)."""
    if not query:
        return ""
    return hashlib.sha256(_encoder.encode(dict(query))).hexdigest()[:16]


def encode_cursor(kind: str, position: Mapping[str, Any], *, query: Mapping[str, Any] | None = None) -> str:
    """An opaque token for ``position`` (JSON-encodable values: str, int, float, datetime, UUID...)."""
    raw = _encoder.encode(_Envelope(k=kind, f=query_fingerprint(query), p=dict(position)))
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(token: str, kind: str, *, query: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The position inside ``token``; 400 ``bad_cursor`` when it is garbage, from another endpoint
    (``kind``) or from a query with other parameters (``query``, as given to ``encode_cursor``)."""
    if not token or len(token) > MAX_CURSOR_LENGTH:
        raise _bad("the cursor is not valid; start again without one")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        envelope = _decoder.decode(raw)
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise _bad("the cursor is not valid; start again without one") from None
    if envelope.k != kind:
        raise _bad("this cursor belongs to another endpoint")
    if envelope.f != query_fingerprint(query):
        raise _bad("this cursor belongs to a different query; keep every parameter but cursor the same")
    if not _sane(envelope.p):
        raise _bad("the cursor is not valid; start again without one")
    return envelope.p


def decode_cursor_as(token: str, kind: str, type_: type[T], *, query: Mapping[str, Any] | None = None) -> T:
    """Like ``decode_cursor``, then the position converted to ``type_`` (a Struct, usually), so
    every field is type-checked; a position of the wrong shape is a 400 ``bad_cursor`` too."""
    position = decode_cursor(token, kind, query=query)
    try:
        converted = msgspec.convert(position, type_, strict=False)
    except msgspec.ValidationError:
        raise _bad("the cursor is not valid for this request") from None
    if not _sane(msgspec.structs.astuple(converted) if isinstance(converted, msgspec.Struct) else converted):
        raise _bad("the cursor is not valid for this request")
    return converted


FLOAT4_MAX = 3.4028234663852886e38
"""PostgreSQL's largest ``real`` (ranks in cursors are compared as one)."""


def _sane(value: object) -> bool:
    """No integer in ``value`` past a bigint, no number a ``real`` cannot hold (not finite, or
    past its range), no date outside the years the API accepts."""
    if isinstance(value, bool):
        return True
    if isinstance(value, int):
        return BIGINT_MIN <= value <= BIGINT_MAX
    if isinstance(value, float):
        return math.isfinite(value) and abs(value) <= FLOAT4_MAX
    if isinstance(value, datetime | date):
        day = value.date() if isinstance(value, datetime) else value
        return EARLIEST_DAY <= day <= LATEST_DAY
    if isinstance(value, dict):
        return all(_sane(item) for item in value.values())
    if isinstance(value, list | tuple):
        return all(_sane(item) for item in value)
    return True


# A query string made only of the characters RFC 3986 allows there (what every client that
# percent-encodes sends): it can be echoed as it came.
_ENCODED_QUERY = re.compile(r"[A-Za-z0-9\-._~%!$'()*+,;=:@/?&]*")


def next_page_link(scope: Mapping[str, Any], token: str) -> str:
    """The request's path and query string (``scope``: its ASGI scope) with ``cursor=token``
    in place of any cursor it had. Every other parameter stays as the client wrote it,
    repeated ones and their order included; a query string holding characters that must be
    percent-encoded is decoded and encoded again."""
    path = scope.get("root_path", "") + scope["path"]
    raw = bytes(scope.get("query_string", b""))
    query = raw.decode("latin-1")
    if _ENCODED_QUERY.fullmatch(query):
        kept = [
            pair for pair in query.split("&") if pair and unquote_plus(pair.partition("=")[0]) != "cursor"
        ]
        kept.append(f"cursor={token}")  # base64url: nothing to encode
        return f"{path}?{'&'.join(kept)}"
    decoded = parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)
    pairs = [(k, v) for k, v in decoded if k != "cursor"]
    pairs.append(("cursor", token))
    return f"{path}?{urlencode(pairs)}"
