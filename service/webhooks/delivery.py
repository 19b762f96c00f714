"""Delivering one webhook message to one endpoint: one attempt per queue job.

A delivery is claimed before sending (state ``sending`` with a lease longer than the attempt
can take), so two workers never send the same attempt, and a worker that died mid-attempt
leaves a lease that lapses. The attempt's outcome, the delivery's new state and, if another
attempt is due, its queue job are written in one transaction:

- 2xx: delivered (and never sent again by us);
- 410 Gone: failed, and the endpoint is disabled (``disabled_reason: gone``);
- anything else (3xx, 4xx, 5xx, timeout, refused address, connection error): failed attempt;
  the next one follows SIGNALS_WEBHOOK_RETRY_SCHEDULE (the Standard Webhooks schedule by
  default) with up to 10% jitter; 429 and 503 wait at least their ``Retry-After``; after the
  last delay the delivery is failed.

The URL is checked again at every attempt (the allowed networks may have changed since
the endpoint was created, and DNS answers change). So is the key that created the endpoint:
a delivery whose key was revoked, whose partner was disabled, or whose key no longer has the
event's topics (narrowed since the fan-out) is not sent but failed, with the reason as its
``last_error``; so is one whose endpoint was disabled.
"""

from __future__ import annotations

import contextlib
import logging
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from service.db.connections import Connection, Executor, Pool
from service.errors import SignalsError
from service.jobs.queue import queue_on
from service.settings import Settings
from service.webhooks import repository
from service.webhooks.repository import ClaimedDelivery
from service.webhooks.secrets import SecretBox
from service.webhooks.sender import AttemptResult, WebhookSender, signature_headers

log = logging.getLogger(__name__)

DELIVER_WEBHOOK = "deliver_webhook"
"""Queue entrypoint: payload is the delivery id's 16 bytes."""
_LEASE_MARGIN_SECONDS = 30.0
_HONOURED_STATUSES = frozenset({429, 503})
_MAX_RETRY_AFTER = 24 * 3600.0


class DeliveryBusy(Exception):
    """Another worker holds the delivery's lease; try again once it lapses."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"delivery is being sent by another worker ({seconds:.0f} s left)")
        self.seconds = seconds


async def enqueue_deliveries(conn: Connection, delivery_ids: list[UUID], delay: float = 0.0) -> None:
    """Queue one delivery job per id, in the caller's transaction (they commit together)."""
    if not delivery_ids:
        return
    after = timedelta(seconds=delay) if delay > 0 else None
    await queue_on(conn).enqueue(
        [DELIVER_WEBHOOK] * len(delivery_ids),
        [delivery_id.bytes for delivery_id in delivery_ids],
        [0] * len(delivery_ids),
        [after] * len(delivery_ids),
    )


@dataclass(frozen=True, slots=True)
class Outcome:
    state: str
    """delivered, failed or pending (another attempt follows)."""
    retry_in: float | None
    disable: bool


def decide(
    result: AttemptResult, attempt: int, schedule: list[float], rng: random.Random | None = None
) -> Outcome:
    """What follows attempt number ``attempt`` (1-based) with ``result``."""
    status = result.status_code
    if status is not None and 200 <= status < 300:
        return Outcome("delivered", None, False)
    if status == 410:
        return Outcome("failed", None, True)
    if attempt > len(schedule):
        return Outcome("failed", None, False)
    delay = schedule[attempt - 1] * (rng or random).uniform(0.9, 1.1)
    if status in _HONOURED_STATUSES and result.retry_after is not None:
        delay = max(delay, min(result.retry_after, _MAX_RETRY_AFTER))
    return Outcome("pending", delay, False)


def signing_secrets(box: SecretBox, claim: ClaimedDelivery, now: datetime) -> list[str]:
    """The current secret, and the previous one while its rotation overlap lasts."""
    found = [box.decrypt(claim.secret_ciphertext)]
    if (
        claim.previous_secret_ciphertext is not None
        and claim.previous_secret_expires_at is not None
        and claim.previous_secret_expires_at > now
    ):
        found.append(box.decrypt(claim.previous_secret_ciphertext))
    return found


async def deliver_webhook(
    pool: Pool, settings: Settings, secret_box: SecretBox, sender: WebhookSender, delivery_id: UUID
) -> None:
    """Make one attempt of a delivery, if it is due and ours; record it and schedule what follows.

    Raises ``DeliveryBusy`` when another worker's lease is still running (the queue job should
    come back after ``seconds``), and database errors (the job should be retried).
    """
    lease = settings.webhook_timeout_seconds + _LEASE_MARGIN_SECONDS
    async with pool.acquire() as conn:
        claim = await repository.claim_delivery(conn, delivery_id, lease)
        if claim is None:
            await _not_claimed(conn, delivery_id)
            return
    started_at = datetime.now(UTC)
    try:
        secrets = signing_secrets(secret_box, claim, started_at)
    except SignalsError as exc:
        # A configuration problem (key missing or replaced): counted as a failed attempt so the
        # schedule retries it once the operator fixed it, with the reason on record.
        result = AttemptResult(None, f"cannot sign: {exc.title}", None, 0)
    else:
        headers = signature_headers(claim.message_id, claim.body, secrets, started_at)
        result = await sender.send(claim.url, headers, claim.body)
    outcome = decide(result, claim.attempt, settings.webhook_retry_schedule)
    next_at = started_at + timedelta(seconds=outcome.retry_in) if outcome.retry_in is not None else None
    async with pool.acquire() as conn:
        # One statement when nothing else follows (the common case); otherwise one transaction.
        follow_up = outcome.disable or outcome.retry_in is not None
        transaction = conn.transaction() if follow_up else contextlib.nullcontext()
        async with transaction:
            await _finish(conn, claim, result, outcome, started_at, next_at)


async def _finish(
    conn: Connection,
    claim: ClaimedDelivery,
    result: AttemptResult,
    outcome: Outcome,
    started_at: datetime,
    next_at: datetime | None,
) -> None:
    held = await repository.finish_attempt(
        conn,
        id=claim.id,
        attempt=claim.attempt,
        started_at=started_at,
        duration_ms=result.duration_ms,
        status_code=result.status_code,
        error=result.error,
        state=outcome.state,
        next_attempt_at=next_at,
    )
    if not held:
        log.warning(
            "delivery %s: attempt %d lost its lease; recorded in the log only", claim.id, claim.attempt
        )
        return
    if outcome.disable:
        await repository.disable_webhook(conn, claim.webhook_id, "gone")
    if outcome.retry_in is not None:
        await enqueue_deliveries(conn, [claim.id], outcome.retry_in)
    # Failures are worth a line each; successes would be one line per delivery at volume.
    log.log(
        logging.DEBUG if outcome.state == "delivered" else logging.INFO,
        "delivery %s attempt %d: %s (%s)",
        claim.id,
        claim.attempt,
        outcome.state,
        result.status_code if result.status_code is not None else result.error,
    )


async def _not_claimed(conn: Executor, delivery_id: UUID) -> None:
    state = await repository.delivery_state(conn, delivery_id)
    if state is None:
        return  # its endpoint was deleted
    if state.state == "sending" and state.lease_left is not None and state.lease_left.total_seconds() > 0:
        raise DeliveryBusy(state.lease_left.total_seconds() + 1)
    reason = "the endpoint is disabled" if state.endpoint_disabled else state.out_of_reach
    # Only a pending delivery (or one left sending by a dead worker) is failed; a final one stays.
    if reason is not None and await repository.fail_undeliverable(conn, delivery_id, reason):
        log.info("delivery %s not sent: %s", delivery_id, reason)
