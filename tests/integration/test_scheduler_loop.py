"""The core's own loop (``SchedulerCore.run``): it stops when told, even mid-step, and survives a
failing step."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from devstack.stack import ZooKeeperServer
from server.domain.errors import RegistryUnavailable
from testkit.scheduling import scheduler_rig


async def test_a_stop_requested_during_a_step_ends_the_loop_at_once(zk_server: ZooKeeperServer) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        core = rig.core
        step = core.tick

        async def step_then_stop() -> None:
            await step()
            core.stop()  # as the service does when leadership ends, while the loop is busy

        core.tick = step_then_stop  # type: ignore[method-assign]
        # resync_seconds is an hour and no fire is near: a lost wake-up would block for minutes.
        await asyncio.wait_for(core.run(), timeout=3)


async def test_a_wake_up_during_a_step_starts_another_step(zk_server: ZooKeeperServer) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        core = rig.core
        step = core.tick
        steps = 0

        async def counted_step() -> None:
            nonlocal steps
            steps += 1
            await step()
            if steps == 1:
                core.wake()  # say, a resubscription while the first step was running
            else:
                core.stop()

        core.tick = counted_step  # type: ignore[method-assign]
        await asyncio.wait_for(core.run(), timeout=3)
        assert steps == 2


async def test_an_unexpected_error_in_a_step_does_not_end_the_loop(zk_server: ZooKeeperServer) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        core = rig.core
        steps = 0

        async def failing_step() -> None:
            nonlocal steps
            steps += 1
            if steps == 1:
                raise KeyError("a bug")
            core.stop()

        core.tick = failing_step  # type: ignore[method-assign]
        await asyncio.wait_for(core.run(), timeout=3)
        assert steps == 2


async def test_a_fire_that_could_not_be_recorded_is_recorded_by_the_next_step(
    zk_server: ZooKeeperServer,
) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        app = await rig.publish_app()
        job = await rig.register_job(app)  # every 5 s
        commit = rig.zookeeper.acommit

        async def unavailable(build: Callable[[Any], None]) -> list[Any]:
            raise RegistryUnavailable("ZooKeeper is away for a moment")

        rig.zookeeper.acommit = unavailable  # type: ignore[method-assign]
        with pytest.raises(RegistryUnavailable):
            await rig.fire(4)  # 00:00:05
        rig.zookeeper.acommit = commit  # type: ignore[method-assign]
        assert rig.ready_count(job.job_name) == 0

        await rig.core.tick()  # still 00:00:05: the timer has moved on, the fire is not lost
        assert rig.ready_count(job.job_name) == 1
        await rig.core.tick()
        assert rig.ready_count(job.job_name) == 1  # and it is recorded once
