"""Fire times nobody handed on (a leader died, ZooKeeper was away) are caught up by the next
scheduler: from the fire checkpoint the last leader left in ``/ha/fired_until``, within the
catch-up window; one run with misfire off, one per fire time with it on; older ones skipped and
logged once per job.

The manual clock starts near the wall clock here: a job written after the checkpoint is caught up
only from its node's modification time, which ZooKeeper stamps with its own clock."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from devstack.stack import ZooKeeperServer
from server.registry.fire_checkpoint import FireCheckpoint
from server.scheduler.core import SchedulerCore
from server.scheduler.settings import CoreSettings
from testkit.scheduling import EXECUTOR_COMMAND, SchedulerRig, scheduler_rig


def soon_odd_second() -> datetime:
    """An odd second a few seconds ahead of the wall clock (a ``0/2`` cron fires one second on)."""
    now = datetime.now(UTC).replace(microsecond=0)
    return now + timedelta(seconds=3 - now.second % 2)


async def successor(rig: SchedulerRig) -> SchedulerCore:
    """A scheduler core taking over on the same namespace and clock (what a new leader builds)."""
    core = SchedulerCore(rig.zookeeper, rig.core.settings, clock=rig.clock)
    await core.load()
    return core


@pytest.mark.parametrize(("misfire", "runs"), [(True, 5), (False, 1)])
async def test_fires_missed_between_a_leaders_death_and_its_successor_are_caught_up(
    zk_server: ZooKeeperServer, misfire: bool, runs: int
) -> None:
    start = soon_odd_second()
    async with scheduler_rig(zk_server.connect_string, start=start) as rig:
        app = await rig.publish_app()
        job = await rig.register_job(app, cron="0/2 * * * * ?", misfire=misfire, sharding_total_count=1)
        await rig.offer()
        await rig.fire(1)  # an even second: the leader launches this fire's run, then dies
        await rig.finish(await rig.wait_for_accept(1))
        assert rig.ready_count(job.job_name) == 0

        rig.clock.advance(10.5)  # five fire times had no scheduler
        core = await successor(rig)
        await core.tick()
        assert rig.ready_count(job.job_name) == runs
        assert core.timers.next_fire(job.job_name) == start + timedelta(seconds=13)


async def test_fires_older_than_the_catch_up_window_are_skipped_and_logged_once(
    zk_server: ZooKeeperServer, caplog: pytest.LogCaptureFixture
) -> None:
    async with scheduler_rig(zk_server.connect_string, start=soon_odd_second()) as rig:
        app = await rig.publish_app()
        job = await rig.register_job(app, cron="0/2 * * * * ?", misfire=True, sharding_total_count=1)
        await rig.fire(1)  # recorded
        rig.clock.advance(120)  # 60 fire times missed, 30 of them in the last minute
        core = await successor(rig)
        with caplog.at_level(logging.INFO, logger="server.scheduler"):
            await core.tick()
        assert rig.ready_count(job.job_name) == 1 + 10  # the run cap
        skipped = [
            r for r in caplog.records if "skipped" in r.getMessage() and job.job_name in r.getMessage()
        ]
        assert len(skipped) == 1
        assert "50 missed fire time(s)" in skipped[0].getMessage()  # 30 older, 20 beyond the cap


async def test_a_job_written_after_the_checkpoint_is_caught_up_only_from_then(
    zk_server: ZooKeeperServer,
) -> None:
    settings = CoreSettings(executor_command=EXECUTOR_COMMAND, resync_seconds=3600.0, catch_up_runs=100)
    start = datetime.now(UTC) + timedelta(seconds=2)
    async with scheduler_rig(zk_server.connect_string, start=start, settings=settings) as rig:
        app = await rig.publish_app()
        await FireCheckpoint(rig.zookeeper).aset(start - timedelta(seconds=40))
        job = await rig.register_job(app, cron="* * * * * ?", misfire=True, sharding_total_count=1)
        core = await successor(rig)
        await core.tick()
        # From the checkpoint it would be 42 runs; from the registration (about 2 s ago), 2 or 3.
        assert 1 <= rig.ready_count(job.job_name) <= 4
