"""How alike two cards are worded: pg_trgm's similarity, from trigrams stored once per signal.

``signals.card_trigrams`` (migration 0029) holds each card's distinct pg_trgm trigrams (title,
claim and key facts, as ``show_trgm`` makes them), each as 4 bytes of its md5. Comparing two
sets gives what ``similarity()`` gives, shared / (a + b - shared), without making both texts'
trigrams again for every pair: about 0.01 ms a pair here against ~0.15 ms in SQL.
"""

from __future__ import annotations

from collections.abc import Set


def trigram_codes(packed: bytes | None) -> frozenset[int]:
    """The trigram codes in ``card_trigrams`` (empty for no card text)."""
    if not packed:
        return frozenset()
    return frozenset(memoryview(packed).cast("I"))


def wording_similarity(a: Set[int], b: Set[int]) -> float:
    """pg_trgm's similarity of two trigram sets: 0 when either is empty."""
    shared = len(a & b)
    union = len(a) + len(b) - shared
    return shared / union if union else 0.0
