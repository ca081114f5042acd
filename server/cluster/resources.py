"""Resources as the master accounts for them: scalars (``cpus``, ``mem``, ``disk``) and ranges
(``ports``).

Mesos keeps scalar values as fixed-point numbers with three decimal digits, so that adding and
subtracting offers never drifts; :class:`Resources` does the same, holding integer thousandths.
Ranges are kept as sorted, merged, inclusive ``(begin, end)`` pairs; adding is their union,
subtracting removes the covered numbers, and a bag contains another when every range of the other
lies inside its own (``Value::Ranges`` arithmetic in Mesos' ``src/common/values.cpp``). ``SET``
resources do not exist on the embedded agent; a TaskInfo asking for one is refused with a
:class:`ResourceError` naming the resource. :func:`resource_role` reads the role a ``Resource``
list is allocated to.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Ranges", "ResourceError", "Resources", "format_ranges", "parse_ranges", "resource_role"]

_SCALE = 1000  # three decimal digits, as Mesos' Value::Scalar

Ranges = tuple[tuple[int, int], ...]


class ResourceError(ValueError):
    """A resource list that cannot be accounted for (malformed, negative, or not scalar)."""


def _to_units(value: float) -> int:
    return round(value * _SCALE)


def _merged(ranges: Iterable[tuple[int, int]]) -> Ranges:
    """Sorted, with overlapping and adjacent ranges joined."""
    merged: list[tuple[int, int]] = []
    for begin, end in sorted(ranges):
        if merged and begin <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((begin, end))
    return tuple(merged)


def _subtract(ranges: Ranges, removed: Ranges) -> Ranges:
    left: list[tuple[int, int]] = []
    for begin, end in ranges:
        pieces = [(begin, end)]
        for cut_begin, cut_end in removed:
            next_pieces: list[tuple[int, int]] = []
            for low, high in pieces:
                if cut_end < low or cut_begin > high:
                    next_pieces.append((low, high))
                    continue
                if low < cut_begin:
                    next_pieces.append((low, cut_begin - 1))
                if cut_end < high:
                    next_pieces.append((cut_end + 1, high))
            pieces = next_pieces
        left.extend(pieces)
    return _merged(left)


def _covers(ranges: Ranges, wanted: Ranges) -> bool:
    return all(any(low <= begin and end <= high for low, high in ranges) for begin, end in wanted)


def format_ranges(ranges: Ranges) -> str:
    """Mesos' text form of ranges: ``[31000-32000, 40000-40010]``."""
    return "[" + ", ".join(f"{begin}-{end}" for begin, end in ranges) + "]"


def parse_ranges(text: str) -> Ranges:
    """Mesos' text form of ranges, ``[31000-32000, 40000-40010]``; raises :class:`ResourceError`."""
    body = text.strip()
    if not (body.startswith("[") and body.endswith("]")):
        raise ResourceError(f"ranges must look like [31000-32000], got {text!r}")
    pairs: list[tuple[int, int]] = []
    for item in filter(None, (part.strip() for part in body[1:-1].split(","))):
        begin, dash, end = item.partition("-")
        try:
            pair = (int(begin), int(end if dash else begin))
        except ValueError:
            raise ResourceError(f"ranges must look like [31000-32000], got {text!r}") from None
        if pair[0] < 0 or pair[0] > pair[1]:
            raise ResourceError(f"range {item} must have 0 <= begin <= end")
        pairs.append(pair)
    return _merged(pairs)


def resource_role(resources: Sequence[Any], default: str = "*") -> str:
    """The role the resources are allocated to (``allocation_info.role``), else ``default``; an
    ``allocation_info`` that is not an object names no role."""
    for resource in resources:
        allocation = resource.get("allocation_info") if isinstance(resource, Mapping) else None
        if isinstance(allocation, Mapping) and isinstance(allocation.get("role"), str):
            return str(allocation["role"])
    return default


@dataclass(frozen=True, slots=True)
class Resources:
    """An immutable bag of named scalar quantities and ranges; names with a zero quantity or no
    range are dropped."""

    _units: Mapping[str, int] = field(default_factory=dict)
    _ranges: Mapping[str, Ranges] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, units in self._units.items():
            if units < 0:
                raise ResourceError(f"resource {name} must not be negative")
        object.__setattr__(self, "_units", {name: units for name, units in self._units.items() if units})
        object.__setattr__(
            self, "_ranges", {name: _merged(ranges) for name, ranges in self._ranges.items() if ranges}
        )

    @classmethod
    def of(cls, **quantities: float) -> Resources:
        """``Resources.of(cpus=2, mem=1024)``."""
        return cls.from_quantities(quantities)

    @classmethod
    def from_quantities(cls, quantities: Mapping[str, float]) -> Resources:
        """Build from ``{name: value}``; raises :class:`ResourceError` for a negative value."""
        for name, value in quantities.items():
            if value < 0:
                raise ResourceError(f"resource {name} must not be negative, got {value}")
        return cls({name: _to_units(value) for name, value in quantities.items()})

    def with_ranges(self, name: str, ranges: Iterable[tuple[int, int]]) -> Resources:
        """This bag with the ranges ``name`` (``ports``) added."""
        return self + Resources({}, {name: tuple(ranges)})

    @classmethod
    def from_json(cls, resources: Iterable[Any]) -> Resources:
        """Sum a ``repeated Resource`` JSON list.

        Each entry needs a string ``name``; ``type`` is ``SCALAR`` (the proto requires the field;
        it is taken as ``SCALAR`` when absent) with a finite, non-negative ``scalar.value``, or
        ``RANGES`` with ``ranges.range[]`` of integer ``begin <= end``.
        """
        totals: dict[str, int] = {}
        ranges: dict[str, list[tuple[int, int]]] = {}
        for entry in resources:
            if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
                raise ResourceError(f"a resource needs a name: {entry!r}")
            name = entry["name"]
            kind = entry.get("type", "SCALAR")
            if kind == "RANGES":
                ranges.setdefault(name, []).extend(_ranges_of(name, entry.get("ranges")))
                continue
            if kind != "SCALAR":
                raise ResourceError(f"resource {name} of type {kind} is not offered by this agent")
            scalar = entry.get("scalar")
            value = scalar.get("value") if isinstance(scalar, Mapping) else None
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ResourceError(f"resource {name} needs a numeric scalar.value")
            if not value >= 0 or value == float("inf"):
                raise ResourceError(f"resource {name} must be finite and not negative, got {value}")
            totals[name] = totals.get(name, 0) + _to_units(float(value))
        if set(totals) & set(ranges):
            raise ResourceError(f"resource {sorted(set(totals) & set(ranges))[0]} is both SCALAR and RANGES")
        return cls(totals, {name: tuple(items) for name, items in ranges.items()})

    def to_json(self, *, allocation_role: str | None = None) -> list[dict[str, Any]]:
        """The ``repeated Resource`` JSON of unreserved resources (role ``*``), sorted by name;
        ``allocation_role`` adds ``allocation_info`` as offers to MULTI_ROLE frameworks carry it."""
        items: list[dict[str, Any]] = []
        for name in sorted({*self._units, *self._ranges}):
            item: dict[str, Any] = {"name": name}
            if name in self._units:
                item.update(type="SCALAR", scalar={"value": self._units[name] / _SCALE})
            else:
                ranges = [{"begin": begin, "end": end} for begin, end in self._ranges[name]]
                item.update(type="RANGES", ranges={"range": ranges})
            item["role"] = "*"
            if allocation_role is not None:
                item["allocation_info"] = {"role": allocation_role}
            items.append(item)
        return items

    def quantities(self) -> dict[str, float]:
        """``{name: value}`` for every non-zero scalar resource."""
        return {name: units / _SCALE for name, units in sorted(self._units.items())}

    def ranges(self) -> dict[str, Ranges]:
        """``{name: ((begin, end), ...)}`` for every range resource (``ports``)."""
        return dict(sorted(self._ranges.items()))

    def get(self, name: str) -> float:
        return self._units.get(name, 0) / _SCALE

    def contains(self, other: Resources) -> bool:
        """Whether every quantity and every range of ``other`` fits in this bag."""
        return all(self._units.get(name, 0) >= units for name, units in other._units.items()) and all(
            _covers(self._ranges.get(name, ()), ranges) for name, ranges in other._ranges.items()
        )

    def __add__(self, other: Resources) -> Resources:
        totals = dict(self._units)
        for name, units in other._units.items():
            totals[name] = totals.get(name, 0) + units
        ranges = dict(self._ranges)
        for name, more in other._ranges.items():
            ranges[name] = ranges.get(name, ()) + more
        return Resources(totals, ranges)

    def __sub__(self, other: Resources) -> Resources:
        """The difference, floored at zero per scalar (never negative); ranges lose what
        ``other`` covers."""
        return Resources(
            {name: max(units - other._units.get(name, 0), 0) for name, units in self._units.items()},
            {name: _subtract(ranges, other._ranges.get(name, ())) for name, ranges in self._ranges.items()},
        )

    def __bool__(self) -> bool:
        return bool(self._units) or bool(self._ranges)

    def __str__(self) -> str:
        if not self:
            return "{}"
        parts = {name: f"{value:g}" for name, value in self.quantities().items()}
        parts.update({name: format_ranges(ranges) for name, ranges in self._ranges.items()})
        return "; ".join(f"{name}(*):{parts[name]}" for name in sorted(parts))


def _ranges_of(name: str, value: Any) -> list[tuple[int, int]]:
    items = value.get("range") if isinstance(value, Mapping) else None
    if not isinstance(items, list):
        raise ResourceError(f"resource {name} of type RANGES needs ranges.range")
    pairs: list[tuple[int, int]] = []
    for item in items:
        begin = item.get("begin") if isinstance(item, Mapping) else None
        end = item.get("end") if isinstance(item, Mapping) else None
        if not all(isinstance(bound, int) and not isinstance(bound, bool) for bound in (begin, end)):
            raise ResourceError(f"resource {name} needs integer ranges.range.begin and end")
        assert isinstance(begin, int) and isinstance(end, int)
        if begin < 0 or begin > end:
            raise ResourceError(f"resource {name} has the range {begin}-{end}; need 0 <= begin <= end")
        pairs.append((begin, end))
    return pairs
