"""Quartz cron expressions, parsed once and asked one question: "when is the next fire after t?".

The syntax is the one ElasticJob inherits from Quartz 2.3 (``org.quartz.CronExpression``)::

    seconds minutes hours day-of-month month day-of-week [year]

=============  ===============  ======================================================
field          values           special forms
=============  ===============  ======================================================
seconds        0-59             ``*`` ``a-b`` ``a,b`` ``a/s`` ``*/s`` ``a-b/s``
minutes        0-59             as seconds
hours          0-23             as seconds
day-of-month   1-31             as seconds, ``?``, ``L``, ``L-n``, ``nW``, ``LW``, ``L-nW``
month          1-12, JAN-DEC    as seconds (names also in ranges, never with a step)
day-of-week    1-7 = SUN-SAT    as seconds, ``?``, ``L``, ``nL``, ``n#k`` (names allowed)
year           1970-2099        as seconds; the field is optional (absent means ``*``)
=============  ===============  ======================================================

Fields are separated by whitespace. Meaning, as in Quartz:

* Exactly one of day-of-month and day-of-week is ``?``; the other one chooses the days.
* ``a/s`` means a, a+s, a+2s, ... up to the field's maximum; ``*/s`` (or ``/s``) starts at the
  field's minimum (0 for seconds to hours, 1 for days, months and weekdays, 1970 for years).
* A range whose end is below its start wraps around the field: hours ``22-2`` are 22, 23, 0, 1, 2,
  months ``NOV-FEB`` are 11, 12, 1, 2, day-of-month ``28-3`` is 28..31 and 1..3 (wrapping always
  at 31, whatever the month's length). Years do not wrap.
* Day-of-month ``L`` is the month's last day, ``L-n`` the day n days before it (0 <= n <= 30; a
  month shorter than n + 1 days has no such day), ``nW`` the weekday (Monday-Friday) nearest to
  day n without leaving the month (the 1st on a Saturday moves to Monday the 3rd, a last day on a
  Sunday moves back to Friday), ``LW`` the month's last weekday and ``L-nW`` the weekday nearest to
  ``L-n``. ``nW`` never fires in a month that has no day n, exactly like a plain ``n``.
* Day-of-week ``L`` alone is Saturday (7), every week; ``nL`` is the month's last weekday n
  (``6L``: last Friday); ``n#k`` is its k-th weekday n, 1 <= k <= 5 (a month without a fifth one
  does not fire).
* Names (JAN..DEC, SUN..SAT) and letters are case-insensitive.

Where Quartz 2.3 silently misreads an expression, this parser refuses it instead:
a step after a name (``MON-FRI/2``: Quartz drops the step), names longer than three letters
(``MONDAY``), anything left over after a value (``12X``, ``1-5-7``, ``?X``, ``*L``, ``6L/2``), an
eighth field, a step of zero (``*/0`` reads as every value, ``5/0`` as just 5), ``W`` on a range or
a list (Quartz applies it to the list's first day only), ``#`` or ``L`` together with other
weekdays in a list, ``L-n`` or ``LW`` in day-of-week (Quartz reads plain Saturday), ``?`` inside a
list, a ``#`` or ``W`` on an out-of-range day (``0#1``, ``0W``), a range end of 0, and years
outside 1970-2099. Empty list items (``1,,2``) are ignored, as in Quartz.

Time zones. The expression is evaluated on the wall clock of the zone of the ``after`` argument
(a ``zoneinfo.ZoneInfo``, ``datetime.timezone.utc`` or any fixed offset). Each matching wall time
fires at most once:

* A wall time that happens twice (clocks set back) fires once, at its first occurrence (fold=0).
  The repeated hour's second pass fires nothing, so ``0 0/30 * * * ?`` in Europe/Berlin on
  2026-10-25 fires at 01:30, 02:00, 02:30 (all +02:00) and then 03:00+01:00: 02:00+01:00 and
  02:30+01:00 are skipped, and the gap between 02:30+02:00 and 03:00+01:00 is 90 minutes.
* A wall time that does not exist (clocks set forward) fires at the first instant after the gap;
  all matching wall times inside one gap share that instant and fire there once. A daily job at
  02:30 in Europe/Berlin fires on 2026-03-29 at 03:00+02:00. (Quartz itself fires at 03:30.)

So the fire instants are the images of the matching wall times under a non-decreasing map, and
``next_fire_after`` returns the smallest image strictly after ``after``: applied repeatedly it
never repeats an instant and never goes backwards. Searching stops at the end of 2099 (``None``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Final

from server.base.cron_fields import (
    DAY_OF_WEEK,
    HOURS,
    MAX_YEAR,
    MIN_YEAR,
    MINUTES,
    MONTH,
    NONE,
    SECONDS,
    YEAR,
    DayRule,
    InvalidCronExpression,
    day_of_month_rule,
    day_of_week_rule,
    field_values,
    next_table,
)

__all__ = [
    "MAX_YEAR",
    "MIN_YEAR",
    "CronExpression",
    "InvalidCronExpression",
    "fire_times",
    "validate",
]

_ONE_SECOND: Final = timedelta(seconds=1)


# The parsed schedule: a search over wall-clock fields


@dataclass(frozen=True, slots=True)
class _Schedule:
    """Next-value tables for each field and the day rule; searches naive wall-clock times."""

    next_second: tuple[int, ...]
    next_minute: tuple[int, ...]
    next_hour: tuple[int, ...]
    next_month: tuple[int, ...]
    next_year: tuple[int, ...]
    days: DayRule

    def first_match_at_or_after(self, start: datetime) -> datetime | None:
        """The earliest matching wall time >= ``start`` (naive, whole seconds), up to MAX_YEAR."""
        year, month, day = start.year, start.month, start.day
        hour, minute, second = start.hour, start.minute, start.second
        while True:
            if year > MAX_YEAR:
                return None
            found = self.next_year[max(year, MIN_YEAR) - MIN_YEAR]
            if found == NONE:
                return None
            if found != year:
                year, month, day, hour, minute, second = found, 1, 1, 0, 0, 0

            found = self.next_month[month - 1]
            if found == NONE:
                year, month, day, hour, minute, second = year + 1, 1, 1, 0, 0, 0
                continue
            if found != month:
                month, day, hour, minute, second = found, 1, 0, 0, 0

            found = self.days.first_day_at_or_after(year, month, day)
            if found == NONE:
                month, day, hour, minute, second = month + 1, 1, 0, 0, 0
                continue
            if found != day:
                day, hour, minute, second = found, 0, 0, 0

            found = self.next_hour[hour]
            if found == NONE:
                day, hour, minute, second = day + 1, 0, 0, 0
                continue
            if found != hour:
                hour, minute, second = found, 0, 0

            found = self.next_minute[minute]
            if found == NONE:
                hour, minute, second = hour + 1, 0, 0
                continue
            if found != minute:
                minute, second = found, 0

            found = self.next_second[second]
            if found == NONE:
                minute, second = minute + 1, 0
                continue
            return datetime(year, month, day, hour, minute, found)


def _parse(text: str) -> _Schedule:
    fields = text.upper().split()
    if not 6 <= len(fields) <= 7:
        raise InvalidCronExpression(
            f"expected 6 or 7 fields (seconds minutes hours day-of-month month day-of-week [year]), "
            f"got {len(fields)} in {text!r}"
        )
    seconds, minutes, hours, day_of_month, month, day_of_week = fields[:6]
    year = fields[6] if len(fields) == 7 else "*"

    next_second = next_table(field_values(seconds, SECONDS), 0, 59)
    next_minute = next_table(field_values(minutes, MINUTES), 0, 59)
    next_hour = next_table(field_values(hours, HOURS), 0, 23)
    month_days = None if day_of_month == "?" else day_of_month_rule(day_of_month)
    next_month = next_table(field_values(month, MONTH), 1, 12)
    week_days = None if day_of_week == "?" else day_of_week_rule(day_of_week)
    next_year = next_table(field_values(year, YEAR), MIN_YEAR, MAX_YEAR)
    days: DayRule
    if month_days is not None and week_days is None:
        days = month_days
    elif week_days is not None and month_days is None:
        days = week_days
    elif month_days is None:
        raise DAY_OF_WEEK.error("cannot be '?' when day-of-month is '?' too; exactly one of them must be '?'")
    else:
        raise DAY_OF_WEEK.error(
            f"must be '?' when day-of-month is given ('{day_of_month}' and '{day_of_week}'); "
            "Quartz does not support specifying both"
        )
    return _Schedule(next_second, next_minute, next_hour, next_month, next_year, days)


# Wall clock to instant


def _offset(moment: datetime) -> timedelta:
    offset = moment.utcoffset()
    if offset is None:
        raise ValueError(f"{moment!r} has no UTC offset")
    return offset


def _offsets(wall: datetime, zone: tzinfo) -> tuple[timedelta, timedelta]:
    """UTC offsets of a naive wall time read as its first and as its second occurrence."""
    first = wall.replace(tzinfo=zone, fold=0)
    return _offset(first), _offset(first.replace(fold=1))


def _is_skipped(wall: datetime, zone: tzinfo) -> bool:
    early, late = _offsets(wall, zone)
    return early < late


def _is_repeated(wall: datetime, zone: tzinfo) -> bool:
    early, late = _offsets(wall, zone)
    return early > late


def _first_second_where(predicate: Callable[[datetime], bool], low: datetime, high: datetime) -> datetime:
    """Binary search: ``predicate`` is false at ``low``, true at ``high`` and monotone between."""
    below, above = 0, int((high - low).total_seconds())
    while above - below > 1:
        middle = (below + above) // 2
        if predicate(low + timedelta(seconds=middle)):
            above = middle
        else:
            below = middle
    return low + timedelta(seconds=above)


def _fire_instant(wall: datetime, zone: tzinfo) -> datetime:
    """The aware datetime at which a matching wall time fires (see the module's DST rules)."""
    first = wall.replace(tzinfo=zone)
    early, late = _offset(first), _offset(first.replace(fold=1))
    if early >= late:  # ordinary, or repeated: the first occurrence
        return first
    gap_end = _first_second_where(lambda moment: not _is_skipped(moment, zone), wall, wall + (late - early))
    return gap_end.replace(tzinfo=zone)


def _end_of_repeat(wall: datetime, zone: tzinfo) -> datetime:
    """The first wall time after ``wall`` (which occurs twice) that occurs only once."""
    early, late = _offsets(wall, zone)
    return _first_second_where(lambda moment: not _is_repeated(moment, zone), wall, wall + (early - late))


def _utc_wall(moment: datetime) -> datetime:
    return moment.replace(tzinfo=None) - _offset(moment)


# The public value object


@dataclass(frozen=True, slots=True)
class CronExpression:
    """A validated Quartz cron expression. Pure: it never reads the clock.

    Construct with ``CronExpression.parse(text)`` (or ``CronExpression(text)``); both raise
    :class:`InvalidCronExpression`. Equality and hashing use the text as given.
    """

    expression: str
    _schedule: _Schedule = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.expression, str):
            raise TypeError(f"a cron expression is a str, got {type(self.expression).__name__}")
        object.__setattr__(self, "_schedule", _parse(self.expression))

    @classmethod
    def parse(cls, text: str) -> CronExpression:
        """Parse and validate ``text``; raises :class:`InvalidCronExpression` naming the field."""
        return cls(text)

    def next_fire_after(self, after: datetime) -> datetime | None:
        """The first fire time strictly after ``after``, or ``None`` if there is none up to 2099.

        ``after`` must be timezone-aware; its zone is the wall clock the expression is read in, and
        the result (whole seconds) is in the same zone. A wall time that occurs twice fires only at
        its first occurrence (fold=0); a wall time skipped by a forward shift fires at the first
        instant after the gap. Feeding the result back in never yields the same instant again.
        """
        zone = after.tzinfo
        if zone is None or after.utcoffset() is None:
            raise ValueError(f"after must be timezone-aware, got {after!r}")
        after_utc = after.astimezone(UTC)
        local = after_utc.astimezone(zone)  # normalises wall times that do not exist, sets fold
        wall = local.replace(tzinfo=None, microsecond=0)
        if wall.year > MAX_YEAR:
            return None
        start = wall + _ONE_SECOND
        if local.fold == 1 and _is_repeated(wall, zone):
            # The second pass of a repeated hour: its wall times already fired on the first pass.
            start = _end_of_repeat(wall, zone)
        after_utc_wall = after_utc.replace(tzinfo=None)
        while True:
            match = self._schedule.first_match_at_or_after(start)
            if match is None:
                return None
            fire = _fire_instant(match, zone)
            if _utc_wall(fire) > after_utc_wall:
                return fire
            start = match + _ONE_SECOND  # defensive: the start above already excludes these

    def __str__(self) -> str:
        return self.expression


def validate(text: str) -> None:
    """Raise :class:`InvalidCronExpression` if ``text`` is not a valid Quartz cron expression."""
    CronExpression.parse(text)


def fire_times(expression: CronExpression | str, start: datetime, count: int) -> list[datetime]:
    """The next ``count`` fire times strictly after ``start`` (fewer if the schedule runs out)."""
    if count < 0:
        raise ValueError(f"count must not be negative, got {count}")
    cron = expression if isinstance(expression, CronExpression) else CronExpression.parse(expression)
    fires: list[datetime] = []
    moment = start
    while len(fires) < count:
        upcoming = cron.next_fire_after(moment)
        if upcoming is None:
            break
        fires.append(upcoming)
        moment = upcoming
    return fires
