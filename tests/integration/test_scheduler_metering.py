"""The scheduler's fire → launch metric (``elasticjob_fire_to_launch_seconds``, ``server.scheduler.
metering``): it measures from a cron fire of a job to the launch of its run, so a fire of a job that
is gone (deregistered, or removed with its app) measures nothing when a job of the same name is
registered again and launched. ElasticJob-Cloud 3.0 drops a removed app's jobs with their queued
runs (``CloudAppRestfulApi.deregister``); the new job's runs owe nothing to the old job's fires."""

from __future__ import annotations

import asyncio

from devstack.stack import ZooKeeperServer
from server.telemetry import metrics
from testkit.scheduling import scheduler_rig

HOURLY = "0 0 * * * ?"


def fire_to_launch_count() -> float:
    return metrics.REGISTRY.get_sample_value("elasticjob_fire_to_launch_seconds_count") or 0.0


async def test_a_fire_of_a_job_removed_with_its_app_is_not_measured_for_the_next_job_of_its_name(
    zk_server: ZooKeeperServer,
) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        app = await rig.publish_app()
        job = (await rig.register_job(app, cron=HOURLY, sharding_total_count=1)).job_name
        await rig.fire(3600)  # the hour's fire is taken; no offer, so its run waits
        assert rig.ready_count(job) == 1
        removed = await asyncio.to_thread(rig.apps.delete, app.app_name)
        await rig.core.app_removed(app.app_name, removed)

        again = await rig.publish_app(app_name=app.app_name)
        await rig.register_job(again, job_name=job, cron=HOURLY, sharding_total_count=1)
        await rig.trigger(job)  # a run asked for, not fired
        before = fire_to_launch_count()
        await rig.offer()
        await rig.wait_for_accept(1)
        assert fire_to_launch_count() == before


async def test_a_fired_run_launched_is_measured_once(zk_server: ZooKeeperServer) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        app = await rig.publish_app()
        job = (await rig.register_job(app, cron=HOURLY, sharding_total_count=1)).job_name
        await rig.fire(3600)
        assert rig.ready_count(job) == 1
        before = fire_to_launch_count()
        await rig.offer()
        await rig.wait_for_accept(1)
        assert fire_to_launch_count() == before + 1
