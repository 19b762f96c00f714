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

**Leases.** A bucket this process last saw holding at least ``LEASE_FROM`` tokens lends it a
batch: the statement takes up to ``LEASE_MAX`` tokens (never more than an eighth of what is
left), one for the request at hand, and the process spends the rest on the bucket's next
requests without a database round trip, until ``LEASE_SECONDS`` after its latest batch
(a new batch extends what is still held). A process asks for a batch only while it holds none
of the bucket's tokens, one statement at a time: requests that arrive meanwhile take one
token each, so a burst of concurrent requests cannot lease more than it spends before the
lease lapses. Every request still
spends a token taken from the one shared bucket, so no key ever exceeds its limit; what a
lease changes is that the tokens a process holds are not there for the key's requests on
other processes meanwhile, and that tokens a process leaves unspent when the lease lapses
are gone (the bucket refills as usual). The ``RateLimit`` field then counts the bucket as
this process last saw it plus the tokens it still holds. A bucket below ``LEASE_FROM``
(every small one) is never leased: it counts request by request, exactly as before.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from service.db.connections import Executor
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

LEASE_FROM = 64.0
"""A bucket last seen holding this many tokens lends this process a batch of them."""
LEASE_MAX = 16
"""The most tokens one statement takes (one for the request, the rest on lease)."""
LEASE_SECONDS = 1.0
"""Leased tokens unspent this long after the latest batch are dropped."""


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
    """What this process last saw in each bucket (tokens left), to choose overlapping, and
    the tokens it holds on lease."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self._tokens: dict[UUID, float] = {}
        self._leases: dict[UUID, tuple[int, float]] = {}
        """bucket -> (tokens held, monotonic time the lease lapses)"""
        self._leasing: set[UUID] = set()
        """buckets with a lease statement in flight from this process"""
        self._max = max_entries

    def plenty(self, bucket: UUID) -> bool:
        return self._tokens.get(bucket, 0.0) >= OVERLAP_FROM

    def claim(self, bucket: UUID) -> int:
        """How many tokens the next statement for ``bucket`` takes: 1, or a lease. A lease
        is claimed only while this process holds none of the bucket's tokens, and stays
        claimed until ``record`` or ``release``: while one is in flight, every other
        statement for the bucket takes a single token. (Without this, N requests arriving
        together on a process that holds nothing would each lease a batch, and a request
        that found the process empty could lease again just after another batch came back:
        more held than the process spends before it lapses, and lapsed tokens are gone.)"""
        seen = self._tokens.get(bucket, 0.0)
        if seen < LEASE_FROM or bucket in self._leasing or self._holds(bucket):
            return 1
        self._leasing.add(bucket)
        return min(LEASE_MAX, int(seen / 8))

    def _holds(self, bucket: UUID) -> bool:
        held, lapses = self._leases.get(bucket, (0, 0.0))
        return held > 0 and time.monotonic() < lapses

    def release(self, bucket: UUID) -> None:
        """Give up a claimed lease whose statement failed."""
        self._leasing.discard(bucket)

    def spend(self, bucket: UUID) -> float | None:
        """Spend a leased token: the tokens left as this process sees them, or None when it
        holds none (or its lease lapsed)."""
        if not self._holds(bucket):
            return None
        held, lapses = self._leases[bucket]
        self._leases[bucket] = (held - 1, lapses)
        return self._tokens.get(bucket, 0.0) + held - 1

    def record(self, bucket: UUID, tokens: float, leased: int = 0, *, claimed: bool = False) -> float:
        """Note a statement's result: ``tokens`` left in the bucket, ``leased`` tokens taken
        beyond the request's own (``claimed``: the statement was this bucket's claimed lease).
        Returns the tokens left as this process sees them."""
        if claimed:
            self._leasing.discard(bucket)
        if len(self._tokens) >= self._max and bucket not in self._tokens:
            self._tokens.clear()  # bounded; unknown buckets simply wait for their decision
            self._leases.clear()
        self._tokens[bucket] = tokens
        held, lapses = self._leases.get(bucket, (0, 0.0))
        now = time.monotonic()
        if now >= lapses:
            held = 0
        if leased > 0:
            held, lapses = held + leased, now + LEASE_SECONDS
        if held > 0:
            self._leases[bucket] = (held, lapses)
        else:
            self._leases.pop(bucket, None)
        return tokens + held


async def take(db: Executor, bucket: UUID, limit: Limit, levels: Levels | None = None) -> Decision:
    """Take a token from ``bucket`` (one database round trip) and, when ``levels`` lets this
    process lease, up to ``LEASE_MAX - 1`` more. The decision counts the bucket as this
    process sees it (its lease included); ``levels`` has recorded it before anything else runs."""
    want = levels.claim(bucket) if levels is not None else 1
    try:
        tokens, taken = await repository.take_tokens(
            db, bucket, rate=limit.rate, burst=limit.burst, want=want
        )
    except BaseException:
        if levels is not None and want > 1:
            levels.release(bucket)
        raise
    if levels is not None:
        tokens = levels.record(bucket, tokens, max(0, taken - 1), claimed=want > 1)
    return Decision(limit=limit, allowed=taken > 0, tokens=tokens)


def _apply(decision: Decision, state: MutableMapping[str, Any]) -> RateLimited | None:
    """Give the answer the decision's headers; the 429 if it is a refusal."""
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
    db: Executor,
    state: MutableMapping[str, Any],
    bucket: UUID,
    limit: Limit,
    levels: Levels | None = None,
    *,
    read: bool = False,
) -> Decision | None:
    """Take a token for this request; record the headers every answer to it carries, and
    raise 429 (with Retry-After) when the bucket is empty.

    With ``levels``, a token this process holds on lease is spent without a round trip.
    Else, with ``read`` (a GET or HEAD) and a bucket last seen well stocked, the token is
    taken beside the handler and None is returned: the answer waits for the decision and
    turns into the 429 if it is a refusal.
    """
    if levels is not None:
        left = levels.spend(bucket)
        if left is not None:
            decision = Decision(limit=limit, allowed=True, tokens=left)
            add_response_headers(state, decision.headers())
            return decision
    if levels is not None and read and levels.plenty(bucket):
        pending = asyncio.ensure_future(take(db, bucket, limit, levels))

        async def settle() -> SignalsError | None:
            try:
                decision = await pending
            except Exception:
                log.exception("the rate limit could not be checked")
                return SignalsError("internal error; the request was not completed")
            refusal = _apply(decision, state)
            if refusal is not None:
                log.info("rate limited: bucket %s (%s/s, burst %d)", bucket, limit.rate, limit.burst)
            return refusal

        add_response_gate(state, settle)
        return None
    decision = await take(db, bucket, limit, levels)
    refusal = _apply(decision, state)
    if refusal is not None:
        raise refusal
    return decision
