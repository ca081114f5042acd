"""DAEMON jobs: launched once when registered and kept running; a task killed from outside comes back,
a failed one fails over; cron fires and TriggerJob do not start more runs."""

from __future__ import annotations

import asyncio
import base64
import json
from dataclasses import replace

import pytest

from devstack.stack import ZooKeeperServer
from server.domain.errors import FailedPrecondition
from server.domain.job import JobConfig, JobExecutionType
from server.registry.jobs import JobRepository
from testkit.harness import unique_name
from testkit.mesos_double import MesosMasterDouble
from testkit.scheduling import SchedulerRig, scheduler_rig, shards, task_ids


async def register_daemon(rig: SchedulerRig, shard_count: int = 2) -> tuple[str, list[str]]:
    """Register a DAEMON job and launch it on one offer; return its name and task ids by item."""
    app = await rig.publish_app()
    job = await rig.register_job(
        app, job_execution_type=JobExecutionType.DAEMON, sharding_total_count=shard_count
    )
    await rig.master.wait_for_call("REVIVE")  # registration queued the one run it ever gets
    assert rig.ready_count(job.job_name) == 1
    await rig.offer()
    tasks = await rig.wait_for_accept(1)
    assert shards(tasks) == [f"{job.job_name}@-@{item}@-@READY" for item in range(shard_count)]
    return job.job_name, sorted(task_ids(tasks), key=lambda task_id: int(task_id.split("@-@")[1]))


async def test_a_daemon_job_is_launched_once_at_registration_and_not_by_cron(
    zk_server: ZooKeeperServer,
) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        job, tasks = await register_daemon(rig)
        for task_id in tasks:
            await rig.update(task_id, "TASK_RUNNING")
        assert rig.ready_count(job) == 0
        assert len(rig.running_nodes(job)) == 2

        await rig.offer()
        for _ in range(3):  # 00:00:05, :10, :15: its cron does not start runs
            await rig.fire(5)
        assert rig.ready_count(job) == 0
        assert len(rig.accepts()) == 1


async def test_a_daemon_job_cannot_be_triggered(zk_server: ZooKeeperServer) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        job, _ = await register_daemon(rig)
        with pytest.raises(FailedPrecondition):
            await asyncio.to_thread(rig.jobs.trigger, job)
        assert rig.ready_count(job) == 0


async def test_a_daemon_task_killed_from_outside_is_launched_again(zk_server: ZooKeeperServer) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        job, (task,) = await register_daemon(rig, shard_count=1)
        await rig.update(task, "TASK_RUNNING")

        await rig.update(task, "TASK_KILLED", message="killed by an operator")
        assert rig.running_nodes(job) == []
        assert rig.ready_count(job) == 1
        await rig.offer()
        again = await rig.wait_for_accept(2)
        assert shards(again) == [f"{job}@-@0@-@READY"]
        assert task_ids(again) != [task]
        assert rig.ready_count(job) == 0
        assert rig.running_nodes(job) == [f"{job}@-@0"]


async def test_one_killed_shard_of_a_daemon_job_is_launched_again_alone(zk_server: ZooKeeperServer) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        job, (t0, t1) = await register_daemon(rig)
        await rig.update(t0, "TASK_RUNNING")
        await rig.update(t1, "TASK_RUNNING")

        await rig.update(t1, "TASK_KILLED")
        await rig.offer()
        again = await rig.wait_for_accept(2)
        assert shards(again) == [f"{job}@-@1@-@FAILOVER"]
        assert rig.running_nodes(job) == [f"{job}@-@0", f"{job}@-@1"]


async def test_a_failed_daemon_task_fails_over_even_without_failover(zk_server: ZooKeeperServer) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        job, (t0, _) = await register_daemon(rig)
        await rig.update(t0, "TASK_RUNNING")
        await rig.update(t0, "TASK_FAILED", message="exit 3")
        assert rig.failover_nodes(job) == [f"{job}@-@0"]

        await rig.offer()
        again = await rig.wait_for_accept(2)
        assert shards(again) == [f"{job}@-@0@-@FAILOVER"]
        assert rig.failover_nodes(job) == []
        assert rig.running_nodes(job) == [f"{job}@-@0", f"{job}@-@1"]
        rig.assert_acknowledgements_exact()


async def test_a_disabled_daemon_job_is_killed_and_stays_down(zk_server: ZooKeeperServer) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        job, tasks = await register_daemon(rig)
        for task_id in tasks:
            await rig.update(task_id, "TASK_RUNNING")

        await asyncio.to_thread(rig.zookeeper.client.create, rig.zookeeper.paths.disabled_job(job))
        await rig.core.job_changed(job, kill_running=True)
        await rig.master.wait_for_call("KILL", count=2)
        await rig.master.wait_until(lambda: not rig.master.pending_updates, what="TASK_KILLED acknowledged")
        assert rig.running_nodes(job) == []
        assert rig.ready_count(job) == 0
        assert rig.failover_nodes(job) == []

        await rig.offer()
        await rig.core.tick()
        assert len(rig.accepts()) == 1


async def test_updating_a_daemon_job_restarts_it_with_the_new_configuration(
    zk_server: ZooKeeperServer,
) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        job_name, tasks = await register_daemon(rig)
        for task_id in tasks:
            await rig.update(task_id, "TASK_RUNNING")

        job = await asyncio.to_thread(
            rig.jobs.update, replace(await current(rig, job_name), job_parameter="v2")
        )
        await rig.core.job_changed(job.job_name, kill_running=True)
        await rig.master.wait_for_call("KILL", count=2)
        await rig.master.wait_until(lambda: not rig.master.pending_updates, what="TASK_KILLED acknowledged")
        assert rig.failover_nodes(job_name) == []  # killed on purpose: no shard-by-shard failover
        assert rig.ready_count(job_name) == 1  # the whole job comes back once

        await rig.offer()
        again = await rig.wait_for_accept(2)
        assert shards(again) == [f"{job_name}@-@0@-@READY", f"{job_name}@-@1@-@READY"]
        assert {json.loads(base64.b64decode(t["data"]))["jobParameter"] for t in again} == {"v2"}
        assert rig.ready_count(job_name) == 0


async def test_a_daemon_job_found_idle_at_start_is_launched_and_a_running_one_is_not(
    zk_server: ZooKeeperServer,
) -> None:
    namespace = unique_name("daemon")
    async with MesosMasterDouble(heartbeat_interval=0.2) as master:
        async with scheduler_rig(zk_server.connect_string, namespace=namespace, master=master) as first:
            running_job, tasks = await register_daemon(first)
            for task_id in tasks:
                await first.update(task_id, "TASK_RUNNING")
            # Registered through another server process while this scheduler was not told:
            app = await first.publish_app()
            idle = await asyncio.to_thread(
                first.jobs.register,
                JobConfig(
                    job_name=unique_name("idle"),
                    app_name=app.app_name,
                    cpu_count=0.1,
                    memory_mb=32.0,
                    job_execution_type=JobExecutionType.DAEMON,
                    sharding_total_count=1,
                    cron="0 0 * * * ?",
                ),
            )
            await first.client.close()

        async with scheduler_rig(zk_server.connect_string, namespace=namespace, master=master) as second:
            assert second.ready_count(idle.job_name) == 1
            assert second.ready_count(running_job) == 0
            await second.offer()
            launched = await second.wait_for_accept(2)
            assert shards(launched) == [f"{idle.job_name}@-@0@-@READY"]
            assert len(second.running_nodes(running_job)) == 2


async def current(rig: SchedulerRig, job_name: str) -> JobConfig:
    return await asyncio.to_thread(JobRepository(rig.zookeeper).get, job_name)
