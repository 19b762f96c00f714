"""What an API process remembers of token buckets: levels seen, leases held and claimed."""

from __future__ import annotations

from uuid import uuid4

from service.ratelimit.service import LEASE_FROM, LEASE_MAX, Levels


def test_a_well_stocked_bucket_lends_one_batch_at_a_time():
    levels, bucket = Levels(), uuid4()
    levels.record(bucket, 300.0)
    assert levels.claim(bucket) == LEASE_MAX  # an eighth of 300 is more than the cap
    # requests arriving while that statement is in flight take one token each
    assert levels.claim(bucket) == 1
    assert levels.claim(bucket) == 1
    levels.record(bucket, 280.0)  # one of those single takes comes back first
    assert levels.claim(bucket) == 1
    assert levels.record(bucket, 264.0, LEASE_MAX - 1, claimed=True) == 264.0 + LEASE_MAX - 1
    # a request that found the process empty before the batch came back takes one token
    assert levels.claim(bucket) == 1
    for _ in range(LEASE_MAX - 1):
        assert levels.spend(bucket) is not None
    assert levels.claim(bucket) == LEASE_MAX  # the batch is spent: the next one may be claimed


def test_a_failed_lease_statement_gives_its_claim_back():
    levels, bucket = Levels(), uuid4()
    levels.record(bucket, 300.0)
    assert levels.claim(bucket) == LEASE_MAX
    levels.release(bucket)
    assert levels.claim(bucket) == LEASE_MAX


def test_small_or_unknown_buckets_are_never_leased():
    levels, bucket = Levels(), uuid4()
    assert levels.claim(bucket) == 1
    levels.record(bucket, LEASE_FROM - 1)
    assert levels.claim(bucket) == 1
    levels.record(bucket, LEASE_FROM)
    assert levels.claim(bucket) == int(LEASE_FROM / 8)


def test_leased_tokens_are_spent_one_by_one_and_counted():
    levels, bucket = Levels(), uuid4()
    levels.record(bucket, 100.0)
    levels.claim(bucket)
    levels.record(bucket, 88.0, 3, claimed=True)
    assert [levels.spend(bucket) for _ in range(4)] == [90.0, 89.0, 88.0, None]
