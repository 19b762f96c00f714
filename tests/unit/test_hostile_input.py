"""Refusing hostile input at the edge: NUL characters in paths and query strings, dates far
enough out to break window arithmetic, cursors holding numbers past a bigint."""

from __future__ import annotations

from datetime import date

import pytest

from service.digests.periods import period_window
from service.errors import BadRequest
from service.hostile_input import find_nul
from service.pagination import decode_cursor, decode_cursor_as, encode_cursor
from service.time_window import check_day, parse_instant, resolve_window


def _scope(path: str = "/v1/signals", query: bytes = b"") -> dict[str, object]:
    return {"type": "http", "path": path, "query_string": query}


@pytest.mark.parametrize(
    ("query", "key"),
    [
        (b"q=a%00b", "q"),
        (b"limit=5&topic=ports%00&topic=rail", "topic"),
        (b"source=%00", "source"),
        (b"lang=en%2500&q=x%00", "q"),  # %2500 is the text "%00", not a NUL
    ],
)
def test_a_nul_in_a_query_parameter_is_named(query, key):
    error = find_nul(_scope(query=query))
    assert error is not None and error.status == 400 and error.reason == "bad_parameter"
    assert error.extra["errors"][0].key == key and error.extra["errors"][0].source == "query"


@pytest.mark.parametrize("query", [b"", b"q=harbour", b"lang=en%2500", b"q=100%25", b"q=%C3%A9t%C3%A9"])
def test_queries_without_a_nul_pass(query):
    assert find_nul(_scope(query=query)) is None


def test_a_nul_in_a_parameter_name_or_the_path_is_refused():
    assert find_nul(_scope(query=b"q%00=x")) is not None
    error = find_nul(_scope(path="/v1/topics/ports\x00"))
    assert error is not None and error.extra["errors"][0].source == "path"


@pytest.mark.parametrize("day", [date(1899, 12, 31), date(9001, 1, 1), date(1, 1, 1), date(9999, 12, 31)])
def test_days_outside_1900_to_9000_are_refused(day):
    with pytest.raises(BadRequest, match="years 1900 to 9000"):
        check_day(day, "since")


@pytest.mark.parametrize("day", [date(1900, 1, 1), date(2026, 11, 23), date(9000, 12, 31)])
def test_days_inside_the_range_pass_and_periods_around_them_compute(day):
    assert check_day(day, "date") == day
    week = period_window("weekly", day)
    assert week.since < week.until and week.label()


@pytest.mark.parametrize(
    "value", ["9999-12-31", "0001-01-01", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00+01:00"]
)
def test_far_instants_are_a_400_not_an_overflow(value):
    with pytest.raises(BadRequest) as raised:
        parse_instant(value, "until", end_of_day=True)
    assert raised.value.extra["errors"][0].key == "until"


def test_the_latest_accepted_day_still_makes_a_window_and_its_baseline():
    from datetime import UTC, datetime, timedelta

    window = resolve_window(
        since=None, until="9000-12-31", window="520w", default=timedelta(days=7), now=datetime.now(UTC)
    )
    assert window.until == datetime(9001, 1, 1, tzinfo=UTC)
    assert window.previous().since < window.since  # the trending baseline, ten years before


@pytest.mark.parametrize("number", [2**63, 2**70, -(2**63) - 1])
def test_a_cursor_holding_a_number_past_a_bigint_is_a_bad_cursor(number):
    token = encode_cursor("k", {"x": number, "nested": [1, {"y": 2}]})
    with pytest.raises(BadRequest) as raised:
        decode_cursor(token, "k")
    assert raised.value.reason == "bad_cursor"
    deep = encode_cursor("k", {"x": 1, "nested": [1, {"y": number}]})
    with pytest.raises(BadRequest):
        decode_cursor(deep, "k")


def test_a_cursor_at_the_bigint_edges_is_fine():
    token = encode_cursor("k", {"x": 2**63 - 1, "y": -(2**63)})
    assert decode_cursor(token, "k") == {"x": 2**63 - 1, "y": -(2**63)}


def test_a_cursor_converted_to_dates_outside_the_range_is_a_bad_cursor():
    import msgspec

    class Position(msgspec.Struct):
        c: date

    assert decode_cursor_as(encode_cursor("k", {"c": "2026-01-05"}), "k", Position).c == date(2026, 1, 5)
    with pytest.raises(BadRequest) as raised:
        decode_cursor_as(encode_cursor("k", {"c": "0001-01-01"}), "k", Position)
    assert raised.value.reason == "bad_cursor"
