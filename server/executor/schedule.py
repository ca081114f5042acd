"""When a DAEMON task runs: cron fires, the backlog of fires that came during a run, sampling.

The cron expression (:class:`~server.base.cron.CronExpression`) only answers "next fire
after t"; this module owns the rest, with time injected (:class:`Clock`) so tests move a clock
instead of sleeping:

- :func:`cron_fires` yields each fire instant once it has come. A timer that wakes late (a busy
  loop, a suspended machine) counts the fires it slept through as one: the next fire is computed
  after the wake-up time, never before it.
- :class:`FireBacklog` is the misfire rule, the same one the scheduler applies to TRANSIENT jobs'
  ready queue: with ``misfire`` on, every fire that comes while a run is going (or waiting for a
  slot) queues one more run; with it off, such fires collapse into at most one waiting run, so the
  second and later fires during one run are skipped. Never two runs of one task at once: the
  task takes one fire, runs, then takes the next.
- :class:`EventSampler` decides which runs report ``BEGIN`` / ``COMPLETE``: with
  ``eventTraceSamplingCount`` N > 1, runs N, 2N, 3N, ... (counting from 1), as ElasticJob-Cloud's
  daemon executor counts; with 0 or 1, every run.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, tzinfo

from server.base.clock import Clock
from server.base.cron import CronExpression

__all__ = ["EventSampler", "FireBacklog", "cron_fires"]


async def cron_fires(cron: CronExpression, zone: tzinfo, clock: Clock) -> AsyncIterator[datetime]:
    """Yield every fire instant of ``cron`` (in ``zone``) strictly after now, as it comes."""
    after = clock.now(zone)
    while True:
        fire = cron.next_fire_after(after)
        if fire is None:
            return
        now = clock.now(zone)
        while now < fire:
            await clock.sleep((fire - now).total_seconds())
            now = clock.now(zone)
        yield fire
        after = max(fire, clock.now(zone))


class FireBacklog:
    """How many runs are owed to fires (see the module docstring for the misfire rule)."""

    def __init__(self, *, misfire: bool) -> None:
        self.misfire = misfire
        self.pending = 0
        self._changed = asyncio.Event()

    def fire(self) -> None:
        """A fire came: owe one more run (misfire on) or at least one (misfire off)."""
        self.pending = self.pending + 1 if self.misfire else 1
        self._changed.set()

    def take(self) -> bool:
        """Start one owed run; ``False`` if none is owed."""
        if self.pending == 0:
            return False
        self.pending -= 1
        if self.pending == 0:
            self._changed.clear()
        return True

    async def next_run(self) -> None:
        """Wait until a run is owed, and take it."""
        while not self.take():
            await self._changed.wait()


class EventSampler:
    """Counts runs and says which ones send ``BEGIN`` / ``COMPLETE`` updates."""

    def __init__(self, sampling_count: int) -> None:
        self.sampling_count = sampling_count
        self.runs = 0

    def next_run_sampled(self) -> bool:
        """Count one more run; return whether it is sampled."""
        self.runs += 1
        return self.sampling_count <= 1 or self.runs % self.sampling_count == 0
