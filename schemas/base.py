"""Base Structs for the wire contract and the shared, reused JSON encoder/decoder."""

from __future__ import annotations

import msgspec


class Request(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Base of every request body: unknown fields are an error, not silently dropped."""


class Response(msgspec.Struct, kw_only=True):
    """Base of every response body."""


class CompactResponse(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Base of responses where absent optional fields are left out rather than null."""


json_encoder = msgspec.json.Encoder()
"""Module-level encoder: build once, reuse everywhere."""
