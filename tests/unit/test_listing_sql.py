"""The list statements' shared filters, read from sql/queries/listing.sql."""

import re
from pathlib import Path

LISTING = Path(__file__).resolve().parents[2] / "sql" / "queries" / "listing.sql"


def _fragment(name: str) -> list[str]:
    """The SQL lines of one fragment (its leading comment lines dropped)."""
    text = LISTING.read_text()
    body = text.split(f"-- fragment: {name}\n", 1)[1]
    body = re.split(r"^-- (?:fragment|name): ", body, flags=re.M)[0]
    return [line.strip() for line in body.splitlines() if line.strip() and not line.startswith("--")]


def test_the_row_checked_topic_and_entity_filters_say_what_the_indexed_ones_say():
    """The ranked relevance tiers check topic and entity filters row by row; the other lists
    may use their indexes. Apart from the wrapping that keeps indexes away, the two are one."""
    indexed = _fragment("signal_id_filters")
    by_row = _fragment("signal_id_filters_by_row")
    assert len(indexed) == 4
    wrapped = re.compile(r"\(s\.(topic_ids|entity_ids) \|\| '\{\}'::bigint\[\]\)")
    unwrapped = [wrapped.sub(r"s.\1", line) for line in by_row]
    assert unwrapped == indexed
    assert all("|| '{}'::bigint[]" in line for line in by_row)
