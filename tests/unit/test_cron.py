"""Specification of the Quartz cron engine (``server.base.cron``) and its CLI (``server.cron``).

Expected fire times are literal dates worked out from the calendar; 2026-01-01 is a Thursday.
"""

from __future__ import annotations

import calendar
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import FrozenInstanceError
from datetime import UTC, date, datetime, timedelta, timezone
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from server.base.cron import CronExpression, InvalidCronExpression, fire_times, validate

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def berlin(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, *, fold: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=BERLIN, fold=fold)


def new_york(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, *, fold: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=NEW_YORK, fold=fold)


def next_fires(expression: str, after: datetime, count: int) -> list[datetime]:
    return fire_times(CronExpression.parse(expression), after, count)


def iso(moments: list[datetime]) -> list[str]:
    """ISO text keeps the offset, so two wall-equal times in different offsets compare unequal."""
    return [moment.isoformat() for moment in moments]


# ---------------------------------------------------------------------------------------------
# The examples of the Quartz CronTrigger tutorial


def test_noon_every_day() -> None:
    assert next_fires("0 0 12 * * ?", utc(2026, 1, 1), 3) == [
        utc(2026, 1, 1, 12),
        utc(2026, 1, 2, 12),
        utc(2026, 1, 3, 12),
    ]


def test_ten_fifteen_every_day_with_day_of_month_unspecified() -> None:
    assert next_fires("0 15 10 ? * *", utc(2026, 1, 1, 10, 15), 2) == [
        utc(2026, 1, 2, 10, 15),
        utc(2026, 1, 3, 10, 15),
    ]


def test_ten_fifteen_every_day_during_2005_only() -> None:
    assert next_fires("0 15 10 * * ? 2005", utc(2004, 6, 1), 2) == [
        utc(2005, 1, 1, 10, 15),
        utc(2005, 1, 2, 10, 15),
    ]
    assert CronExpression.parse("0 15 10 * * ? 2005").next_fire_after(utc(2005, 12, 31, 10, 14, 59)) == utc(
        2005, 12, 31, 10, 15
    )
    assert CronExpression.parse("0 15 10 * * ? 2005").next_fire_after(utc(2005, 12, 31, 10, 15)) is None
    assert CronExpression.parse("0 15 10 * * ? 2005").next_fire_after(utc(2026, 1, 1)) is None


def test_every_minute_from_two_to_two_fifty_nine_pm() -> None:
    assert next_fires("0 * 14 * * ?", utc(2026, 1, 1, 13), 3) == [
        utc(2026, 1, 1, 14, 0),
        utc(2026, 1, 1, 14, 1),
        utc(2026, 1, 1, 14, 2),
    ]
    assert next_fires("0 * 14 * * ?", utc(2026, 1, 1, 14, 58), 2) == [
        utc(2026, 1, 1, 14, 59),
        utc(2026, 1, 2, 14, 0),
    ]


def test_every_five_minutes_from_two_pm() -> None:
    fires = next_fires("0 0/5 14 * * ?", utc(2026, 1, 1), 13)
    assert fires[:3] == [utc(2026, 1, 1, 14, 0), utc(2026, 1, 1, 14, 5), utc(2026, 1, 1, 14, 10)]
    assert fires[11:] == [utc(2026, 1, 1, 14, 55), utc(2026, 1, 2, 14, 0)]


def test_every_five_minutes_in_two_hour_lists() -> None:
    assert next_fires("0 0/5 14,18 * * ?", utc(2026, 1, 1, 14, 55), 2) == [
        utc(2026, 1, 1, 18, 0),
        utc(2026, 1, 1, 18, 5),
    ]
    assert next_fires("0 0/5 14,18 * * ?", utc(2026, 1, 1, 18, 55), 1) == [utc(2026, 1, 2, 14, 0)]


def test_every_minute_of_a_minute_range() -> None:
    assert next_fires("0 0-5 14 * * ?", utc(2026, 1, 1), 7) == [
        utc(2026, 1, 1, 14, 0),
        utc(2026, 1, 1, 14, 1),
        utc(2026, 1, 1, 14, 2),
        utc(2026, 1, 1, 14, 3),
        utc(2026, 1, 1, 14, 4),
        utc(2026, 1, 1, 14, 5),
        utc(2026, 1, 2, 14, 0),
    ]


def test_wednesdays_in_march_at_two_ten_and_two_forty_four() -> None:
    assert next_fires("0 10,44 14 ? 3 WED", utc(2026, 1, 1), 3) == [
        utc(2026, 3, 4, 14, 10),
        utc(2026, 3, 4, 14, 44),
        utc(2026, 3, 11, 14, 10),
    ]
    # the last Wednesday of March 2026 is the 25th; the next March starts on a Monday
    assert next_fires("0 10,44 14 ? 3 WED", utc(2026, 3, 25, 14, 44), 1) == [utc(2027, 3, 3, 14, 10)]


def test_weekdays_monday_to_friday() -> None:
    assert next_fires("0 15 10 ? * MON-FRI", utc(2026, 1, 2, 10, 15), 2) == [
        utc(2026, 1, 5, 10, 15),
        utc(2026, 1, 6, 10, 15),
    ]


def test_fifteenth_of_every_month() -> None:
    assert next_fires("0 15 10 15 * ?", utc(2026, 1, 1), 3) == [
        utc(2026, 1, 15, 10, 15),
        utc(2026, 2, 15, 10, 15),
        utc(2026, 3, 15, 10, 15),
    ]


def test_last_day_of_every_month() -> None:
    assert next_fires("0 15 10 L * ?", utc(2026, 1, 1), 4) == [
        utc(2026, 1, 31, 10, 15),
        utc(2026, 2, 28, 10, 15),
        utc(2026, 3, 31, 10, 15),
        utc(2026, 4, 30, 10, 15),
    ]
    assert next_fires("0 15 10 L * ?", utc(2028, 2, 1), 1) == [utc(2028, 2, 29, 10, 15)]


def test_two_days_before_the_last_day_of_every_month() -> None:
    assert next_fires("0 15 10 L-2 * ?", utc(2026, 1, 1), 3) == [
        utc(2026, 1, 29, 10, 15),
        utc(2026, 2, 26, 10, 15),
        utc(2026, 3, 29, 10, 15),
    ]
    assert next_fires("0 15 10 L-2 * ?", utc(2028, 2, 1), 1) == [utc(2028, 2, 27, 10, 15)]


def test_last_friday_of_every_month() -> None:
    assert next_fires("0 15 10 ? * 6L", utc(2026, 1, 1), 3) == [
        utc(2026, 1, 30, 10, 15),
        utc(2026, 2, 27, 10, 15),
        utc(2026, 3, 27, 10, 15),
    ]


def test_last_friday_of_every_month_from_2002_to_2005() -> None:
    expression = CronExpression.parse("0 15 10 ? * 6L 2002-2005")
    assert fire_times(expression, utc(2001, 1, 1), 2) == [utc(2002, 1, 25, 10, 15), utc(2002, 2, 22, 10, 15)]
    assert fire_times(expression, utc(2005, 12, 1), 1) == [utc(2005, 12, 30, 10, 15)]
    assert expression.next_fire_after(utc(2005, 12, 30, 10, 15)) is None
    assert len(fire_times(expression, utc(2001, 1, 1), 100)) == 48


def test_third_friday_of_every_month() -> None:
    assert next_fires("0 15 10 ? * 6#3", utc(2026, 1, 1), 3) == [
        utc(2026, 1, 16, 10, 15),
        utc(2026, 2, 20, 10, 15),
        utc(2026, 3, 20, 10, 15),
    ]


def test_every_five_days_starting_on_the_first() -> None:
    assert next_fires("0 0 12 1/5 * ?", utc(2026, 1, 1), 9) == [
        utc(2026, 1, 1, 12),
        utc(2026, 1, 6, 12),
        utc(2026, 1, 11, 12),
        utc(2026, 1, 16, 12),
        utc(2026, 1, 21, 12),
        utc(2026, 1, 26, 12),
        utc(2026, 1, 31, 12),
        utc(2026, 2, 1, 12),
        utc(2026, 2, 6, 12),
    ]


def test_november_eleventh_at_eleven_eleven() -> None:
    assert next_fires("0 11 11 11 11 ?", utc(2026, 1, 1), 2) == [
        utc(2026, 11, 11, 11, 11),
        utc(2027, 11, 11, 11, 11),
    ]


# ---------------------------------------------------------------------------------------------
# Day-of-month and day-of-week special forms


def test_nearest_weekday_keeps_a_weekday_as_it_is() -> None:
    assert next_fires("0 0 9 15W * ?", utc(2026, 1, 1), 1) == [utc(2026, 1, 15, 9)]  # a Thursday


def test_nearest_weekday_to_a_saturday_is_the_friday_before() -> None:
    assert next_fires("0 0 9 15W * ?", utc(2026, 8, 1), 1) == [utc(2026, 8, 14, 9)]


def test_nearest_weekday_to_a_sunday_is_the_monday_after() -> None:
    assert next_fires("0 0 9 15W * ?", utc(2026, 2, 1), 1) == [utc(2026, 2, 16, 9)]


def test_nearest_weekday_to_a_saturday_first_moves_forward_to_monday_the_third() -> None:
    assert next_fires("0 0 9 1W * ?", utc(2026, 7, 31), 1) == [utc(2026, 8, 3, 9)]
    assert next_fires("0 0 9 1W * ?", utc(2027, 4, 30), 1) == [utc(2027, 5, 3, 9)]


def test_nearest_weekday_to_a_sunday_first_is_monday_the_second() -> None:
    assert next_fires("0 0 9 1W * ?", utc(2026, 1, 31), 1) == [utc(2026, 2, 2, 9)]


def test_nearest_weekday_to_a_sunday_thirty_first_moves_back_to_friday_the_twenty_ninth() -> None:
    assert next_fires("0 0 9 31W * ?", utc(2026, 5, 1), 1) == [utc(2026, 5, 29, 9)]
    assert next_fires("0 0 9 31W * ?", utc(2027, 1, 1), 1) == [utc(2027, 1, 29, 9)]


def test_nearest_weekday_never_fires_in_a_month_without_that_day() -> None:
    # April and June 2026 have no 31st; July 31st is a Friday
    assert next_fires("0 0 9 31W * ?", utc(2026, 6, 1), 1) == [utc(2026, 7, 31, 9)]
    assert next_fires("0 0 9 31W * ?", utc(2026, 3, 31, 9), 1) == [utc(2026, 5, 29, 9)]


def test_nearest_weekday_before_the_start_time_waits_for_the_next_month() -> None:
    # 15W in August 2026 is Friday the 14th; on the 15th it has already passed
    assert next_fires("0 0 9 15W * ?", utc(2026, 8, 15), 1) == [utc(2026, 9, 15, 9)]


def test_last_weekday_of_the_month() -> None:
    assert next_fires("0 0 18 LW * ?", utc(2026, 1, 1), 5) == [
        utc(2026, 1, 30, 18),  # the 31st is a Saturday
        utc(2026, 2, 27, 18),  # the 28th is a Saturday
        utc(2026, 3, 31, 18),
        utc(2026, 4, 30, 18),
        utc(2026, 5, 29, 18),  # the 31st is a Sunday
    ]


def test_nearest_weekday_to_an_offset_from_the_last_day() -> None:
    # L-1 is Jan 30 (Fri), Feb 27 (Fri), Mar 30 (Mon), Apr 29 (Wed), May 30 (Sat -> Fri 29th)
    assert next_fires("0 0 18 L-1W * ?", utc(2026, 1, 1), 5) == [
        utc(2026, 1, 30, 18),
        utc(2026, 2, 27, 18),
        utc(2026, 3, 30, 18),
        utc(2026, 4, 29, 18),
        utc(2026, 5, 29, 18),
    ]


def test_an_offset_from_the_last_day_longer_than_the_month_never_fires_in_it() -> None:
    # L-30 exists only in 31-day months (the 1st); February and 30-day months are skipped
    assert next_fires("0 0 0 L-30 * ?", utc(2026, 1, 2), 3) == [
        utc(2026, 3, 1),
        utc(2026, 5, 1),
        utc(2026, 7, 1),
    ]


def test_l_alone_in_day_of_week_is_every_saturday() -> None:
    assert next_fires("0 0 12 ? * L", utc(2026, 1, 1), 3) == [
        utc(2026, 1, 3, 12),
        utc(2026, 1, 10, 12),
        utc(2026, 1, 17, 12),
    ]


def test_last_saturday_is_written_7l() -> None:
    assert next_fires("0 0 12 ? * 7L", utc(2026, 1, 1), 2) == [utc(2026, 1, 31, 12), utc(2026, 2, 28, 12)]


def test_fifth_weekday_fires_only_in_months_that_have_one() -> None:
    # Fridays of 2026: Jan 30 is the fifth, then none until May 29
    assert next_fires("0 15 10 ? * 6#5", utc(2026, 1, 1), 2) == [
        utc(2026, 1, 30, 10, 15),
        utc(2026, 5, 29, 10, 15),
    ]


def test_first_monday_by_name() -> None:
    assert next_fires("0 0 8 ? * MON#1", utc(2026, 1, 1), 3) == [
        utc(2026, 1, 5, 8),
        utc(2026, 2, 2, 8),
        utc(2026, 3, 2, 8),
    ]


def test_last_weekday_by_name_with_l_suffix() -> None:
    assert next_fires("0 0 8 ? * friL", utc(2026, 1, 1), 1) == [utc(2026, 1, 30, 8)]


def test_day_of_week_numbers_run_from_sunday_one_to_saturday_seven() -> None:
    expected_first_days = {1: 4, 2: 5, 3: 6, 4: 7, 5: 1, 6: 2, 7: 3}  # January 2026
    for weekday, day in expected_first_days.items():
        assert next_fires(f"0 0 0 ? * {weekday}", utc(2025, 12, 31, 12), 1) == [utc(2026, 1, day)]


# ---------------------------------------------------------------------------------------------
# Ranges, steps, lists, wrap-around, years, leap years


def test_a_range_of_one_value_is_that_value() -> None:
    assert next_fires("5-5 0 0 * * ?", utc(2026, 1, 1), 2) == [
        utc(2026, 1, 1, 0, 0, 5),
        utc(2026, 1, 2, 0, 0, 5),
    ]
    assert next_fires("0 0 12 ? * 5-5", utc(2026, 1, 1), 2) == [utc(2026, 1, 1, 12), utc(2026, 1, 8, 12)]


def test_an_hour_range_wraps_around_midnight() -> None:
    assert next_fires("0 0 22-2 * * ?", utc(2026, 1, 1, 2), 6) == [
        utc(2026, 1, 1, 22),
        utc(2026, 1, 1, 23),
        utc(2026, 1, 2, 0),
        utc(2026, 1, 2, 1),
        utc(2026, 1, 2, 2),
        utc(2026, 1, 2, 22),
    ]


def test_a_wrapping_range_with_a_step_counts_on_past_the_maximum() -> None:
    # 50-10/20 in minutes: 50, 70 -> 10
    assert next_fires("0 50-10/20 * * * ?", utc(2026, 1, 1), 3) == [
        utc(2026, 1, 1, 0, 10),
        utc(2026, 1, 1, 0, 50),
        utc(2026, 1, 1, 1, 10),
    ]


def test_a_weekday_range_wraps_from_friday_to_monday() -> None:
    assert next_fires("0 0 9 ? * FRI-MON", utc(2026, 1, 1), 5) == [
        utc(2026, 1, 2, 9),
        utc(2026, 1, 3, 9),
        utc(2026, 1, 4, 9),
        utc(2026, 1, 5, 9),
        utc(2026, 1, 9, 9),
    ]


def test_a_month_range_wraps_from_november_to_february() -> None:
    assert next_fires("0 0 0 1 NOV-FEB ?", utc(2026, 3, 1), 5) == [
        utc(2026, 11, 1),
        utc(2026, 12, 1),
        utc(2027, 1, 1),
        utc(2027, 2, 1),
        utc(2027, 11, 1),
    ]


def test_a_day_of_month_range_wraps_at_thirty_one_whatever_the_month() -> None:
    assert next_fires("0 0 0 30-2 * ?", utc(2026, 1, 29), 5) == [
        utc(2026, 1, 30),
        utc(2026, 1, 31),
        utc(2026, 2, 1),
        utc(2026, 2, 2),
        utc(2026, 3, 1),
    ]


def test_a_start_and_step_runs_to_the_end_of_the_field_only() -> None:
    # "7/6" in the month field is July only (13 is past December), as Quartz documents
    assert next_fires("0 0 0 1 7/6 ?", utc(2026, 1, 1), 2) == [utc(2026, 7, 1), utc(2027, 7, 1)]


def test_a_step_without_a_star_starts_at_the_minimum() -> None:
    assert next_fires("/20 * * * * ?", utc(2026, 1, 1), 3) == next_fires("*/20 * * * * ?", utc(2026, 1, 1), 3)
    assert next_fires("0 0 0 ? * */3", utc(2026, 1, 1), 3) == [  # Sunday, Wednesday, Saturday
        utc(2026, 1, 3),
        utc(2026, 1, 4),
        utc(2026, 1, 7),
    ]


def test_a_range_with_a_step() -> None:
    assert next_fires("0 0 8-17/3 * * ?", utc(2026, 1, 1), 5) == [
        utc(2026, 1, 1, 8),
        utc(2026, 1, 1, 11),
        utc(2026, 1, 1, 14),
        utc(2026, 1, 1, 17),
        utc(2026, 1, 2, 8),
    ]


def test_a_range_step_larger_than_the_range_keeps_the_start_as_quartz_does() -> None:
    assert next_fires("0-10/100 0 0 * * ?", utc(2025, 12, 31, 12), 2) == [utc(2026, 1, 1), utc(2026, 1, 2)]


def test_names_and_letters_are_case_insensitive() -> None:
    assert next_fires("0 15 10 ? jan-Mar mon-fri", utc(2026, 1, 1), 1) == [utc(2026, 1, 1, 10, 15)]
    assert next_fires("0 0 0 lw * ?", utc(2026, 1, 1), 1) == [utc(2026, 1, 30)]


def test_fields_may_be_separated_by_several_spaces_or_tabs() -> None:
    assert next_fires("  0\t0  12 * *\t?  ", utc(2026, 1, 1), 1) == [utc(2026, 1, 1, 12)]


def test_empty_list_items_are_ignored_as_in_quartz() -> None:
    assert next_fires("0 0 1,,13 * * ?", utc(2026, 1, 1), 2) == [utc(2026, 1, 1, 1), utc(2026, 1, 1, 13)]


def test_a_year_list_and_range() -> None:
    assert next_fires("0 0 0 1 1 ? 2030,2040-2041", utc(2026, 1, 1), 4) == [
        utc(2030, 1, 1),
        utc(2040, 1, 1),
        utc(2041, 1, 1),
    ]


def test_a_year_step_runs_to_2099() -> None:
    fires = next_fires("0 0 0 1 1 ? 2030/20", utc(2026, 1, 1), 10)
    assert fires == [utc(2030, 1, 1), utc(2050, 1, 1), utc(2070, 1, 1), utc(2090, 1, 1)]


def test_no_fire_time_is_searched_beyond_2099() -> None:
    expression = CronExpression.parse("0 0 0 1 1 ?")
    assert expression.next_fire_after(utc(2098, 6, 1)) == utc(2099, 1, 1)
    assert expression.next_fire_after(utc(2099, 1, 1)) is None
    assert CronExpression.parse("* * * * * ?").next_fire_after(utc(2099, 12, 31, 23, 59, 59)) is None
    assert CronExpression.parse("* * * * * ?").next_fire_after(utc(2500, 1, 1)) is None


def test_february_twenty_ninth_fires_only_in_leap_years() -> None:
    assert next_fires("0 0 0 29 2 ?", utc(2026, 1, 1), 3) == [
        utc(2028, 2, 29),
        utc(2032, 2, 29),
        utc(2036, 2, 29),
    ]
    assert next_fires("0 0 0 29 2 ?", utc(1999, 1, 1), 1) == [utc(2000, 2, 29)]  # divisible by 400
    assert CronExpression.parse("0 0 0 29 2 ?").next_fire_after(utc(2096, 3, 1)) is None  # 2100 is not


def test_a_date_that_never_exists_yields_none() -> None:
    assert CronExpression.parse("0 0 0 30 2 ?").next_fire_after(utc(2026, 1, 1)) is None


def test_before_1970_the_search_starts_in_1970() -> None:
    assert CronExpression.parse("0 0 0 1 1 ?").next_fire_after(utc(1960, 5, 5)) == utc(1970, 1, 1)


# ---------------------------------------------------------------------------------------------
# The day rules agree with their definitions, checked day by day over five years


def _month_days(day: date) -> list[date]:
    return [
        date(day.year, day.month, number)
        for number in range(1, calendar.monthrange(day.year, day.month)[1] + 1)
    ]


def _quartz_weekday(day: date) -> int:
    return day.isoweekday() % 7 + 1


def _nearest_weekday(day: date, anchor: int) -> bool:
    weekdays = [candidate for candidate in _month_days(day) if candidate.weekday() < 5]
    if anchor > len(_month_days(day)):
        return False
    return day == min(weekdays, key=lambda candidate: abs(candidate.day - anchor))


DAY_RULE_DEFINITIONS: list[tuple[str, str, Callable[[date], bool]]] = [
    ("L", "?", lambda day: day == _month_days(day)[-1]),
    ("L-3", "?", lambda day: day.day == len(_month_days(day)) - 3),
    ("LW", "?", lambda day: day == [d for d in _month_days(day) if d.weekday() < 5][-1]),
    ("1W", "?", lambda day: _nearest_weekday(day, 1)),
    ("16W", "?", lambda day: _nearest_weekday(day, 16)),
    ("30W", "?", lambda day: _nearest_weekday(day, 30)),
    ("31W", "?", lambda day: _nearest_weekday(day, 31)),
    ("L-1W", "?", lambda day: _nearest_weekday(day, len(_month_days(day)) - 1)),
    ("?", "2L", lambda day: day.weekday() == 0 and day.day + 7 > len(_month_days(day))),
    ("?", "4#2", lambda day: day.weekday() == 2 and 8 <= day.day <= 14),
    ("?", "1#5", lambda day: day.weekday() == 6 and day.day >= 29),
    ("?", "2,4,6", lambda day: _quartz_weekday(day) in (2, 4, 6)),
    ("1,15,31", "?", lambda day: day.day in (1, 15, 31)),
]


@pytest.mark.parametrize(("day_of_month", "day_of_week", "definition"), DAY_RULE_DEFINITIONS)
def test_day_rule_fires_exactly_on_the_days_its_definition_names(
    day_of_month: str, day_of_week: str, definition: Callable[[date], bool]
) -> None:
    expected: list[datetime] = []
    day = date(2024, 1, 1)
    while day.year < 2029:
        if definition(day):
            expected.append(datetime(day.year, day.month, day.day, 6, tzinfo=UTC))
        day += timedelta(days=1)
    fires = next_fires(f"0 0 6 {day_of_month} * {day_of_week}", utc(2023, 12, 31, 23), len(expected) + 1)
    assert fires[:-1] == expected
    assert fires[-1].year == 2029


# ---------------------------------------------------------------------------------------------
# Rejections: everything Quartz rejects, with the field named


@pytest.mark.parametrize(
    ("expression", "field", "fragment"),
    [
        ("60 * * * * ?", "seconds", "seconds: value 60 out of range 0-59"),
        ("0 60 * * * ?", "minutes", "minutes: value 60 out of range 0-59"),
        ("0 0 24 * * ?", "hours", "hours: value 24 out of range 0-23"),
        ("0 0 0 32 * ?", "day-of-month", "day-of-month: value 32 out of range 1-31"),
        ("0 0 0 0 * ?", "day-of-month", "value 0 out of range 1-31"),
        ("0 0 0 5-0 * ?", "day-of-month", "value 0 out of range 1-31"),
        ("0 0 0 1 13 ?", "month", "month: value 13 out of range 1-12"),
        ("0 0 0 1 0 ?", "month", "month: value 0 out of range 1-12"),
        ("0 0 0 ? * 8", "day-of-week", "day-of-week: value 8 out of range 1-7"),
        ("0 0 0 ? * 0", "day-of-week", "day-of-week: value 0 out of range 1-7"),
        ("0 0 0 * * ? 1969", "year", "year: value 1969 out of range 1970-2099"),
        ("0 0 0 * * ? 2100", "year", "year: value 2100 out of range 1970-2099"),
        ("0 0 0 * * ? 2010-2005", "year", "years do not wrap"),
        ("0 0 12 * * *", "day-of-week", "must be '?' when day-of-month is given"),
        ("0 0 12 15 * MON", "day-of-week", "must be '?' when day-of-month is given"),
        ("0 0 12 ? * ?", "day-of-week", "exactly one of them must be '?'"),
        ("? 0 0 * * ?", "seconds", "'?' is only allowed"),
        ("0 0 ? * * ?", "hours", "'?' is only allowed"),
        ("0 0 0 * ? ?", "month", "'?' is only allowed"),
        ("0 0 0 * * ? ?", "year", "'?' is only allowed"),
        ("*/60 * * * * ?", "seconds", "step 60 is larger than 59"),
        ("0 0/60 * * * ?", "minutes", "step 60 is larger than 59"),
        ("0 0 */24 * * ?", "hours", "step 24 is larger than 23"),
        ("0 0 0 */32 * ?", "day-of-month", "step 32 is larger than 31"),
        ("0 0 0 1 */13 ?", "month", "step 13 is larger than 12"),
        ("0 0 0 ? * 1/8", "day-of-week", "step 8 is larger than 7"),
        ("*/ * * * * ?", "seconds", "'/' must be followed by a whole number"),
        ("5/ * * * * ?", "seconds", "'/' must be followed by a whole number"),
        ("0 0 0 1 FOO ?", "month", "unknown name 'FOO'"),
        ("0 0 0 ? * JAN", "day-of-week", "unknown name 'JAN'"),
        ("0 0 0 ? JAN-5 *", "month", "a range must use two numbers or two names"),
        ("0 0 0 ? * 2-FRI", "day-of-week", "a range must use two numbers or two names"),
        ("0 0 MON * * ?", "hours", "only numbers are allowed here"),
        ("L 0 0 * * ?", "seconds", "'L' is only allowed in day-of-month and day-of-week"),
        ("0 0 0 ? * 5W", "day-of-week", "'W' is only allowed in day-of-month"),
        ("0 0 0 1#2 * ?", "day-of-month", "'#' is only allowed in day-of-week"),
        ("0 0 0 L,15 * ?", "day-of-month", "must stand alone, not in a list"),
        ("0 0 0 LW,15 * ?", "day-of-month", "must stand alone, not in a list"),
        ("0 0 0 ? * 6L,2", "day-of-week", "must stand alone, not in a list"),
        ("0 0 0 ? * 6#3,2#1", "day-of-week", "must stand alone, not in a list"),
        ("0 0 0 ? * 6#0", "day-of-week", "the number after '#' must be between 1 and 5, got 0"),
        ("0 0 0 ? * 6#6", "day-of-week", "the number after '#' must be between 1 and 5, got 6"),
        ("0 0 0 ? * 6#", "day-of-week", "cannot parse '6#'"),
        ("0 0 0 ? * 8L", "day-of-week", "value 8 out of range 1-7"),
        ("0 0 0 L-31 * ?", "day-of-month", "offset from the last day must be at most 30, got 31"),
        ("0 0 0 L- * ?", "day-of-month", "cannot parse 'L-'"),
        ("0 0 0 LX * ?", "day-of-month", "cannot parse 'LX'"),
        ("0 0 0 32W * ?", "day-of-month", "value 32 out of range 1-31"),
        ("0 0 0 , * ?", "day-of-month", "holds no value"),
        ("0 0 0 * * ? 2020-", "year", "cannot parse '2020-'"),
        ("-5 * * * * ?", "seconds", "cannot parse '-5'"),
    ],
)
def test_an_expression_quartz_rejects_is_rejected_naming_the_field(
    expression: str, field: str, fragment: str
) -> None:
    with pytest.raises(InvalidCronExpression) as raised:
        CronExpression.parse(expression)
    assert raised.value.field == field
    assert str(raised.value).startswith(f"{field}: ")
    assert fragment in str(raised.value)


@pytest.mark.parametrize("expression", ["", "   ", "0 0 12 * *", "0 0 12"])
def test_too_few_fields_are_rejected(expression: str) -> None:
    with pytest.raises(InvalidCronExpression, match="expected 6 or 7 fields"):
        CronExpression.parse(expression)


# ---------------------------------------------------------------------------------------------
# Refusals where Quartz would silently misread the expression


@pytest.mark.parametrize(
    ("expression", "field", "fragment"),
    [
        # Quartz drops a step that follows a name
        ("0 0 12 ? * MON-FRI/2", "day-of-week", "a step cannot follow a name"),
        ("0 0 12 ? JAN/2 *", "month", "a step cannot follow a name"),
        # Quartz reads the first three letters only
        ("0 0 12 ? * MONDAY", "day-of-week", "unknown name 'MONDAY'"),
        ("0 0 12 1 JANUARY ?", "month", "unknown name 'JANUARY'"),
        # Quartz ignores what follows a value
        ("0 0 12X * * ?", "hours", "'12X'"),
        ("0 0 1-5-7 * * ?", "hours", "cannot parse '1-5-7'"),
        ("0 0 0 ?X * *", "day-of-month", "'?' is only allowed"),
        ("0 0 0 ? * *L", "day-of-week", "cannot parse '*L'"),
        ("0 0 0 ? * 6L/2", "day-of-week", "cannot parse '6L/2'"),
        ("0 0 0 ? * 1-5L", "day-of-week", "cannot parse '1-5L'"),
        ("0 0 0 ? * 2-6#3", "day-of-week", "cannot parse '2-6#3'"),
        # a zero step: Quartz reads */0 as every value and 5/0 as 5 alone
        ("*/0 * * * * ?", "seconds", "step must be at least 1"),
        ("5/0 * * * * ?", "seconds", "step must be at least 1"),
        ("0 0-10/0 * * * ?", "minutes", "step must be at least 1"),
        # Quartz applies W to the first day of a list and ignores it after a range
        ("0 0 0 1,15W * ?", "day-of-month", "must stand alone, not in a list"),
        ("0 0 0 1-5W * ?", "day-of-month", "'W' follows one day"),
        ("0 0 0 0W * ?", "day-of-month", "value 0 out of range 1-31"),
        # Quartz applies '#' to the smallest weekday of a list
        ("0 0 0 ? * 6#3,2", "day-of-week", "must stand alone, not in a list"),
        ("0 0 0 ? * 0#1", "day-of-week", "value 0 out of range 1-7"),
        # Quartz reads L-n and LW in day-of-week as plain Saturday
        ("0 0 0 ? * L-2", "day-of-week", "is a day-of-month form"),
        ("0 0 0 ? * LW", "day-of-week", "is a day-of-month form"),
        # Quartz keeps '?' in a list and then treats the field as unspecified
        ("0 0 0 ?,1 * ?", "day-of-month", "'?' is only allowed"),
        ("0 0 0 1 * ?,2", "day-of-week", "'?' is only allowed"),
        # Quartz accepts any year and then never fires
        ("0 0 0 1 1 ? 3000", "year", "value 3000 out of range 1970-2099"),
    ],
)
def test_an_expression_quartz_would_silently_misread_is_refused(
    expression: str, field: str, fragment: str
) -> None:
    with pytest.raises(InvalidCronExpression) as raised:
        CronExpression.parse(expression)
    assert raised.value.field == field
    assert fragment in str(raised.value)


def test_an_eighth_field_is_refused_instead_of_ignored() -> None:
    with pytest.raises(InvalidCronExpression, match=r"expected 6 or 7 fields .* got 8") as raised:
        CronExpression.parse("0 0 12 * * ? 2030 2031")
    assert raised.value.field is None


# ---------------------------------------------------------------------------------------------
# The value object and the helpers


def test_invalid_cron_expression_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="seconds"):
        validate("99 * * * * ?")


def test_validate_returns_none_for_a_valid_expression() -> None:
    assert validate("0 0/5 14,18 * * ?") is None  # type: ignore[func-returns-value]


def test_an_expression_is_a_frozen_value_compared_by_its_text() -> None:
    first = CronExpression.parse("0 0 12 * * ?")
    assert first == CronExpression("0 0 12 * * ?")
    assert hash(first) == hash(CronExpression.parse("0 0 12 * * ?"))
    assert first != CronExpression.parse("0 0 13 * * ?")
    assert str(first) == "0 0 12 * * ?"
    with pytest.raises(FrozenInstanceError):
        first.expression = "0 0 13 * * ?"  # type: ignore[misc]


def test_constructing_directly_validates_too() -> None:
    with pytest.raises(InvalidCronExpression):
        CronExpression("0 0 12 * * *")


def test_fire_times_accepts_text_and_stops_when_the_schedule_ends() -> None:
    assert fire_times("0 0 0 1 1 ? 2030-2031", utc(2026, 1, 1), 5) == [utc(2030, 1, 1), utc(2031, 1, 1)]
    assert fire_times("0 0 0 1 1 ?", utc(2026, 1, 1), 0) == []


def test_the_next_fire_is_strictly_after_and_drops_microseconds() -> None:
    every_second = CronExpression.parse("* * * * * ?")
    assert every_second.next_fire_after(utc(2026, 1, 1, 12)) == utc(2026, 1, 1, 12, 0, 1)
    after = datetime(2026, 1, 1, 12, 0, 0, 500_000, tzinfo=UTC)
    fire = every_second.next_fire_after(after)
    assert fire == utc(2026, 1, 1, 12, 0, 1)
    assert fire is not None and fire.microsecond == 0


def test_a_naive_start_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        CronExpression.parse("0 0 12 * * ?").next_fire_after(datetime(2026, 1, 1))


def test_the_wall_clock_is_that_of_the_start_times_zone() -> None:
    noon = CronExpression.parse("0 0 12 * * ?")
    in_berlin = noon.next_fire_after(berlin(2026, 1, 1))
    in_utc = noon.next_fire_after(utc(2025, 12, 31, 23))  # the same instant
    assert in_berlin is not None and in_berlin.tzinfo is BERLIN
    assert in_berlin.isoformat() == "2026-01-01T12:00:00+01:00"
    assert in_utc is not None and in_utc.isoformat() == "2026-01-01T12:00:00+00:00"
    assert in_utc - in_berlin == timedelta(hours=1)


def test_a_fixed_offset_zone_is_supported() -> None:
    india = timezone(timedelta(hours=5, minutes=30))
    fire = CronExpression.parse("0 0 9 * * ?").next_fire_after(datetime(2026, 1, 1, 10, tzinfo=india))
    assert fire is not None and fire.isoformat() == "2026-01-02T09:00:00+05:30"


# ---------------------------------------------------------------------------------------------
# Daylight saving time: each matching wall time fires once; skipped ones at the end of the gap


def test_a_daily_time_skipped_by_spring_forward_fires_at_the_end_of_the_gap_in_berlin() -> None:
    assert iso(next_fires("0 30 2 * * ?", berlin(2026, 3, 28, 12), 2)) == [
        "2026-03-29T03:00:00+02:00",
        "2026-03-30T02:30:00+02:00",
    ]


def test_half_hourly_across_spring_forward_in_berlin_fires_once_at_the_end_of_the_gap() -> None:
    # 02:00 and 02:30 do not exist; both fire as one at 03:00, the instant the gap ends
    assert iso(next_fires("0 0/30 * * * ?", berlin(2026, 3, 29, 0, 45), 4)) == [
        "2026-03-29T01:00:00+01:00",
        "2026-03-29T01:30:00+01:00",
        "2026-03-29T03:00:00+02:00",
        "2026-03-29T03:30:00+02:00",
    ]


def test_every_second_across_spring_forward_jumps_the_gap() -> None:
    assert iso(next_fires("* * * * * ?", berlin(2026, 3, 29, 1, 59, 58), 3)) == [
        "2026-03-29T01:59:59+01:00",
        "2026-03-29T03:00:00+02:00",
        "2026-03-29T03:00:01+02:00",
    ]


def test_half_hourly_across_fall_back_in_berlin_fires_each_wall_time_once() -> None:
    # 02:00 and 02:30 happen twice; only their first (summer time) occurrence fires, so the
    # 02:30+02:00 fire is followed by 03:00+01:00, ninety minutes later
    assert iso(next_fires("0 0/30 * * * ?", berlin(2026, 10, 25, 1, 15), 6)) == [
        "2026-10-25T01:30:00+02:00",
        "2026-10-25T02:00:00+02:00",
        "2026-10-25T02:30:00+02:00",
        "2026-10-25T03:00:00+01:00",
        "2026-10-25T03:30:00+01:00",
        "2026-10-25T04:00:00+01:00",
    ]


def test_a_start_in_the_second_pass_of_the_repeated_hour_waits_for_its_end() -> None:
    half_hourly = CronExpression.parse("0 0/30 * * * ?")
    second_pass = half_hourly.next_fire_after(berlin(2026, 10, 25, 2, 15, fold=1))
    first_pass = half_hourly.next_fire_after(berlin(2026, 10, 25, 2, 15, fold=0))
    assert second_pass is not None and second_pass.isoformat() == "2026-10-25T03:00:00+01:00"
    assert first_pass is not None and first_pass.isoformat() == "2026-10-25T02:30:00+02:00"


def test_a_start_given_in_utc_during_the_second_pass_is_read_in_its_own_zone() -> None:
    # 01:15 UTC is 02:15+01:00 in Berlin; evaluated in Berlin it waits for 03:00+01:00
    start = utc(2026, 10, 25, 1, 15).astimezone(BERLIN)
    assert start.fold == 1
    fire = CronExpression.parse("0 0/30 * * * ?").next_fire_after(start)
    assert fire is not None and fire.isoformat() == "2026-10-25T03:00:00+01:00"


def test_a_daily_time_in_the_repeated_hour_fires_once_in_berlin() -> None:
    assert iso(next_fires("0 30 2 * * ?", berlin(2026, 10, 24, 12), 2)) == [
        "2026-10-25T02:30:00+02:00",
        "2026-10-26T02:30:00+01:00",
    ]


def test_a_daily_time_skipped_by_spring_forward_fires_at_the_end_of_the_gap_in_new_york() -> None:
    assert iso(next_fires("0 30 2 * * ?", new_york(2026, 3, 7, 12), 2)) == [
        "2026-03-08T03:00:00-04:00",
        "2026-03-09T02:30:00-04:00",
    ]


def test_all_wall_times_inside_one_gap_fire_once_together_in_new_york() -> None:
    assert iso(next_fires("0 0,30 2,3 * * ?", new_york(2026, 3, 8, 1), 3)) == [
        "2026-03-08T03:00:00-04:00",
        "2026-03-08T03:30:00-04:00",
        "2026-03-09T02:00:00-04:00",
    ]


def test_a_daily_time_in_the_repeated_hour_fires_once_in_new_york() -> None:
    assert iso(next_fires("0 30 1 * * ?", new_york(2026, 10, 31, 12), 2)) == [
        "2026-11-01T01:30:00-04:00",
        "2026-11-02T01:30:00-05:00",
    ]


def test_hourly_across_fall_back_in_new_york_skips_the_repeated_one_o_clock() -> None:
    assert iso(next_fires("0 0 * * * ?", new_york(2026, 11, 1, 0, 30), 3)) == [
        "2026-11-01T01:00:00-04:00",
        "2026-11-01T02:00:00-05:00",
        "2026-11-01T03:00:00-05:00",
    ]


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (berlin(2026, 3, 28, 22), berlin(2026, 3, 29, 5)),
        (berlin(2026, 10, 24, 22), berlin(2026, 10, 25, 5)),
        (new_york(2026, 3, 7, 22), new_york(2026, 3, 8, 5)),
        (new_york(2026, 10, 31, 22), new_york(2026, 11, 1, 5)),
    ],
)
def test_repeated_application_never_repeats_an_instant_nor_goes_backwards(
    start: datetime, end: datetime
) -> None:
    every_minute = CronExpression.parse("0 * * * * ?")
    instants: list[datetime] = []
    walls: list[datetime] = []
    moment: datetime | None = start
    while moment is not None and moment.astimezone(UTC) < end.astimezone(UTC):
        moment = every_minute.next_fire_after(moment)
        assert moment is not None
        instants.append(moment.astimezone(UTC))
        walls.append(moment.replace(tzinfo=None))
    assert all(earlier < later for earlier, later in pairwise(instants))
    assert len(set(walls)) == len(walls)  # no wall time fires twice


def test_a_start_inside_a_gap_is_read_with_the_offset_before_the_gap() -> None:
    # Python reads the non-existent 02:30 (fold=0) as 02:30+01:00, that is 03:30+02:00
    fire = CronExpression.parse("0 0/30 * * * ?").next_fire_after(berlin(2026, 3, 29, 2, 30))
    assert fire is not None and fire.isoformat() == "2026-03-29T04:00:00+02:00"


# ---------------------------------------------------------------------------------------------
# The command line: python -m server.cron EXPR [--from ISO] [--count N] [--tz ZONE]


def run_cli(*arguments: str, environment: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "ELASTICJOB_TIMEZONE"}
    env.update(environment or {})
    return subprocess.run(
        [sys.executable, "-m", "server.cron", *arguments],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_cli_prints_the_next_fire_times_with_their_offsets() -> None:
    result = run_cli(
        "0 15 10 ? * 6#3", "--from", "2026-01-01T00:00:00", "--count", "3", "--tz", "Europe/Berlin"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "2026-01-16T10:15:00+01:00",
        "2026-02-20T10:15:00+01:00",
        "2026-03-20T10:15:00+01:00",
    ]


def test_cli_prints_ten_fire_times_by_default() -> None:
    result = run_cli("0 0 12 * * ?", "--from", "2026-01-01T00:00:00+00:00", "--tz", "UTC")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 10
    assert lines[0] == "2026-01-01T12:00:00+00:00"
    assert lines[-1] == "2026-01-10T12:00:00+00:00"


def test_cli_converts_a_start_with_an_offset_into_the_zone() -> None:
    result = run_cli(
        "0 30 2 * * ?", "--from", "2026-03-28T12:00:00Z", "--count", "2", "--tz", "Europe/Berlin"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"]


def test_cli_takes_the_zone_from_elasticjob_timezone_when_tz_is_absent() -> None:
    result = run_cli(
        "0 0 12 * * ?",
        "--from",
        "2026-07-01T00:00:00",
        "--count",
        "1",
        environment={"ELASTICJOB_TIMEZONE": "America/New_York"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["2026-07-01T12:00:00-04:00"]


def test_cli_prints_fewer_lines_when_the_schedule_ends() -> None:
    result = run_cli("0 0 0 1 1 ? 2098-2099", "--from", "2026-01-01T00:00:00", "--tz", "UTC")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["2098-01-01T00:00:00+00:00", "2099-01-01T00:00:00+00:00"]


def test_cli_exits_2_with_the_reason_for_an_invalid_expression() -> None:
    result = run_cli("0 0 12 * * *", "--tz", "UTC")
    assert result.returncode == 2
    assert result.stdout == ""
    assert "day-of-week: must be '?'" in result.stderr


@pytest.mark.parametrize(
    "arguments",
    [
        (),
        ("0 0 12 * * ?", "--count", "0"),
        ("0 0 12 * * ?", "--count", "many"),
        ("0 0 12 * * ?", "--tz", "Mars/Olympus_Mons"),
        ("0 0 12 * * ?", "--from", "yesterday"),
    ],
)
def test_cli_usage_errors_exit_2(arguments: tuple[str, ...]) -> None:
    result = run_cli(*arguments)
    assert result.returncode == 2
    assert "usage:" in result.stderr
