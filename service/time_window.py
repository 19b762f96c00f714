"""Time windows from query parameters: ``since`` / ``until`` / ``window=7d``, always in UTC.

``since`` and ``until`` take an ISO date (``2026-11-01``) or an RFC 3339 date-time; a
date-time without an offset is UTC. A bare date as ``since`` is the start of that day and
as ``until`` the end of it (the whole day is included), as on ``GET /v1/signals``.
Windows are half-open: ``since <= created_at < until``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from schemas.problems import FieldError
from service.errors import BadRequest

_DURATION_RE = re.compile(r"^(?P<n>[1-9]\d{0,3})(?P<unit>[hdw])$")
_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
MAX_WINDOW = timedelta(days=3660)
"""Ten years: longer windows are certainly a typo, and they double as the trending baseline."""
EARLIEST_DAY = date(1900, 1, 1)
LATEST_DAY = date(9000, 12, 31)
"""Dates the API accepts: far enough inside Python's years 1-9999 that a window, its trending
baseline or a week around it never leaves them, and wide enough for any article's date."""
DAY_RANGE = f"years {EARLIEST_DAY.year} to {LATEST_DAY.year}"


@dataclass(frozen=True, slots=True)
class Window:
    """A half-open UTC interval ``[since, until)``."""

    since: datetime
    until: datetime

    @property
    def length(self) -> timedelta:
        return self.until - self.since

    def previous(self) -> Window:
        """The window of equal length just before this one (the trending baseline)."""
        return Window(self.since - self.length, self.since)


def _bad(name: str, message: str) -> BadRequest:
    return BadRequest(
        message, reason="bad_parameter", errors=[FieldError(message=message, key=name, source="query")]
    )


def check_day(day: date, name: str, *, source: str | None = "query") -> date:
    """``day`` itself when it lies in the years 1900 to 9000; 400 naming ``name`` otherwise
    (a far date would take the arithmetic on it out of Python's range)."""
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        message = f"{name} must be a date in the {DAY_RANGE}, got {day.isoformat()}"
        raise BadRequest(
            message, reason="bad_parameter", errors=[FieldError(message=message, key=name, source=source)]
        )
    return day


def parse_instant(value: str, name: str, *, end_of_day: bool = False) -> datetime:
    """An aware UTC datetime from an ISO date or date-time in the years 1900 to 9000; 400
    naming ``name`` otherwise.

    With ``end_of_day`` a bare date means the midnight after it (an exclusive upper bound).
    """
    text = value.strip()
    try:
        if len(text) == 10:
            day = check_day(date.fromisoformat(text), name)
            if end_of_day:
                day += timedelta(days=1)
            return datetime.combine(day, time.min, UTC)
        moment = datetime.fromisoformat(text.upper())  # 3.11 reads "Z"; upper() accepts "z" too
    except (ValueError, OverflowError):
        raise _bad(name, f"{name} must be an ISO date or date-time, got {value!r}") from None
    check_day(moment.date(), name)  # before converting: an offset may cross year 1 or 9999
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_duration(value: str, name: str = "window") -> timedelta:
    """``6h``, ``7d``, ``2w`` → a timedelta; 400 otherwise."""
    match = _DURATION_RE.match(value.strip())
    if match is None:
        raise _bad(name, f"{name} must look like 24h, 7d or 4w, got {value!r}")
    length = int(match["n"]) * _UNITS[match["unit"]]
    if length > MAX_WINDOW:
        raise _bad(name, f"{name} may be at most {MAX_WINDOW.days} days")
    return length


def resolve_window(
    *,
    since: str | None,
    until: str | None,
    window: str | None,
    default: timedelta,
    now: datetime,
) -> Window:
    """The window the parameters describe; any two of since / until / window fix it.

    - nothing: the ``default`` length ending ``now``;
    - ``window`` alone: that length ending ``now``; with ``since`` or ``until``: anchored there;
    - ``since`` alone: up to ``now``; ``until`` alone: ``default`` (or ``window``) before it;
    - all three: 400 (over-determined). ``since`` must be before ``until``.
    """
    # An empty value is the same as none, as GET /v1/signals reads it (forms send them).
    since, until, window = since or None, until or None, window or None
    if since is not None and until is not None and window is not None:
        raise _bad("window", "give at most two of since, until and window")
    length = parse_duration(window) if window is not None else default
    start = parse_instant(since, "since") if since is not None else None
    end = parse_instant(until, "until", end_of_day=True) if until is not None else None
    if start is None and end is None:
        end = now
    if start is None:
        assert end is not None
        start = end - length
    elif end is None:
        end = start + length if window is not None else now
    if start >= end:
        raise BadRequest(
            "since must be before until",
            reason="inverted_range",
            errors=[FieldError(message="since must be before until", key="since", source="query")],
        )
    if end - start > MAX_WINDOW:
        raise _bad("since", f"a window may be at most {MAX_WINDOW.days} days long")
    return Window(start, end)


@dataclass(frozen=True, slots=True)
class DayPieces:
    """A span cut at some instants, as the analysts' aggregates read it: whole UTC days
    (``[day_from[i], day_to[i])``) from the daily counts (sql/migrations/0017), and the days
    a cut falls inside, clipped to the span (``[raw_from[i], raw_to[i])``), from the signals.

    No day read from the daily counts has a cut inside it, so its count belongs to one side
    of every cut; the pieces together cover the span exactly once.
    """

    day_from: list[date]
    day_to: list[date]
    raw_from: list[datetime]
    raw_to: list[datetime]

    @classmethod
    def of(cls, *cuts: datetime) -> DayPieces:
        """The pieces of ``[cuts[0], cuts[-1])`` cut at every instant given (ascending)."""
        cuts = tuple(cut.astimezone(UTC) for cut in cuts)
        start, end = cuts[0], cuts[-1]
        pieces = cls([], [], [], [])
        if start >= end:
            return pieces
        # the days a cut falls inside (not on their midnight), clipped to the span: from signals
        partial: list[tuple[datetime, datetime]] = []
        for cut in cuts:
            low, high = _midnight_at_or_before(cut), _midnight_at_or_after(cut)
            if low == high:
                continue
            low, high = max(low, start), min(high, end)
            if partial and low <= partial[-1][1]:  # touching the previous one: one piece
                partial[-1] = (partial[-1][0], high)
            else:
                partial.append((low, high))
        # every day between them from the daily counts
        cursor = start
        for low, high in partial:
            if cursor < low:
                pieces.day_from.append(cursor.date())
                pieces.day_to.append(low.date())
            pieces.raw_from.append(low)
            pieces.raw_to.append(high)
            cursor = high
        if cursor < end:
            pieces.day_from.append(cursor.date())
            pieces.day_to.append(end.date())
        return pieces

    def params(self) -> dict[str, list[date] | list[datetime]]:
        return {
            "day_from": self.day_from,
            "day_to": self.day_to,
            "raw_from": self.raw_from,
            "raw_to": self.raw_to,
        }


def _midnight_at_or_before(moment: datetime) -> datetime:
    utc = moment.astimezone(UTC)
    return datetime.combine(utc.date(), time.min, UTC)


def _midnight_at_or_after(moment: datetime) -> datetime:
    floor = _midnight_at_or_before(moment)
    return floor if floor == moment else floor + timedelta(days=1)
