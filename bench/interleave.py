"""Timing several measures side by side: one of each per round, in shuffled order, so that
drift on this shared machine and cache warming hit every measure alike."""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable
from typing import Any


async def interleaved(
    runs: dict[str, Callable[[], Awaitable[Any]]],
    rounds: int,
    rng: random.Random,
    *,
    warmup: int,
    each_round: Callable[[], None] | None = None,
) -> dict[str, list[float]]:
    """Seconds each call of each measure took: ``warmup`` untimed calls of every measure
    (caches, prepared statements, a server's pool), then ``rounds`` rounds. ``each_round``
    runs before every call of the warm-up and every round (e.g. to draw the round's topic)."""
    for fn in runs.values():
        for _ in range(warmup):
            if each_round is not None:
                each_round()
            await fn()
    results: dict[str, list[float]] = {name: [] for name in runs}
    order = list(runs.items())
    for _ in range(rounds):
        if each_round is not None:
            each_round()
        rng.shuffle(order)
        for name, fn in order:
            started = time.perf_counter()
            await fn()
            results[name].append(time.perf_counter() - started)
    return results
