"""What a topic-restricted key may learn exists.

A key restricted to topics is answered about a topic outside them exactly as about a topic
that does not exist (same status, problem and detail, built from what the caller sent), and
about an entity no current signal on its topics names exactly as about an unknown entity
id: otherwise the difference between "hidden" and "missing" tells it what exists elsewhere.
"""

from __future__ import annotations

from collections.abc import Collection


def is_hidden(topic_id: int, allowed: Collection[int] | None) -> bool:
    """Whether a key restricted to ``allowed`` (None: every topic) must not learn that topic
    ``topic_id`` exists."""
    return allowed is not None and topic_id not in allowed
