"""A job handler asking to run again later: pgqueuer keeps the queue entry and hands it out
again after ``seconds`` (service.jobs.worker turns this into its RetryRequested)."""

from __future__ import annotations


class RetryLater(Exception):
    """Run this queue entry again in ``seconds``; the handler has already recorded why."""

    def __init__(self, seconds: float, reason: str) -> None:
        super().__init__(f"retry in {seconds:g}s: {reason}")
        self.seconds = seconds
        self.reason = reason
