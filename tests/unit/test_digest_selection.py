"""Briefing selection: periods, one signal per story, significance, budget. Pure functions."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from service.digests.periods import period_window, previous_period
from service.digests.selection import (
    Candidate,
    collapse_stories,
    fit_to_budget,
    rank_stories,
    section_bounds,
)

DAY = period_window("daily", date(2026, 11, 20))


def at(hour: int, minute: int = 0) -> datetime:
    return DAY.since + timedelta(hours=hour, minutes=minute)


def candidate(
    hour: int = 12, story: UUID | None = None, lead: bool = False, entities: tuple[int, ...] = ()
) -> Candidate:
    return Candidate(id=uuid4(), story_id=story, is_story_lead=lead, created_at=at(hour), entity_ids=entities)


def test_periods_are_utc_days_and_monday_weeks():
    assert DAY.since == datetime(2026, 11, 20, tzinfo=UTC) and DAY.until == datetime(2026, 11, 21, tzinfo=UTC)
    week = period_window("weekly", date(2026, 11, 20))  # a Friday
    assert week.start == date(2026, 11, 16) and week.start.weekday() == 0
    assert week.last_day == date(2026, 11, 22)
    assert week.until - week.since == timedelta(days=7)


def test_the_previous_period_is_yesterday_or_last_week():
    monday_six = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
    assert previous_period("daily", monday_six).start == date(2026, 11, 22)
    assert previous_period("weekly", monday_six).start == date(2026, 11, 16)
    # Just after midnight is still "the day before".
    assert previous_period("daily", datetime(2026, 11, 23, 0, 0, 1, tzinfo=UTC)).start == date(2026, 11, 22)


def test_one_story_collapses_to_its_lead_when_the_lead_is_in_the_period():
    story = uuid4()
    reports = [candidate(9, story), candidate(10, story, lead=True), candidate(8, story)]
    alone = candidate(11)
    groups = collapse_stories([*reports, alone])
    assert len(groups) == 2
    by_key = {g.key: g for g in groups}
    assert by_key[story].representative == reports[1] and by_key[story].coverage == 3
    assert by_key[alone.id].representative == alone and by_key[alone.id].coverage == 1


def test_a_story_whose_lead_is_outside_the_period_is_represented_by_its_newest_report():
    story = uuid4()
    older, newer = candidate(7, story), candidate(15, story)
    [group] = collapse_stories([older, newer])
    assert group.representative == newer


def test_coverage_outranks_a_single_report():
    story = uuid4()
    covered = [candidate(8, story, lead=(i == 0)) for i in range(3)]
    single = candidate(23)  # later, but alone
    ranked = rank_stories([*covered, single], DAY.since, DAY.until)
    assert ranked[0].group.key == story and ranked[0].coverage == 3
    assert ranked[0].score == pytest.approx(2 + 0.25 * 8 / 24, abs=1e-4)  # log2(1+3), no shared names
    assert ranked[1].signal_id == single.id


def test_prominent_names_outrank_obscure_ones():
    # Entity 1 is named by four stories; entity 9 by one.
    talked_about = [candidate(10, entities=(1,)) for _ in range(4)]
    obscure = candidate(10, entities=(9,))
    ranked = rank_stories([*talked_about, obscure], DAY.since, DAY.until)
    assert ranked[-1].signal_id == obscure.id and ranked[-1].prominence == 0
    # Three of the four other stories share entity 1: share 3/4, averaged over the top two names.
    assert ranked[0].prominence == pytest.approx(0.75 / 2)


def test_recency_breaks_ties_and_order_is_stable():
    early, late = candidate(1), candidate(22)
    ranked = rank_stories([early, late], DAY.since, DAY.until)
    assert [r.signal_id for r in ranked] == [late.id, early.id]
    assert rank_stories([late, early], DAY.since, DAY.until) == ranked
    assert 0 <= ranked[1].recency < ranked[0].recency <= 1
    assert ranked[0].score == pytest.approx(math.log2(2) + 0.25 * 22 / 24, abs=1e-4)


def test_the_budget_keeps_the_longest_prefix_that_fits_and_at_least_one():
    assert fit_to_budget([100, 100, 100], overhead=50, budget=260) == 2
    assert fit_to_budget([100, 100, 100], overhead=50, budget=1000) == 3
    assert fit_to_budget([500], overhead=50, budget=100) == 1
    assert fit_to_budget([], overhead=50, budget=100) == 0


@pytest.mark.parametrize(
    ("stories", "bounds"),
    [(2, (1, 1)), (3, (1, 1)), (4, (2, 2)), (6, (3, 3)), (8, (3, 4)), (10, (3, 5)), (40, (3, 5))],
)
def test_sections_are_three_to_five_when_there_is_enough_to_weave(stories, bounds):
    assert section_bounds(stories) == bounds
