"""How each field of a Quartz cron expression is read: its value set, and the day rules.

``server.base.cron`` holds the syntax (its module docstring) and the search over these; this
module turns one field's text into values or a day rule, refusing what Quartz would misread.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Final, Protocol

__all__ = [
    "DAY_OF_WEEK",
    "HOURS",
    "MAX_YEAR",
    "MINUTES",
    "MIN_YEAR",
    "MONTH",
    "NONE",
    "SECONDS",
    "YEAR",
    "DayRule",
    "InvalidCronExpression",
    "day_of_month_rule",
    "day_of_week_rule",
    "field_values",
    "next_table",
]

MIN_YEAR: Final = 1970
MAX_YEAR: Final = 2099

NONE: Final = -1  # "no such value" in the next-value tables and day rules
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


SECONDS = _FieldSpec("seconds", 0, 59, {}, 59)
MINUTES = _FieldSpec("minutes", 0, 59, {}, 59)
HOURS = _FieldSpec("hours", 0, 23, {}, 23)
_DAY_OF_MONTH = _FieldSpec("day-of-month", 1, 31, {}, 31)
MONTH = _FieldSpec("month", 1, 12, _MONTH_NAMES, 12)
DAY_OF_WEEK = _FieldSpec("day-of-week", 1, 7, _WEEKDAY_NAMES, 7)
YEAR = _FieldSpec("year", MIN_YEAR, MAX_YEAR, {}, None)


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
    if spec is YEAR:
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
    if "L" in item and spec not in (_DAY_OF_MONTH, DAY_OF_WEEK):
        return f"'{item}': 'L' is only allowed in day-of-month and day-of-week"
    if "W" in item and spec is not _DAY_OF_MONTH:
        return f"'{item}': 'W' is only allowed in day-of-month"
    if "#" in item and spec is not DAY_OF_WEEK:
        return f"'{item}': '#' is only allowed in day-of-week"
    if not spec.names and any(character.isalpha() for character in item):
        return f"'{item}': only numbers are allowed here (names exist only for month and day-of-week)"
    return f"cannot parse '{item}'"


def _list_items(text: str, spec: _FieldSpec) -> list[str]:
    items = [item for item in text.split(",") if item]
    if not items:
        raise spec.error(f"'{text}' holds no value")
    return items


def field_values(text: str, spec: _FieldSpec) -> frozenset[int]:
    """A plain list field (seconds, minutes, hours, month, year, or plain day lists)."""
    values: set[int] = set()
    for item in _list_items(text, spec):
        if item == "?":
            raise spec.error(_explain_unparsable(item, spec))
        values.update(_item_values(item, spec))
    return frozenset(values)


def next_table(values: Iterable[int], low: int, high: int) -> tuple[int, ...]:
    """``table[i - low]`` is the smallest value >= i, or ``NONE``; valid for low <= i <= high + 1."""
    allowed = set(values)
    table = [NONE] * (high - low + 2)
    upcoming = NONE
    for candidate in range(high, low - 1, -1):
        if candidate in allowed:
            upcoming = candidate
        table[candidate - low] = upcoming
    return tuple(table)


# Day rules: which days of a given month fire


def _days_in_month(year: int, month: int) -> int:
    if month == 2 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0):
        return 29
    return _DAYS_IN_MONTH[month]


def _weekday(year: int, month: int, day: int) -> int:
    """Quartz's weekday number: 1 = Sunday ... 7 = Saturday."""
    return (date(year, month, day).weekday() + 1) % 7 + 1


class DayRule(Protocol):
    def first_day_at_or_after(self, year: int, month: int, day: int) -> int:
        """The first firing day of that month that is >= day, or ``NONE``."""
        ...


@dataclass(frozen=True, slots=True)
class _DaysOfMonth:
    """Day-of-month values such as ``1,15`` or ``1/5``; days the month lacks never fire."""

    next_day: tuple[int, ...]  # next_table over 1..31

    def first_day_at_or_after(self, year: int, month: int, day: int) -> int:
        if day > 31:
            return NONE
        found = self.next_day[day - 1]
        return found if found <= _days_in_month(year, month) else NONE


@dataclass(frozen=True, slots=True)
class _LastDayOfMonth:
    """``L`` (offset 0) or ``L-n``: the day ``offset`` days before the month's last."""

    offset: int

    def first_day_at_or_after(self, year: int, month: int, day: int) -> int:
        target = _days_in_month(year, month) - self.offset
        return target if target >= max(day, 1) else NONE


@dataclass(frozen=True, slots=True)
class _NearestWeekday:
    """``nW`` (``anchor_day`` = n) or ``LW`` / ``L-nW`` (``anchor_day`` None, ``last_offset`` = n)."""

    anchor_day: int | None
    last_offset: int

    def first_day_at_or_after(self, year: int, month: int, day: int) -> int:
        last = _days_in_month(year, month)
        anchor = last - self.last_offset if self.anchor_day is None else self.anchor_day
        if not 1 <= anchor <= last:
            return NONE
        weekday = _weekday(year, month, anchor)
        if weekday == _SATURDAY:
            anchor = anchor + 2 if anchor == 1 else anchor - 1
        elif weekday == _SUNDAY:
            anchor = anchor - 2 if anchor == last else anchor + 1
        return anchor if anchor >= day else NONE


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
            return NONE
        found = day + self.days_ahead[_weekday(year, month, day)]
        return found if found <= last else NONE


@dataclass(frozen=True, slots=True)
class _LastWeekdayOfMonth:
    """``nL``: the last weekday n of the month."""

    weekday: int

    def first_day_at_or_after(self, year: int, month: int, day: int) -> int:
        last = _days_in_month(year, month)
        found = last - (_weekday(year, month, last) - self.weekday) % 7
        return found if found >= day else NONE


@dataclass(frozen=True, slots=True)
class _NthWeekdayOfMonth:
    """``n#k``: the k-th weekday n of the month, if the month has one."""

    weekday: int
    nth: int

    def first_day_at_or_after(self, year: int, month: int, day: int) -> int:
        first = 1 + (self.weekday - _weekday(year, month, 1)) % 7
        found = first + 7 * (self.nth - 1)
        return found if day <= found <= _days_in_month(year, month) else NONE


def _no_list(text: str, spec: _FieldSpec, what: str) -> None:
    if "," in text:
        raise spec.error(f"'{text}': {what} must stand alone, not in a list")


def day_of_month_rule(text: str) -> DayRule:
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
    return _DaysOfMonth(next_table(field_values(text, spec), spec.low, spec.high))


def day_of_week_rule(text: str) -> DayRule:
    spec = DAY_OF_WEEK
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
    return _DaysOfWeek.of(field_values(text, spec))
