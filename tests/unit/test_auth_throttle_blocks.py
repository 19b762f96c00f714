"""The failure buckets of service.keys.throttle: an address, and the networks around it."""

from __future__ import annotations

import pytest

from service.errors import AuthThrottled
from service.keys.throttle import WIDER, AuthThrottle, client_buckets

KEY = b"k" * 32
LIMIT = 5


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def guesses_allowed(throttle: AuthThrottle, addresses: list[str], key: bytes = KEY) -> int:
    """How many failed guesses get through, walking ``addresses`` as a client holding them all would."""
    allowed = 0
    for address in addresses:
        while True:
            try:
                throttle.check(address, key)
            except AuthThrottled:
                break
            throttle.failed(address)
            allowed += 1
    return allowed


def test_an_address_counts_in_its_own_bucket_and_the_networks_around_it():
    assert client_buckets("203.0.113.9") == [("203.0.113.9/32", 1), ("203.0.113.0/24", WIDER)]
    assert client_buckets("2001:db8:1:2:3::4") == [
        ("2001:db8:1:2::/64", 1),
        ("2001:db8:1::/48", WIDER),
        ("2001:db8::/32", WIDER**2),
    ]
    assert client_buckets("::ffff:203.0.113.9") == client_buckets("203.0.113.9")
    assert client_buckets(None) == [("", 1)]


def test_walking_through_fresh_64s_of_one_48_buys_only_the_48_s_bucket():
    throttle = AuthThrottle(LIMIT, clock=Clock())
    many_64s = [f"2001:db8:7:{n:x}::1" for n in range(1000)]
    assert guesses_allowed(throttle, many_64s) == LIMIT * WIDER  # not 1000 * LIMIT
    # another /48 of the same /32 still has its own (but the /32 is shared)
    assert guesses_allowed(throttle, ["2001:db8:8::1"]) == LIMIT


def test_walking_through_48s_stops_at_the_32():
    throttle = AuthThrottle(LIMIT, clock=Clock())
    many_48s = [f"2001:db8:{n:x}::1" for n in range(1000)]
    assert guesses_allowed(throttle, many_48s) == LIMIT * WIDER**2


def test_one_ipv4_host_among_its_24_and_another_network_untouched():
    throttle = AuthThrottle(LIMIT, clock=Clock())
    assert guesses_allowed(throttle, ["198.51.100.7"]) == LIMIT
    assert guesses_allowed(throttle, [f"198.51.100.{n}" for n in range(256)]) == LIMIT * WIDER - LIMIT
    assert guesses_allowed(throttle, ["192.0.2.1"]) == LIMIT


def test_a_flood_of_addresses_cannot_flush_the_buckets_it_counts_in():
    clock = Clock()
    throttle = AuthThrottle(LIMIT, max_addresses=64, clock=clock)
    guesses_allowed(throttle, [f"2001:db8:7:{n:x}::1" for n in range(10_000)])
    with pytest.raises(AuthThrottled):
        throttle.check("2001:db8:7:ffff::1", KEY)  # a fresh /64 of the same /48


def test_buckets_refill_at_their_own_rate_and_known_keys_pass():
    clock = Clock()
    throttle = AuthThrottle(LIMIT, clock=clock)
    guesses_allowed(throttle, [f"2001:db8:7:{n:x}::1" for n in range(100)])
    with pytest.raises(AuthThrottled) as refused:
        throttle.check("2001:db8:7:ff::1", KEY)
    assert int(refused.value.headers()["Retry-After"]) >= 1
    throttle.accepted(KEY)
    throttle.check("2001:db8:7:ff::1", KEY)  # a key this process accepted is never throttled
    clock.now += 60  # a minute: every bucket regains its size
    guesses = [f"2001:db8:7:{n:x}::1" for n in range(100)]
    assert guesses_allowed(throttle, guesses, key=b"g" * 32) == LIMIT * WIDER
