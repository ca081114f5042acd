"""Who is offered the agent's free resources: offer filters, suppression and fair ordering.

Pure bookkeeping with an injected clock; the master asks and acts. Semantics follow the Mesos
hierarchical allocator for the one-agent case:

* Every allocation gives *all* currently free resources of the agent to one (framework, role),
  chosen by dominant resource share (what the framework holds in tasks, executors and offers,
  relative to the agent's total), ties broken by subscription order.
* A DECLINE (or the unused part of an ACCEPT) with ``refuse_seconds`` installs a filter for that
  (framework, role): a later offer is withheld while the free resources are *contained in* the
  refused ones. More resources than were refused (a task ended meanwhile) pass the filter, as in
  Mesos. ``refuse_seconds`` defaults to 5; zero or less installs nothing; it is capped at a year.
* SUPPRESS stops offers to the given roles (all the framework's roles when none are named) until
  REVIVE, which also removes the framework's filters for those roles.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from server.cluster.resources import Resources

__all__ = ["DEFAULT_REFUSE_SECONDS", "Allocator", "Candidate"]

#: ``Filters.refuse_seconds`` when the call does not say.
DEFAULT_REFUSE_SECONDS = 5.0
_MAX_REFUSE_SECONDS = 365 * 24 * 3600.0

#: Mesos' default ``--min_allocatable_resources``: an offer needs at least one of these.
_MIN_ALLOCATABLE = (Resources.of(cpus=0.01), Resources.of(mem=32))


@dataclass(frozen=True, kw_only=True, slots=True)
class Candidate:
    """A connected framework that may receive an offer."""

    framework_id: str
    roles: tuple[str, ...]
    held: Resources  # in tasks, executors and outstanding offers
    order: int  # subscription order, for ties


@dataclass(frozen=True, slots=True)
class _Filter:
    refused: Resources
    expires_at: float


@dataclass
class Allocator:
    """Offer filters and suppression per (framework, role), and the choice of the next offer."""

    clock: Callable[[], float] = time.monotonic
    _filters: dict[tuple[str, str], list[_Filter]] = field(default_factory=dict)
    _suppressed: dict[str, set[str]] = field(default_factory=dict)

    def refuse(
        self, framework_id: str, role: str, resources: Resources, refuse_seconds: float | None
    ) -> None:
        """Withhold ``resources`` (or less) from the framework's role for ``refuse_seconds``."""
        seconds = DEFAULT_REFUSE_SECONDS if refuse_seconds is None else refuse_seconds
        if not resources or not seconds > 0:
            return
        seconds = min(seconds, _MAX_REFUSE_SECONDS)
        self._filters.setdefault((framework_id, role), []).append(
            _Filter(refused=resources, expires_at=self.clock() + seconds)
        )

    def suppress(self, framework_id: str, roles: Iterable[str]) -> None:
        self._suppressed.setdefault(framework_id, set()).update(roles)

    def revive(self, framework_id: str, roles: Iterable[str]) -> None:
        """Resume offers to ``roles`` and forget their filters."""
        suppressed = self._suppressed.get(framework_id, set())
        for role in roles:
            suppressed.discard(role)
            self._filters.pop((framework_id, role), None)

    def suppressed_roles(self, framework_id: str) -> set[str]:
        return set(self._suppressed.get(framework_id, set()))

    def remove_framework(self, framework_id: str) -> None:
        self._suppressed.pop(framework_id, None)
        for key in [key for key in self._filters if key[0] == framework_id]:
            del self._filters[key]

    def next_expiry(self) -> float | None:
        """When the earliest filter still in force expires (clock time), if any. Expired filters
        are forgotten here too: a framework that is not offered to (disconnected, suppressed)
        never has its filters checked, and an expiry in the past would ask for an allocation at
        once, again and again."""
        now = self.clock()
        expiries = [item.expires_at for key in list(self._filters) for item in self._live_filters(key, now)]
        return min(expiries) if expiries else None

    def is_filtered(self, framework_id: str, role: str, resources: Resources) -> bool:
        filters = self._live_filters((framework_id, role), self.clock())
        return any(item.refused.contains(resources) for item in filters)

    def _live_filters(self, key: tuple[str, str], now: float) -> list[_Filter]:
        """The filters of ``key`` still in force at ``now``; expired ones are forgotten."""
        filters = [item for item in self._filters.get(key, []) if item.expires_at > now]
        if filters:
            self._filters[key] = filters
        else:
            self._filters.pop(key, None)
        return filters

    def choose(
        self, available: Resources, total: Resources, candidates: Sequence[Candidate]
    ) -> tuple[str, str] | None:
        """The (framework id, role) that gets ``available`` now, or ``None`` for nobody."""
        if not any(available.contains(minimum) for minimum in _MIN_ALLOCATABLE):
            return None

        def share(candidate: Candidate) -> tuple[float, int]:
            dominant = max(
                (candidate.held.get(name) / value for name, value in total.quantities().items() if value > 0),
                default=0.0,
            )
            return dominant, candidate.order

        for candidate in sorted(candidates, key=share):
            suppressed = self._suppressed.get(candidate.framework_id, set())
            for role in candidate.roles:
                if role in suppressed or self.is_filtered(candidate.framework_id, role, available):
                    continue
                return candidate.framework_id, role
        return None
