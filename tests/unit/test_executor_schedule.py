"""DAEMON timing: cron fires with a moved clock, the misfire backlog, BEGIN/COMPLETE sampling."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from server.base.cron import CronExpression
from server.executor.schedule import EventSampler, FireBacklog, cron_fires
from testkit.clock import ManualClock

T0 = datetime(2026, 3, 1, 12, 0, 0, 500_000, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0.replace(microsecond=0) + timedelta(seconds=seconds)


async def test_cron_fires_come_one_per_fire_time_when_the_clock_reaches_it() -> None:
    clock = ManualClock(T0)
    fires = cron_fires(CronExpression.parse("* * * * * ?"), UTC, clock)
    first = asyncio.ensure_future(anext(fires))
    await clock.until_sleeping(at(1))
    assert not first.done()
    clock.set(at(1))
    assert await first == at(1)
    second = asyncio.ensure_future(anext(fires))
    await clock.until_sleeping(at(2))
    clock.set(at(2) + timedelta(milliseconds=3))
    assert await second == at(2)


async def test_a_timer_that_wakes_late_counts_the_fires_it_slept_through_as_one() -> None:
    clock = ManualClock(T0)
    fires = cron_fires(CronExpression.parse("* * * * * ?"), UTC, clock)
    first = asyncio.ensure_future(anext(fires))
    await clock.until_sleeping(at(1))
    clock.set(at(10.5))  # the machine slept through nine fire times
    assert await first == at(1)
    second = asyncio.ensure_future(anext(fires))
    await clock.until_sleeping(at(11))
    clock.set(at(11))
    assert await second == at(11)


async def test_an_early_wake_sleeps_again_and_fires_nothing_early() -> None:
    clock = ManualClock(T0, early_wakes=True)
    fires = cron_fires(CronExpression.parse("0/5 * * * * ?"), UTC, clock)
    first = asyncio.ensure_future(anext(fires))
    await clock.until_sleeping(at(5))
    clock.set(at(4.9))  # the sleep returns 0.1 s before the fire is due
    for _ in range(10):
        await asyncio.sleep(0)  # let the timer see it
    assert not first.done()
    assert clock.sleeping_until == at(5), "the timer sleeps again for the rest"
    clock.set(at(5))
    assert await first == at(5)


async def test_a_schedule_without_fires_left_ends() -> None:
    clock = ManualClock(datetime(2099, 12, 31, 23, 59, 59, tzinfo=UTC))
    fires = cron_fires(CronExpression.parse("0 0 0 1 1 ? 2099"), UTC, clock)
    with pytest.raises(StopAsyncIteration):
        await anext(fires)


def test_with_misfire_every_fire_during_a_run_queues_a_run() -> None:
    backlog = FireBacklog(misfire=True)
    backlog.fire()
    assert backlog.take()  # run 1 starts
    for _ in range(3):
        backlog.fire()  # fires while run 1 goes on
    assert [backlog.take() for _ in range(4)] == [True, True, True, False]


def test_without_misfire_fires_during_a_run_collapse_into_one() -> None:
    backlog = FireBacklog(misfire=False)
    backlog.fire()
    assert backlog.take()
    for _ in range(3):
        backlog.fire()
    assert [backlog.take() for _ in range(2)] == [True, False]


async def test_next_run_waits_for_a_fire() -> None:
    backlog = FireBacklog(misfire=False)
    waiting = asyncio.ensure_future(backlog.next_run())
    await asyncio.sleep(0)
    assert not waiting.done()
    backlog.fire()
    await asyncio.wait_for(waiting, 1)
    assert backlog.pending == 0


@pytest.mark.parametrize(
    ("sampling_count", "sampled_runs"),
    [(0, [1, 2, 3, 4, 5, 6]), (1, [1, 2, 3, 4, 5, 6]), (2, [2, 4, 6]), (3, [3, 6])],
)
def test_begin_complete_sampling_takes_one_run_in_every_n(
    sampling_count: int, sampled_runs: list[int]
) -> None:
    sampler = EventSampler(sampling_count)
    assert [run for run in range(1, 7) if sampler.next_run_sampled()] == sampled_runs
