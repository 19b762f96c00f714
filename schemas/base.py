"""Base Structs for the wire contract and the shared, reused JSON encoder/decoder."""

from __future__ import annotations

import msgspec


class Request(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Base of every request body: unknown fields are an error, not silently dropped, and so
    is a NUL character in any string (PostgreSQL text cannot hold one)."""

    def __post_init__(self) -> None:
        # msgspec reports a ValueError raised here as a validation error of the body: a 400
        for name in self.__struct_fields__:
            if _holds_nul(getattr(self, name)):
                raise ValueError(f"`{name}` contains a NUL character (\\u0000), which no field may hold")


def _holds_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list | tuple | set | frozenset):
        return any(_holds_nul(item) for item in value)
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    return False  # nested Structs check themselves


class Response(msgspec.Struct, kw_only=True):
    """Base of every response body."""


class CompactResponse(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Base of responses where absent optional fields are left out rather than null."""


json_encoder = msgspec.json.Encoder()
"""Module-level encoder: build once, reuse everywhere."""
