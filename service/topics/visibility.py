"""What a topic-restricted key may learn exists.

A key restricted to topics is answered about a topic outside them exactly as about a topic
that does not exist (same status, problem and detail, built from what the caller sent), and
about an entity no current signal on its topics names exactly as about an unknown entity
id: otherwise the difference between "hidden" and "missing" tells it what exists elsewhere.

Supplied content works the same way for every reader (service/keys/suppliers.py): a topic or
entity that only supplied signals name exists for those signals' suppliers (and admin keys)
and for nobody else, until a fetched signal names it (``is_public``, migration 0026; the SQL
fragments ``topic_known_to_reader`` and ``entity_known_to_reader``). The check is asked in the
query that finds the topic or entity, so a hidden one costs what a known one does.
"""

from __future__ import annotations

from collections.abc import Collection


def is_hidden(topic_id: int, allowed: Collection[int] | None) -> bool:
    """Whether a key restricted to ``allowed`` (None: every topic) must not learn that topic
    ``topic_id`` exists."""
    return allowed is not None and topic_id not in allowed
