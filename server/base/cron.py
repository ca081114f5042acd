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

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Final, Protocol

__all__ = [
    "MAX_YEAR",
    "MIN_YEAR",
    "CronExpression",
    "InvalidCronExpression",
    "fire_times",
    "validate",
]

MIN_YEAR: Final = 1970
MAX_YEAR: Final = 2099

_NONE: Final = -1  # "no such value" in the next-value tables and day rules
_ONE_SECOND: Final = timedelta(seconds=1)
_SUNDAY: Final = 1  # Quartz numbers weekdays 1 (Sunday) to 7 (Saturday)
_SATURDAY: Final = 7
_MAX_LAST_DAY_OFFSET: Final = 30
_MAX_NTH_WEEKDAY: Final = 5

_MONTH_NAMES: Final[Mapping[str, int]] = {
    name: number
    for number, name in enumerate(
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), start=1
    )
}
_WEEKDAY_NAMES: Final[Mapping[str, int]] = {
    name: number for number, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), start=1)
}
_DAYS_IN_MONTH: Final = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)

_NUMBER = r"[0-9]+"
_NAME = r"[A-Z]+"
_LAST_DAY_FORM = re.compile(rf"L(?:-(?P<offset>{_NUMBER}))?(?P<weekday>W)?")
_NEAREST_WEEKDAY_FORM = re.compile(rf"(?P<day>{_NUMBER})W")
_LAST_WEEKDAY_FORM = re.compile(rf"(?P<weekday>{_NUMBER}|{_NAME})L")
_NTH_WEEKDAY_FORM = re.compile(rf"(?P<weekday>{_NUMBER}|{_NAME})#(?P<nth>{_NUMBER})")
_VALUE_OR_RANGE = re.compile(rf"(?P<start>{_NUMBER}|{_NAME})(?:-(?P<end>{_NUMBER}|{_NAME}))?")


class InvalidCronExpression(ValueError):
    """The text is not a cron expression this engine (and Quartz) accepts.

    ``field`` names the field to blame (``"seconds"`` ... ``"year"``), or is ``None`` when the
    expression as a whole is malformed; the message starts with the same name.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field


# --------------------------------------------------------------------------------------------
# Fields and their values


@dataclass(frozen=True, slots=True)
class _FieldSpec:
    """One position of the expression: its name, value range and Quartz's limit on ``a/s`` steps."""

    name: str
    low: int
    high: int
    names: Mapping[str, int]
    max_step: int | None

    def error(self, message: str) -> InvalidCronExpression:
        return InvalidCronExpression(message, field=self.name)


_SECONDS = _FieldSpec("seconds", 0, 59, {}, 59)
_MINUTES = _FieldSpec("minutes", 0, 59, {}, 59)
_HOURS = _FieldSpec("hours", 0, 23, {}, 23)
_DAY_OF_MONTH = _FieldSpec("day-of-month", 1, 31, {}, 31)
_MONTH = _FieldSpec("month", 1, 12, _MONTH_NAMES, 12)
_DAY_OF_WEEK = _FieldSpec("day-of-week", 1, 7, _WEEKDAY_NAMES, 7)
_YEAR = _FieldSpec("year", MIN_YEAR, MAX_YEAR, {}, None)


def _value(token: str, spec: _FieldSpec) -> tuple[int, bool]:
    """One number or three-letter name, range-checked; also says whether it was a name."""
    if token.isascii() and token.isdigit():
        number = int(token)
        if not spec.low <= number <= spec.high:
            raise spec.error(f"value {number} out of range {spec.low}-{spec.high}")
        return number, False
    if not spec.names:
        raise spec.error(_explain_unparsable(token, spec))
    if token in spec.names:
        return spec.names[token], True
    first, last = next(iter(spec.names)), list(spec.names)[-1]
    raise spec.error(f"unknown name '{token}' (use the three-letter names {first}..{last})")


def _step(text: str, spec: _FieldSpec, *, limited: bool) -> int:
    if not (text.isascii() and text.isdigit()):
        raise spec.error(f"'/' must be followed by a whole number, got '{text}'")
    step = int(text)
    if step < 1:
        raise spec.error("step must be at least 1")
    if limited and spec.max_step is not None and step > spec.max_step:
        raise spec.error(f"step {step} is larger than {spec.max_step}")
    return step


def _wrapped(start: int, end: int, step: int, spec: _FieldSpec) -> list[int]:
    """``start-end/step`` where end < start: count on past the maximum and fold back (Quartz)."""
    if spec is _YEAR:
        raise spec.error(f"range {start}-{end} runs backwards (years do not wrap around)")
    span = spec.high - spec.low + 1
    return [(value - spec.low) % span + spec.low for value in range(start, end + span + 1, step)]


def _item_values(item: str, spec: _FieldSpec) -> list[int]:
    """The values of one list item: ``*``, ``v``, ``a-b``, each optionally ``/step``."""
    base, slash, step_text = item.partition("/")
    if base == "*" or (base == "" and slash):
        step = _step(step_text, spec, limited=True) if slash else 1
        return list(range(spec.low, spec.high + 1, step))
    match = _VALUE_OR_RANGE.fullmatch(base)
    if match is None:
        raise spec.error(_explain_unparsable(item, spec))
    start, start_is_name = _value(match["start"], spec)
    if slash and start_is_name:
        raise spec.error(f"'{item}': a step cannot follow a name (Quartz would silently drop it)")
    if match["end"] is None:
        if not slash:
            return [start]
        return list(range(start, spec.high + 1, _step(step_text, spec, limited=True)))
    end, end_is_name = _value(match["end"], spec)
    if start_is_name != end_is_name:
        raise spec.error(f"'{item}': a range must use two numbers or two names")
    step = _step(step_text, spec, limited=False) if slash else 1
    if end < start:
        return _wrapped(start, end, step, spec)
    return list(range(start, end + 1, step))


def _explain_unparsable(item: str, spec: _FieldSpec) -> str:
    if "?" in item:
        return f"'{item}': '?' is only allowed alone, in day-of-month or day-of-week"
    if "L" in item and spec not in (_DAY_OF_MONTH, _DAY_OF_WEEK):
        return f"'{item}': 'L' is only allowed in day-of-month and day-of-week"
    if "W" in item and spec is not _DAY_OF_MONTH:
        return f"'{item}': 'W' is only allowed in day-of-month"
    if "#" in item and spec is not _DAY_OF_WEEK:
        return f"'{item}': '#' is only allowed in day-of-week"
    if not spec.names and any(character.isalpha() for character in item):
        return f"'{item}': only numbers are allowed here (names exist only for month and day-of-week)"
    return f"cannot parse '{item}'"


def _list_items(text: str, spec: _FieldSpec) -> list[str]:
    items = [item for item in text.split(",") if item]
    if not items:
        raise spec.error(f"'{text}' holds no value")
    return items


def _values(text: str, spec: _FieldSpec) -> frozenset[int]:
    """A plain list field (seconds, minutes, hours, month, year, or plain day lists)."""
    values: set[int] = set()
    for item in _list_items(text, spec):
        if item == "?":
            raise spec.error(_explain_unparsable(item, spec))
        values.update(_item_values(item, spec))
    return frozenset(values)


def _next_table(values: Iterable[int], low: int, high: int) -> tuple[int, ...]:
    """``table[i - low]`` is the smallest value >= i, or ``_NONE``; valid for low <= i <= high + 1."""
    allowed = set(values)
    table = [_NONE] * (high - low + 2)
    upcoming = _NONE
    for candidate in range(high, low - 1, -1):
        if candidate in allowed:
            upcoming = candidate
        table[candidate - low] = upcoming
    return tuple(table)


# --------------------------------------------------------------------------------------------
# Day rules: which days of a given month fire


def _days_in_month(year: int, month: int) -> int:
    if month == 2 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0):
        return 29
    return _DAYS_IN_MONTH[month]


def _weekday(year: int, month: int, day: int) -> int:
    """Quartz's weekday number: 1 = Sunday ... 7 = Saturday."""
    return (date(year, month, day).weekday() + 1) % 7 + 1


class _DayRule(Protocol):
    def first_day_at_or_after(self, year: int, month: int, day: int) -> int:
        """The first firing day of that month that is >= day, or ``_NONE``."""
        ...


@dataclass(frozen=True, slots=True)
class _DaysOfMonth:
    """Day-of-month values such as ``1,15`` or ``1/5``; days the month lacks never fire."""

    next_day: tuple[int, ...]  # _next_table over 1..31

    def first_day_at_or_after(self, year: int, month: int, day: int) -> int:
        if day > 31:
            return _NONE
        found = self.next_day[day - 1]
        return found if found <= _days_in_month(year, month) else _NONE


@dataclass(frozen=True, slots=True)
class _LastDayOfMonth:
    """``L`` (offset 0) or ``L-n``: the day ``offset`` days before the month's last."""

    offset: int

    def first_day_at_or_after(self, year: int, month: int, day: int) -> int:
        target = _days_in_month(year, month) - self.offset
        return target if target >= max(day, 1) else _NONE


@dataclass(frozen=True, slots=True)
class _NearestWeekday:
    """``nW`` (``anchor_day`` = n) or ``LW`` / ``L-nW`` (``anchor_day`` None, ``last_offset`` = n)."""

    anchor_day: int | None
    last_offset: int

    def first_day_at_or_after(self, year: int, month: int, day: int) -> int:
        last = _days_in_month(year, month)
        anchor = last - self.last_offset if self.anchor_day is None else self.anchor_day
        if not 1 <= anchor <= last:
            return _NONE
        weekday = _weekday(year, month, anchor)
        if weekday == _SATURDAY:
            anchor = anchor + 2 if anchor == 1 else anchor - 1
        elif weekday == _SUNDAY:
            anchor = anchor - 2 if anchor == last else anchor + 1
        return anchor if anchor >= day else _NONE


@dataclass(frozen=True, slots=True)
class _DaysOfWeek:
    """Plain weekday values such as ``MON-FRI``; ``days_ahead[w]`` is the distance from weekday w."""

    days_ahead: tuple[int, ...]  # index 1..7 (index 0 unused)

    @classmethod
    def of(cls, weekdays: frozenset[int]) -> _DaysOfWeek:
        ahead = [0] + [min((target - weekday) % 7 for target in weekdays) for weekday in range(1, 8)]
        return cls(tuple(ahead))

    def first_day_at_or_after(self, year: int, month: int, day: int) -> int:
        last = _days_in_month(year, month)
        if day > last:
            return _NONE
        found = day + self.days_ahead[_weekday(year, month, day)]
        return found if found <= last else _NONE


@dataclass(frozen=True, slots=True)
class _LastWeekdayOfMonth:
    """``nL``: the last weekday n of the month."""

    weekday: int

    def first_day_at_or_after(self, year: int, month: int, day: int) -> int:
        last = _days_in_month(year, month)
        found = last - (_weekday(year, month, last) - self.weekday) % 7
        return found if found >= day else _NONE


@dataclass(frozen=True, slots=True)
class _NthWeekdayOfMonth:
    """``n#k``: the k-th weekday n of the month, if the month has one."""

    weekday: int
    nth: int

    def first_day_at_or_after(self, year: int, month: int, day: int) -> int:
        first = 1 + (self.weekday - _weekday(year, month, 1)) % 7
        found = first + 7 * (self.nth - 1)
        return found if day <= found <= _days_in_month(year, month) else _NONE


def _no_list(text: str, spec: _FieldSpec, what: str) -> None:
    if "," in text:
        raise spec.error(f"'{text}': {what} must stand alone, not in a list")


def _day_of_month_rule(text: str) -> _DayRule:
    spec = _DAY_OF_MONTH
    if "L" in text:
        _no_list(text, spec, "'L' (last day)")
        last = _LAST_DAY_FORM.fullmatch(text)
        if last is None:
            raise spec.error(f"cannot parse '{text}' (the last-day forms are L, L-n, LW and L-nW)")
        offset = int(last["offset"] or 0)
        if offset > _MAX_LAST_DAY_OFFSET:
            raise spec.error(f"offset from the last day must be at most {_MAX_LAST_DAY_OFFSET}, got {offset}")
        if last["weekday"]:
            return _NearestWeekday(anchor_day=None, last_offset=offset)
        return _LastDayOfMonth(offset)
    if "W" in text:
        _no_list(text, spec, "'W' (nearest weekday)")
        nearest = _NEAREST_WEEKDAY_FORM.fullmatch(text)
        if nearest is None:
            raise spec.error(f"cannot parse '{text}' ('W' follows one day, as in 15W; not a range)")
        anchor, _ = _value(nearest["day"], spec)
        return _NearestWeekday(anchor_day=anchor, last_offset=0)
    return _DaysOfMonth(_next_table(_values(text, spec), spec.low, spec.high))


def _day_of_week_rule(text: str) -> _DayRule:
    spec = _DAY_OF_WEEK
    if text == "L":
        return _DaysOfWeek.of(frozenset({_SATURDAY}))
    if "#" in text:
        _no_list(text, spec, "'#' (n-th weekday)")
        nth_form = _NTH_WEEKDAY_FORM.fullmatch(text)
        if nth_form is None:
            raise spec.error(f"cannot parse '{text}' (the n-th weekday form is like 6#3 or FRI#3)")
        weekday, _ = _value(nth_form["weekday"], spec)
        nth = int(nth_form["nth"])
        if not 1 <= nth <= _MAX_NTH_WEEKDAY:
            raise spec.error(f"the number after '#' must be between 1 and {_MAX_NTH_WEEKDAY}, got {nth}")
        return _NthWeekdayOfMonth(weekday, nth)
    if "L" in text:
        _no_list(text, spec, "'L' (last weekday)")
    last_form = _LAST_WEEKDAY_FORM.fullmatch(text)
    if last_form is not None and (last_form["weekday"].isdigit() or last_form["weekday"] in spec.names):
        weekday, _ = _value(last_form["weekday"], spec)
        return _LastWeekdayOfMonth(weekday)
    if text.startswith("L-") or text == "LW":
        raise spec.error(f"'{text}' is a day-of-month form; in day-of-week 'L' alone means Saturday")
    return _DaysOfWeek.of(_values(text, spec))


# --------------------------------------------------------------------------------------------
# The parsed schedule: a search over wall-clock fields


@dataclass(frozen=True, slots=True)
class _Schedule:
    """Next-value tables for each field and the day rule; searches naive wall-clock times."""

    next_second: tuple[int, ...]
    next_minute: tuple[int, ...]
    next_hour: tuple[int, ...]
    next_month: tuple[int, ...]
    next_year: tuple[int, ...]
    days: _DayRule

    def first_match_at_or_after(self, start: datetime) -> datetime | None:
        """The earliest matching wall time >= ``start`` (naive, whole seconds), up to MAX_YEAR."""
        year, month, day = start.year, start.month, start.day
        hour, minute, second = start.hour, start.minute, start.second
        while True:
            if year > MAX_YEAR:
                return None
            found = self.next_year[max(year, MIN_YEAR) - MIN_YEAR]
            if found == _NONE:
                return None
            if found != year:
                year, month, day, hour, minute, second = found, 1, 1, 0, 0, 0

            found = self.next_month[month - 1]
            if found == _NONE:
                year, month, day, hour, minute, second = year + 1, 1, 1, 0, 0, 0
                continue
            if found != month:
                month, day, hour, minute, second = found, 1, 0, 0, 0

            found = self.days.first_day_at_or_after(year, month, day)
            if found == _NONE:
                month, day, hour, minute, second = month + 1, 1, 0, 0, 0
                continue
            if found != day:
                day, hour, minute, second = found, 0, 0, 0

            found = self.next_hour[hour]
            if found == _NONE:
                day, hour, minute, second = day + 1, 0, 0, 0
                continue
            if found != hour:
                hour, minute, second = found, 0, 0

            found = self.next_minute[minute]
            if found == _NONE:
                hour, minute, second = hour + 1, 0, 0
                continue
            if found != minute:
                minute, second = found, 0

            found = self.next_second[second]
            if found == _NONE:
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

    next_second = _next_table(_values(seconds, _SECONDS), 0, 59)
    next_minute = _next_table(_values(minutes, _MINUTES), 0, 59)
    next_hour = _next_table(_values(hours, _HOURS), 0, 23)
    month_days = None if day_of_month == "?" else _day_of_month_rule(day_of_month)
    next_month = _next_table(_values(month, _MONTH), 1, 12)
    week_days = None if day_of_week == "?" else _day_of_week_rule(day_of_week)
    next_year = _next_table(_values(year, _YEAR), MIN_YEAR, MAX_YEAR)
    days: _DayRule
    if month_days is not None and week_days is None:
        days = month_days
    elif week_days is not None and month_days is None:
        days = week_days
    elif month_days is None:
        raise _DAY_OF_WEEK.error(
            "cannot be '?' when day-of-month is '?' too; exactly one of them must be '?'"
        )
    else:
        raise _DAY_OF_WEEK.error(
            f"must be '?' when day-of-month is given ('{day_of_month}' and '{day_of_week}'); "
            "Quartz does not support specifying both"
        )
    return _Schedule(next_second, next_minute, next_hour, next_month, next_year, days)


# --------------------------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------------
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
