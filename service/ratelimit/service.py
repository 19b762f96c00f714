"""Rate limits: one token bucket per API key, refilled continuously, kept in PostgreSQL.

A bucket holds at most ``burst`` tokens and regains ``rate`` tokens per second; a request
takes one, and with none left it is refused with 429 and ``Retry-After``. The limits are the
key's own, else its partner's, else SIGNALS_RATE_PER_SECOND / SIGNALS_RATE_BURST. Buckets are
per key, never per client address: ``X-Forwarded-For`` and even the socket's peer address say
nothing trustworthy about who is calling behind proxies, while the key does.

The bucket lives in one UNLOGGED table row per key and is updated by one atomic statement per
request (sql/queries/ratelimit.sql), so every API replica draws from the same bucket and
refills by the same (database) clock.

Every limited answer, errors included, carries the fields of draft-ietf-httpapi-ratelimit-headers-11
(May 2026), as Structured Field Lists:

- ``RateLimit-Policy: "default";q=<burst>;w=<seconds to refill a whole bucket>``: the bucket's
  size, and the window over which ``q`` requests average out to the rate (``w`` is rounded up,
  so the advertised average is never above the real rate);
- ``RateLimit: "default";r=<whole tokens left>;t=<seconds until the next token>``: until then
  the client can make no more than ``r`` requests, which is exactly what a token bucket
  guarantees. On a 429, ``r=0`` and ``t`` equals ``Retry-After``, as the draft asks (Retry-After
  never earlier than the end of the effective window).

Keyless public reads (SIGNALS_PUBLIC_READ) share one bucket, policy ``"public"``.

**Reads beside the bucket.** Taking the token is a database round trip (0.2-0.3 ms) that a
fast read would otherwise wait for before starting. A GET or HEAD whose bucket this process
last saw holding at least ``OVERLAP_FROM`` tokens takes its token *while* the handler runs;
the answer waits for the decision before its first byte (``request_context`` gates), carries
the same headers, and becomes the same 429 if the bucket turned out empty (the handler's
answer is dropped). Counting stays exact: every request still takes its token from the one
shared bucket, in the order the database sees them. What changes is only that a read refused
in that window did its work first; it is bounded, because a process that sees the bucket run
low goes back to waiting for the decision, and writes (which must not happen when refused)
always wait. A small bucket (burst below ``OVERLAP_FROM``) is never overlapped at all: it
never holds that many.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from service.errors import RateLimited, SignalsError
from service.keys.repository import StoredKey
from service.ratelimit import repository
from service.request_context import add_response_gate, add_response_headers
from service.settings import Settings

log = logging.getLogger(__name__)

PUBLIC_BUCKET = UUID(int=0)
"""The bucket every keyless public read shares (no key has the nil uuid)."""

OVERLAP_FROM = 10.0
"""A read takes its token beside the handler when its bucket last held this many."""


@dataclass(frozen=True, slots=True)
class Limit:
    """A token bucket's shape, and the policy name its headers use."""

    policy: str
    rate: float
    burst: int

    @property
    def window(self) -> int:
        """Seconds an empty bucket takes to fill (rounded up: the ``w`` of the policy)."""
        return max(1, math.ceil(self.burst / self.rate - 1e-9))

    def policy_field(self) -> str:
        return f'"{self.policy}";q={self.burst};w={self.window}'


@dataclass(frozen=True, slots=True)
class Decision:
    """What one request's token taking found."""

    limit: Limit
    allowed: bool
    tokens: float
    """Tokens left in the bucket after this request (fractional)."""

    @property
    def remaining(self) -> int:
        """Requests the client can make right now."""
        return max(0, math.floor(self.tokens))

    @property
    def next_token_in(self) -> int:
        """Whole seconds (at least 1) until ``remaining`` grows by one."""
        missing = self.remaining + 1 - self.tokens
        return max(1, math.ceil(missing / self.limit.rate - 1e-9))

    def headers(self) -> list[tuple[str, str]]:
        """The RateLimit-Policy and RateLimit fields for this answer."""
        return [
            ("RateLimit-Policy", self.limit.policy_field()),
            ("RateLimit", f'"{self.limit.policy}";r={self.remaining};t={self.next_token_in}'),
        ]


def key_limit(key: StoredKey, settings: Settings) -> Limit:
    """The key's bucket: its own limits, else its partner's, else the service default
    (StoredKey already carries the key's value or, when unset, the partner's)."""
    # The columns are float4: round away their binary noise (0.7 is stored as 0.69999999).
    return Limit(
        policy="default",
        rate=round(key.rate_per_second, 6) if key.rate_per_second else settings.rate_per_second,
        burst=int(key.burst) if key.burst else settings.rate_burst,
    )


def public_limit(settings: Settings) -> Limit | None:
    """The shared bucket of keyless public reads; None when they are not limited."""
    if settings.public_rate_per_second <= 0:
        return None
    return Limit(policy="public", rate=settings.public_rate_per_second, burst=settings.public_rate_burst)


class Levels:
    """What this process last saw in each bucket (tokens left), to choose overlapping."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self._tokens: dict[UUID, float] = {}
        self._max = max_entries

    def plenty(self, bucket: UUID) -> bool:
        return self._tokens.get(bucket, 0.0) >= OVERLAP_FROM

    def record(self, bucket: UUID, tokens: float) -> None:
        if len(self._tokens) >= self._max and bucket not in self._tokens:
            self._tokens.clear()  # bounded; unknown buckets simply wait for their decision
        self._tokens[bucket] = tokens


async def take(db: Any, bucket: UUID, limit: Limit) -> Decision:
    """Take a token from ``bucket`` (one database round trip)."""
    tokens, allowed = await repository.take_token(db, bucket, rate=limit.rate, burst=limit.burst)
    return Decision(limit=limit, allowed=allowed, tokens=tokens)


def _apply(
    decision: Decision, state: MutableMapping[str, Any], bucket: UUID, levels: Levels | None
) -> RateLimited | None:
    """Note what the bucket held, give the answer its headers; the 429 if it is a refusal."""
    if levels is not None:
        levels.record(bucket, decision.tokens)
    add_response_headers(state, decision.headers())
    if decision.allowed:
        return None
    limit = decision.limit
    return RateLimited(
        f"rate limit reached: {limit.burst} requests at once, then {limit.rate:g} per second; "
        f"try again in {decision.next_token_in} s",
        retry_after=decision.next_token_in,
    )


async def enforce(
    db: Any,
    state: MutableMapping[str, Any],
    bucket: UUID,
    limit: Limit,
    levels: Levels | None = None,
    *,
    read: bool = False,
) -> Decision | None:
    """Take a token for this request; record the headers every answer to it carries, and
    raise 429 (with Retry-After) when the bucket is empty.

    With ``levels`` and ``read`` (a GET or HEAD) and a bucket last seen well stocked, the
    token is taken beside the handler instead and None is returned: the answer waits for
    the decision and turns into the 429 if it is a refusal.
    """
    if levels is not None and read and levels.plenty(bucket):
        pending = asyncio.ensure_future(take(db, bucket, limit))

        async def settle() -> SignalsError | None:
            try:
                decision = await pending
            except Exception:
                log.exception("the rate limit could not be checked")
                return SignalsError("internal error; the request was not completed")
            refusal = _apply(decision, state, bucket, levels)
            if refusal is not None:
                log.info("rate limited: bucket %s (%s/s, burst %d)", bucket, limit.rate, limit.burst)
            return refusal

        add_response_gate(state, settle)
        return None
    decision = await take(db, bucket, limit)
    refusal = _apply(decision, state, bucket, levels)
    if refusal is not None:
        raise refusal
    return decision
