"""DayPieces (service/time_window.py): how the analysts' aggregates split a window between the
daily counts and the signals themselves."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise

from service.time_window import DayPieces

DAY = timedelta(days=1)


def midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, UTC)


def test_a_window_inside_one_day_is_read_from_the_signals():
    since = datetime(2026, 3, 4, 6, tzinfo=UTC)
    pieces = DayPieces.of(since, since + timedelta(hours=12))
    assert (pieces.day_from, pieces.raw_from, pieces.raw_to) == ([], [since], [since + timedelta(hours=12)])


def test_the_day_around_a_cut_is_read_from_the_signals_in_one_piece():
    previous, since, until = (datetime(2026, 3, d, 6, tzinfo=UTC) for d in (1, 4, 7))
    pieces = DayPieces.of(previous, since, until)
    assert pieces.day_from == [date(2026, 3, 2), date(2026, 3, 5)]
    assert pieces.day_to == [date(2026, 3, 4), date(2026, 3, 7)]
    assert list(zip(pieces.raw_from, pieces.raw_to, strict=True)) == [
        (previous, midnight(date(2026, 3, 2))),
        (midnight(date(2026, 3, 4)), midnight(date(2026, 3, 5))),  # both sides of since
        (midnight(date(2026, 3, 7)), until),
    ]


def test_midnight_cuts_leave_nothing_to_the_signals():
    pieces = DayPieces.of(*(midnight(date(2026, 3, d)) for d in (1, 4, 7)))
    assert (pieces.day_from, pieces.day_to) == (
        [date(2026, 3, 1)],
        [date(2026, 3, 7)],
    )
    assert pieces.raw_from == []


def test_day_pieces_cover_a_span_once_and_no_counted_day_has_a_cut_inside():
    rng = random.Random(3)
    base = datetime(2026, 1, 1, tzinfo=UTC)
    for _ in range(500):
        cuts = sorted(base + timedelta(minutes=rng.randrange(10 * 24 * 60)) for _ in range(rng.randint(2, 3)))
        if rng.random() < 0.3:  # midnights too
            cuts = [c.replace(hour=0, minute=0) for c in cuts]
        pieces = DayPieces.of(*cuts)
        spans = [
            (midnight(a), midnight(b)) for a, b in zip(pieces.day_from, pieces.day_to, strict=True)
        ] + list(zip(pieces.raw_from, pieces.raw_to, strict=True))
        spans.sort()
        covered = [(a, b) for a, b in spans if a < b]
        assert len(covered) == len(spans)  # no empty piece
        # contiguous from the first cut to the last, no overlap
        assert covered[0][0] == cuts[0] if cuts[0] < cuts[-1] else not covered
        for (_, end), (begin, _) in pairwise(covered):
            assert end == begin
        if covered:
            assert covered[-1][1] == cuts[-1]
        for a, b in zip(pieces.day_from, pieces.day_to, strict=True):
            assert isinstance(a, date) and a < b
            day = midnight(a)
            while day < midnight(b):  # a cut may fall on a midnight between them, never inside one
                assert not any(day < cut < day + DAY for cut in cuts), (cuts, a, b)
                day += DAY
        for a, b in zip(pieces.raw_from, pieces.raw_to, strict=True):
            # read from the signals only where a cut falls inside the day (or the span ends)
            day = midnight(a.date())
            while day < b:
                inside = max(day, a) > day or min(day + DAY, b) < day + DAY
                assert inside or any(day < cut < day + DAY for cut in cuts), (cuts, a, b, day)
                day += DAY
