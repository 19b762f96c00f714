"""Failed authentications, throttled per client address.

A key is 256 random bits, so guessing one is hopeless, but every guess of a well-formed key
costs a database lookup: a client sending random keys as fast as it can would load the
database for nothing. So each client address has a small token bucket of failures (unknown
or malformed keys): ``limit`` at once, ``limit`` more per minute. An address whose bucket
is empty gets ``429 auth_throttled`` with ``Retry-After`` for a key, without a lookup.

- **Per socket peer.** The address is the connection's peer (``scope["client"]``), never
  ``X-Forwarded-For``, which any client can write. IPv6 addresses count per /64, the block
  one host usually holds. Behind a reverse proxy every client shares the proxy's address:
  the known keys below keep serving, new keys then wait with everyone else's guesses.
- **And per network around it.** One host may hold a whole /48 of IPv6 (65 536 /64s), or
  many IPv4 addresses of one /24: each wider block has a bucket too, 8 times larger per step
  (IPv4 /24; IPv6 /48, then /32), so walking through fresh addresses buys a few more guesses,
  not a fresh bucket per address, and cannot flush the buckets it is counted in.
- **Known keys are never throttled.** A key this process accepted in the last day (and one
  in the key cache, which ``authenticate`` checks first) goes through whatever its address
  did: its lookup still runs, so a revocation still applies at once. A valid key that this
  process has never seen, sent from a throttled address, waits like a guess (a few seconds:
  the bucket regains a failure every ``60 / limit`` seconds).
- **Bounded memory.** At most ``max_addresses`` buckets and ``max_keys`` known keys (least
  recently used dropped first); one process's state, not shared between API processes.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Callable

from service.errors import AuthThrottled

WINDOW_SECONDS = 60.0
KNOWN_KEY_SECONDS = 24 * 3600.0


_IPV4_PREFIXES = (32, 24)
_IPV6_PREFIXES = (64, 48, 32)
WIDER = 8
"""Each wider block's bucket holds (and regains) this many times its narrower one's."""


def client_buckets(address: str | None) -> list[tuple[str, int]]:
    """The buckets an address counts in, narrowest first, each with its size multiplier:
    the address and its /24 (IPv4); its /64, /48 and /32 (IPv6); "" when unknown."""
    if not address:
        return [("", 1)]
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return [(address, 1)]
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    prefixes = _IPV6_PREFIXES if isinstance(ip, ipaddress.IPv6Address) else _IPV4_PREFIXES
    return [
        (str(ipaddress.ip_network((ip, prefix), strict=False)), WIDER**step)
        for step, prefix in enumerate(prefixes)
    ]


class AuthThrottle:
    """Token buckets of failed authentications per client address, and the keys known good."""

    def __init__(
        self,
        limit: int,
        *,
        max_addresses: int = 65_536,
        max_keys: int = 65_536,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``limit``: failures an address may make at once, and regains per minute (0: off)."""
        self._limit = limit
        self._rate = limit / WINDOW_SECONDS
        self._max_addresses = max_addresses
        self._max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        """bucket -> (failures it may still make, when that was computed)."""
        self._known: OrderedDict[bytes, float] = OrderedDict()
        """key hash -> when it stops counting as known."""

    def check(self, address: str | None, key_hash: bytes) -> None:
        """Raise ``AuthThrottled`` if ``address`` may not try this key now: its bucket is
        empty and the key is not one this process accepted recently."""
        if self._limit <= 0 or self.is_known(key_hash):
            return
        waits = [
            (1 - tokens) / (self._rate * size)
            for bucket, size in client_buckets(address)
            if (tokens := self._tokens(bucket, size)) < 1
        ]
        if waits:
            raise AuthThrottled(
                "too many failed authentications from this address; try again later",
                retry_after=max(1, math.ceil(max(waits))),
            )

    def failed(self, address: str | None) -> None:
        """Count one failed authentication (an unknown or malformed key) against ``address``."""
        if self._limit <= 0:
            return
        for bucket, size in client_buckets(address):
            self._buckets[bucket] = (max(self._tokens(bucket, size) - 1, 0.0), self._clock())
            self._buckets.move_to_end(bucket)
        while len(self._buckets) > self._max_addresses:
            self._buckets.popitem(last=False)

    def accepted(self, key_hash: bytes) -> None:
        """Remember a key that authenticated: it is never throttled for the next day."""
        if self._limit <= 0:
            return
        self._known[key_hash] = self._clock() + KNOWN_KEY_SECONDS
        self._known.move_to_end(key_hash)
        while len(self._known) > self._max_keys:
            self._known.popitem(last=False)

    def is_known(self, key_hash: bytes) -> bool:
        """Whether this process accepted the key within the last day."""
        until = self._known.get(key_hash)
        if until is None:
            return False
        if until < self._clock():
            del self._known[key_hash]
            return False
        return True

    def _tokens(self, bucket: str, size: int) -> float:
        """Failures ``bucket`` may still make now (it holds ``size`` times ``limit``)."""
        capacity = float(self._limit * size)
        entry = self._buckets.get(bucket)
        if entry is None:
            return capacity
        tokens, at = entry
        return min(capacity, tokens + (self._clock() - at) * self._rate * size)
