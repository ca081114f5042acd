"""The embedded master's allocator: offer filters (Mesos' hierarchical allocator, "Scheduler HTTP
API": DECLINE and ACCEPT ``filters.refuse_seconds``)."""

from __future__ import annotations

from server.cluster.master.allocator import Allocator, Candidate
from server.cluster.resources import Resources


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_an_expired_filter_of_a_framework_never_offered_to_is_not_an_expiry_to_wait_for() -> None:
    """A filter is forgotten once it expires even when its framework is never a candidate (it
    disconnected, or suppressed): the master schedules its next allocation at ``next_expiry()``,
    and an expiry in the past made it allocate in a tight loop (80% of a core with a framework
    disconnected after a DECLINE)."""
    clock = Clock()
    allocator = Allocator(clock=clock)
    allocator.refuse("gone", "*", Resources.of(cpus=1, mem=64), 5)
    allocator.refuse("gone", "*", Resources.of(cpus=1, mem=64), 20)
    assert allocator.next_expiry() == 105.0
    clock.now = 106.0
    assert allocator.next_expiry() == 120.0
    clock.now = 121.0
    assert allocator.next_expiry() is None


def test_a_filter_in_force_still_withholds_the_refused_resources() -> None:
    clock = Clock()
    allocator = Allocator(clock=clock)
    refused = Resources.of(cpus=2, mem=1024)
    allocator.refuse("fw", "*", refused, 5)
    candidate = Candidate(framework_id="fw", roles=("*",), held=Resources(), order=0)
    assert allocator.next_expiry() == 105.0
    assert allocator.choose(refused, refused, [candidate]) is None
    clock.now = 105.5
    assert allocator.next_expiry() is None
    assert allocator.choose(refused, refused, [candidate]) == ("fw", "*")
