"""Sentiment at the precision it has: two decimals, stored and served.

A model's tone score in [-1, 1] means nothing past the second decimal, and the column is a
PostgreSQL ``real``: 0.33 read back as a double is 0.33000001311302185. Rounding when a
signal is stored and again when it is read keeps cards, lists, feeds and exports at
``0.33``, older rows included, without rewriting the table.
"""

from __future__ import annotations

SENTIMENT_DECIMALS = 2


def sentiment_value(value: float | None) -> float | None:
    """``value`` rounded to the precision sentiment is stored and served at."""
    return None if value is None else round(float(value), SENTIMENT_DECIMALS)
