"""Windows from since / until / window parameters, and the timeline's bucket alignment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from service.errors import BadRequest, InvalidRequest
from service.time_window import Window, parse_duration, parse_instant, resolve_window
from service.topics.service import bucket_start, timeline_window

NOW = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)  # a Friday
DAY = timedelta(days=1)


def window(**params: str | None) -> Window:
    values = {"since": None, "until": None, "window": None, **params}
    return resolve_window(**values, default=7 * DAY, now=NOW)


def test_instants_are_utc_and_bare_dates_cover_whole_days():
    assert parse_instant("2026-11-01", "since") == datetime(2026, 11, 1, tzinfo=UTC)
    assert parse_instant("2026-11-01", "until", end_of_day=True) == datetime(2026, 11, 2, tzinfo=UTC)
    assert parse_instant("2026-11-01T10:00:00", "since") == datetime(2026, 11, 1, 10, tzinfo=UTC)
    assert parse_instant("2026-11-01T10:00:00z", "since") == datetime(2026, 11, 1, 10, tzinfo=UTC)
    assert parse_instant("2026-11-01T12:00:00+02:00", "since") == datetime(2026, 11, 1, 10, tzinfo=UTC)


@pytest.mark.parametrize("value", ["yesterday", "2026-02-30", "2026-11-01T25:00", ""])
def test_bad_instants_name_the_parameter(value):
    with pytest.raises(BadRequest) as caught:
        parse_instant(value, "since")
    assert caught.value.reason == "bad_parameter" and caught.value.extra["errors"][0].key == "since"


def test_durations():
    assert parse_duration("24h") == DAY and parse_duration("2w") == 14 * DAY
    for bad in ("7", "d", "0d", "-1d", "1.5d", "7 days", "99999d"):
        with pytest.raises(BadRequest):
            parse_duration(bad)


def test_any_two_parameters_fix_the_window():
    assert window() == Window(NOW - 7 * DAY, NOW)
    assert window(window="30d") == Window(NOW - 30 * DAY, NOW)
    since = datetime(2026, 11, 1, tzinfo=UTC)
    assert window(since="2026-11-01") == Window(since, NOW)
    assert window(since="2026-11-01", window="2d") == Window(since, since + 2 * DAY)
    assert window(until="2026-11-01") == Window(since + DAY - 7 * DAY, since + DAY)
    assert window(until="2026-11-01", window="1d") == Window(since, since + DAY)
    assert window(since="2026-11-01", until="2026-11-01") == Window(since, since + DAY)


def test_inverted_empty_overlong_and_overdetermined_windows_are_refused():
    for params, reason in [
        ({"since": "2026-11-10", "until": "2026-11-01"}, "inverted_range"),
        ({"since": "2026-12-01"}, "inverted_range"),  # after now
        ({"since": "2026-11-01T00:00:00Z", "until": "2026-11-01T00:00:00Z"}, "inverted_range"),
        ({"since": "1990-01-01", "until": "2026-01-01"}, "bad_parameter"),
        ({"since": "2026-11-01", "until": "2026-11-02", "window": "1d"}, "bad_parameter"),
    ]:
        with pytest.raises(BadRequest) as caught:
            window(**params)
        assert caught.value.reason == reason, params


def test_buckets_are_utc_days_and_monday_weeks():
    assert bucket_start(NOW, "day") == datetime(2026, 11, 20, tzinfo=UTC)
    assert bucket_start(NOW, "week") == datetime(2026, 11, 16, tzinfo=UTC)
    sunday_late_in_tokyo = datetime.fromisoformat("2026-11-23T01:00:00+09:00")  # Sunday 16:00 UTC
    assert bucket_start(sunday_late_in_tokyo, "week") == datetime(2026, 11, 16, tzinfo=UTC)


def test_default_timelines_end_with_the_current_bucket():
    daily = timeline_window(interval="day", since=None, until=None, window=None, now=NOW)
    assert daily == Window(datetime(2026, 10, 22, tzinfo=UTC), NOW)  # 30 buckets, today's partial
    weekly = timeline_window(interval="week", since=None, until=None, window=None, now=NOW)
    assert weekly.since == datetime(2026, 5, 25, tzinfo=UTC) and weekly.since.weekday() == 0
    assert (NOW - weekly.since) // timedelta(weeks=1) == 25


def test_timeline_windows_align_since_and_cap_the_bucket_count():
    aligned = timeline_window(interval="week", since="2026-11-19", until="2026-11-20", window=None, now=NOW)
    assert aligned.since == datetime(2026, 11, 16, tzinfo=UTC)
    with pytest.raises(InvalidRequest) as caught:
        timeline_window(interval="day", since="2020-01-01", until="2026-01-01", window=None, now=NOW)
    assert caught.value.reason == "too_many_buckets"
