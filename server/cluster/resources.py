"""Scalar resources (``cpus``, ``mem``, ``disk``, ...) as the master accounts for them.

Mesos keeps scalar values as fixed-point numbers with three decimal digits, so that adding and
subtracting offers never drifts; :class:`Resources` does the same, holding integer thousandths.
Only ``SCALAR`` resources exist on the embedded agent; a TaskInfo asking for ranges or sets (ports,
say) is refused with a :class:`ResourceError` naming the resource.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ResourceError", "Resources"]

_SCALE = 1000  # three decimal digits, as Mesos' Value::Scalar


class ResourceError(ValueError):
    """A resource list that cannot be accounted for (malformed, negative, or not scalar)."""


def _to_units(value: float) -> int:
    return round(value * _SCALE)


@dataclass(frozen=True, slots=True)
class Resources:
    """An immutable bag of named scalar quantities; names with a zero quantity are dropped."""

    _units: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, units in self._units.items():
            if units < 0:
                raise ResourceError(f"resource {name} must not be negative")
        object.__setattr__(self, "_units", {name: units for name, units in self._units.items() if units})

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

    @classmethod
    def from_json(cls, resources: Iterable[Any]) -> Resources:
        """Sum a ``repeated Resource`` JSON list.

        Each entry needs a string ``name``; ``type`` must be ``SCALAR`` (the proto requires the
        field; it is taken as ``SCALAR`` when absent) with a finite, non-negative ``scalar.value``.
        """
        totals: dict[str, int] = {}
        for entry in resources:
            if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
                raise ResourceError(f"a resource needs a name: {entry!r}")
            name = entry["name"]
            kind = entry.get("type", "SCALAR")
            if kind != "SCALAR":
                raise ResourceError(f"resource {name} of type {kind} is not offered by this agent")
            scalar = entry.get("scalar")
            value = scalar.get("value") if isinstance(scalar, Mapping) else None
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ResourceError(f"resource {name} needs a numeric scalar.value")
            if not value >= 0 or value == float("inf"):
                raise ResourceError(f"resource {name} must be finite and not negative, got {value}")
            totals[name] = totals.get(name, 0) + _to_units(float(value))
        return cls(totals)

    def to_json(self, *, allocation_role: str | None = None) -> list[dict[str, Any]]:
        """The ``repeated Resource`` JSON of unreserved resources (role ``*``), sorted by name;
        ``allocation_role`` adds ``allocation_info`` as offers to MULTI_ROLE frameworks carry it."""
        items: list[dict[str, Any]] = []
        for name in sorted(self._units):
            item: dict[str, Any] = {
                "name": name,
                "type": "SCALAR",
                "scalar": {"value": self._units[name] / _SCALE},
                "role": "*",
            }
            if allocation_role is not None:
                item["allocation_info"] = {"role": allocation_role}
            items.append(item)
        return items

    def quantities(self) -> dict[str, float]:
        """``{name: value}`` for every non-zero resource."""
        return {name: units / _SCALE for name, units in sorted(self._units.items())}

    def get(self, name: str) -> float:
        return self._units.get(name, 0) / _SCALE

    def contains(self, other: Resources) -> bool:
        """Whether every quantity of ``other`` fits in this bag."""
        return all(self._units.get(name, 0) >= units for name, units in other._units.items())

    def __add__(self, other: Resources) -> Resources:
        totals = dict(self._units)
        for name, units in other._units.items():
            totals[name] = totals.get(name, 0) + units
        return Resources(totals)

    def __sub__(self, other: Resources) -> Resources:
        """The difference, floored at zero per resource (never negative)."""
        return Resources(
            {name: max(units - other._units.get(name, 0), 0) for name, units in self._units.items()}
        )

    def __bool__(self) -> bool:
        return bool(self._units)

    def __str__(self) -> str:
        if not self._units:
            return "{}"
        return "; ".join(f"{name}(*):{value:g}" for name, value in self.quantities().items())
