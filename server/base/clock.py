"""The one clock every process takes time from, injected so that tests can move time.

``now`` is wall time, aware, in the zone asked for (cron is read on a wall clock); ``monotonic``
measures ages and timeouts; ``sleep`` waits. Tests use ``testkit.clock.ManualClock``.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, tzinfo
from typing import Protocol

__all__ = ["Clock", "SystemClock"]


class Clock(Protocol):
    """Wall time, monotonic time and sleeping."""

    def now(self, zone: tzinfo) -> datetime:
        """The current wall time in ``zone``."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Return after ``seconds`` of this clock's time."""
        ...


class SystemClock:
    """The machine's clocks."""

    def now(self, zone: tzinfo) -> datetime:
        return datetime.now(zone)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
