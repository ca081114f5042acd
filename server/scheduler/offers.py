"""Resource offers as the scheduler sees them, and the pool of offers it currently holds.

Offers are held only briefly (see ``offer_policy``): long enough to launch work that is due now
or within the hold window, never indefinitely; rescinded offers are forgotten at once.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Offer:
    """The parts of a Mesos offer that matching needs, plus the raw resources to copy from."""

    offer_id: str
    agent_id: str
    hostname: str
    cpus: float
    mem: float
    executor_ids: frozenset[str]
    role: str = "*"
    allocation_info: Mapping[str, Any] | None = None
    received_at: float = 0.0

    @classmethod
    def from_json(cls, offer: Mapping[str, Any], received_at: float = 0.0) -> Offer:
        cpus = mem = 0.0
        role = "*"
        allocation = offer.get("allocation_info")
        for resource in offer.get("resources", ()):
            if resource.get("type", "SCALAR") != "SCALAR" or _reserved_or_revocable(resource):
                continue
            value = float(resource.get("scalar", {}).get("value", 0.0))
            if resource.get("name") == "cpus":
                cpus += value
            elif resource.get("name") == "mem":
                mem += value
            role = str(resource.get("role", role))
            allocation = resource.get("allocation_info", allocation)
        if allocation is not None:
            role = str(allocation.get("role", role))
        return cls(
            offer_id=str(offer["id"]["value"]),
            agent_id=str(offer["agent_id"]["value"]),
            hostname=str(offer.get("hostname", "")),
            cpus=cpus,
            mem=mem,
            executor_ids=frozenset(str(e["value"]) for e in offer.get("executor_ids", ())),
            role=role,
            allocation_info=dict(allocation) if allocation is not None else None,
            received_at=received_at,
        )


def _reserved_or_revocable(resource: Mapping[str, Any]) -> bool:
    """Dynamically reserved (either format) or revocable resources: launching on them needs the
    reservation or revocable info copied back, which tasks do not carry, so they are not counted."""
    return "reservation" in resource or bool(resource.get("reservations")) or "revocable" in resource


@dataclass(slots=True)
class OfferPool:
    """Offers on hand, by id."""

    _offers: dict[str, Offer] = field(default_factory=dict)

    def add(self, offers: Sequence[Offer]) -> None:
        for offer in offers:
            self._offers[offer.offer_id] = offer

    def get(self, offer_id: str) -> Offer | None:
        return self._offers.get(offer_id)

    def rescind(self, offer_id: str) -> bool:
        return self._offers.pop(offer_id, None) is not None

    def take(self, offer_ids: Sequence[str]) -> list[Offer]:
        return [self._offers.pop(offer_id) for offer_id in offer_ids if offer_id in self._offers]

    def take_all(self) -> list[Offer]:
        offers = list(self._offers.values())
        self._offers.clear()
        return offers

    def __len__(self) -> int:
        return len(self._offers)

    def __iter__(self) -> Iterator[Offer]:
        return iter(list(self._offers.values()))
