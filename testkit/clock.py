"""The one fake of ``server.base.clock.Clock``: time moves only when the test moves it."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, tzinfo

__all__ = ["ManualClock"]


class ManualClock:
    """Wall and monotonic time that move together, only by :meth:`advance` or :meth:`set`.

    A sleeper wakes once the clock has reached its target (``early_wakes``: at every move, due or
    not, as a real sleep may return early). ``sleeping_until`` is the target of the newest sleeper.
    """

    def __init__(self, start: datetime, *, early_wakes: bool = False) -> None:
        if start.tzinfo is None:
            raise ValueError("the start time must be aware")
        self.current = start
        self.mono = 1000.0
        self.early_wakes = early_wakes
        self.sleeping_until: datetime | None = None
        self._sleepers: list[tuple[datetime, asyncio.Future[None]]] = []
        self._sleep_started: asyncio.Event | None = None

    def now(self, zone: tzinfo) -> datetime:
        return self.current.astimezone(zone)

    def monotonic(self) -> float:
        return self.mono

    async def sleep(self, seconds: float) -> None:
        target = self.current + timedelta(seconds=seconds)
        woken: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sleepers.append((target, woken))
        self.sleeping_until = target
        if self._sleep_started is not None:
            self._sleep_started.set()
        try:
            await woken
        finally:
            if self.sleeping_until == target:
                self.sleeping_until = None

    def advance(self, seconds: float) -> None:
        self.set(self.current + timedelta(seconds=seconds))

    def set(self, moment: datetime) -> None:
        self.mono += (moment - self.current).total_seconds()
        self.current = moment
        waiting = []
        for target, woken in self._sleepers:
            if woken.done():
                continue
            if self.early_wakes or target <= moment:
                woken.set_result(None)
            else:
                waiting.append((target, woken))
        self._sleepers = waiting

    async def until_sleeping(self, target: datetime, timeout: float = 5.0) -> None:
        """Return once a sleeper waits for ``target``."""
        async with asyncio.timeout(timeout):
            while self.sleeping_until != target:
                self._sleep_started = asyncio.Event()
                await self._sleep_started.wait()
