"""The periods a briefing covers: a UTC day, or a week of UTC days starting Monday. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from service.time_window import check_day

Period = Literal["daily", "weekly"]
PERIODS: tuple[Period, ...] = ("daily", "weekly")
_LENGTH = {"daily": timedelta(days=1), "weekly": timedelta(days=7)}


@dataclass(frozen=True, slots=True)
class PeriodWindow:
    """One period: ``since <= created_at < until`` in UTC."""

    period: Period
    start: date

    @property
    def since(self) -> datetime:
        return datetime.combine(self.start, time.min, UTC)

    @property
    def until(self) -> datetime:
        return self.since + _LENGTH[self.period]

    @property
    def last_day(self) -> date:
        """The last day the period covers (the start itself for a daily briefing)."""
        return (self.until - timedelta(days=1)).date()

    def label(self) -> str:
        """How the period reads in a prompt or a feed: 'Friday 20 November 2026' or a week range."""
        if self.period == "daily":
            return f"{self.start:%A} {self.start.day} {self.start:%B %Y}"
        return f"the week of {self.start.day} {self.start:%B} to {self.last_day.day} {self.last_day:%B %Y}"


def period_window(period: Period, day: date) -> PeriodWindow:
    """The period of ``period`` kind that contains ``day`` (weeks start on Monday); 400 for a
    day outside the years 1900 to 9000 (as a query parameter or a body field: ``date``)."""
    check_day(day, "date", source=None)
    if period == "weekly":
        day -= timedelta(days=day.weekday())
    return PeriodWindow(period, day)


def previous_period(period: Period, moment: datetime) -> PeriodWindow:
    """The last complete period before ``moment``: yesterday (UTC), or last week for weekly."""
    today = moment.astimezone(UTC).date()
    current = period_window(period, today)
    return period_window(period, current.start - timedelta(days=1))
