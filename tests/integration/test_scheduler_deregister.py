"""Deregistering a job while the scheduler launches it: the job's state goes whole (config, ready,
running, failover, disabled) or the request fails with nothing removed; a job registered again
under the name starts with nothing of the earlier one (no phantom run, no blocked trigger)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

from devstack.stack import ZooKeeperServer
from server.domain.app import AppConfig
from server.domain.job import JobConfig, JobExecutionType
from server.registry.disabled import DisabledFlags
from server.registry.failover import FailoverEntry
from server.registry.jobs import JobRepository
from server.registry.ready import ReadyQueue
from server.registry.zookeeper import ZooKeeper
from server.usecases.jobs import JobManager
from testkit.scheduling import SchedulerRig, scheduler_rig, shards, task_ids

HOURLY = "0 0 * * * ?"


class RacingJobs(JobRepository):
    """The real repository, with ``race`` run once right after the removal has read the job's
    running subtree and before it commits: where a scheduler's launch lands in production."""

    def __init__(self, rig: SchedulerRig, race: Callable[[], None]) -> None:
        super().__init__(rig.zookeeper)
        self._race: Callable[[], None] | None = race
        self._running_root = rig.zookeeper.paths.running

    def _subtrees(self, roots: list[str]) -> dict[str, list[str]]:
        paths = super()._subtrees(roots)
        if self._race is not None and any(root.startswith(self._running_root + "/") for root in roots):
            race, self._race = self._race, None
            race()
        return paths


def state_nodes(rig: SchedulerRig, job: str) -> dict[str, bool]:
    client, paths = rig.zookeeper.client, rig.zookeeper.paths
    return {
        "config": client.exists(paths.job(job)) is not None,
        "ready": client.exists(paths.ready_job(job)) is not None,
        "running": client.exists(paths.running_job(job)) is not None,
        "failover": client.exists(paths.failover_job(job)) is not None,
    }


async def test_a_launch_racing_a_deregister_leaves_nothing_behind(zk_server: ZooKeeperServer) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        app = await rig.publish_app()
        job = (await rig.register_job(app, cron=HOURLY, failover=True)).job_name
        await rig.trigger(job)
        loop = asyncio.get_running_loop()

        def launch_now() -> None:  # in the deregister's thread: the scheduler launches meanwhile
            asyncio.run_coroutine_threadsafe(rig.offer(), loop).result(timeout=10)

        manager = JobManager(
            RacingJobs(rig, launch_now), ReadyQueue(rig.zookeeper), DisabledFlags(rig.zookeeper)
        )
        await asyncio.to_thread(manager.deregister, job)
        assert len(rig.accepts()) == 1  # the race happened: the run was launched in between
        assert state_nodes(rig, job) == dict.fromkeys(("config", "ready", "running", "failover"), False)
        await rig.core.job_removed(job)

        # The same name on another app: nothing of the earlier job runs or blocks.
        other = await rig.publish_app()
        again = await rig.register_job(other, job_name=job, cron=HOURLY, failover=True)
        await rig.offer()
        assert len(rig.accepts()) == 1, "no phantom run of the earlier job"
        await rig.trigger(again.job_name)
        await rig.offer()
        run = await rig.wait_for_accept(2)
        assert shards(run) == [f"{job}@-@{item}@-@READY" for item in range(3)]
        assert {task["executor"]["executor_id"]["value"].split("@-@")[0] for task in run} == {other.app_name}
        await rig.finish(task_ids(run))
        assert rig.running_nodes(job) == []


async def test_the_end_of_a_task_of_a_removed_job_queues_nothing(zk_server: ZooKeeperServer) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        app = await rig.publish_app()
        job = (await rig.register_job(app, cron=HOURLY, failover=True, sharding_total_count=1)).job_name
        await rig.trigger(job)
        await rig.offer()
        (task,) = task_ids(await rig.wait_for_accept(1))
        await asyncio.to_thread(rig.jobs.deregister, job)  # the scheduler has not heard of it yet
        await rig.update(task, "TASK_FAILED")
        assert state_nodes(rig, job) == dict.fromkeys(("config", "ready", "running", "failover"), False)
        assert not rig.core.failover


# -- A job deregistered and registered again behind the core's back (through another process) ---


@contextlib.contextmanager
def other_process(rig: SchedulerRig) -> Iterator[JobManager]:
    """The API of another server process: its own ZooKeeper session on the rig's namespace, whose
    writes the core hears of only by reading the registry."""
    zookeeper = ZooKeeper(rig.zookeeper.servers, namespace=rig.zookeeper.paths.namespace, timeout=5.0)
    assert zookeeper.start(wait=10)
    try:
        yield JobManager(JobRepository(zookeeper), ReadyQueue(zookeeper), DisabledFlags(zookeeper))
    finally:
        zookeeper.stop()


def register_again(manager: JobManager, job: JobConfig, app: AppConfig, **fields: Any) -> JobConfig:
    """Deregister ``job`` and register its name again on ``app`` (2 shards, 0.2 CPU, no cron)."""
    manager.deregister(job.job_name)
    values: dict[str, Any] = {
        "job_name": job.job_name,
        "app_name": app.app_name,
        "cpu_count": 0.2,
        "memory_mb": 48.0,
        "job_execution_type": JobExecutionType.TRANSIENT,
        "sharding_total_count": 2,
        "cron": "",
    }
    values.update(fields)
    return manager.register(JobConfig(**values))


def launched_with(run: list[dict[str, Any]]) -> tuple[set[str], set[float]]:
    """The apps (from the executor ids) and per-task CPUs a launch used."""
    apps = {task["executor"]["executor_id"]["value"].split("@-@")[0] for task in run}
    cpus = {
        resource["scalar"]["value"]
        for task in run
        for resource in task["resources"]
        if resource["name"] == "cpus"
    }
    return apps, cpus


async def test_a_run_planned_for_a_job_registered_again_elsewhere_launches_the_new_config(
    zk_server: ZooKeeperServer,
) -> None:
    """The core holds the first job's configuration and its ready count; another process
    deregisters the name, registers it on another app and triggers it (a ready node at the same
    version as the old one). The launch transaction checks the configuration the plan was made
    with, so the stale plan cannot commit: the core re-reads the job and launches the new one."""
    async with scheduler_rig(zk_server.connect_string) as rig:
        app = await rig.publish_app()
        job = await rig.register_job(app, cron=HOURLY, failover=True)
        await rig.trigger(job.job_name)
        other = await rig.publish_app()
        with other_process(rig) as manager:
            await asyncio.to_thread(register_again, manager, job, other)
            await asyncio.to_thread(manager.trigger, job.job_name)
        await rig.offer()
        run = await rig.wait_for_accept(1)
        assert len(rig.accepts()) == 1
        assert shards(run) == [f"{job.job_name}@-@{item}@-@READY" for item in range(2)]
        assert launched_with(run) == ({other.app_name}, {0.2})
        assert rig.ready_count(job.job_name) == 0
        await rig.finish(task_ids(run))
        assert rig.running_nodes(job.job_name) == []


async def test_a_cron_fire_of_a_job_registered_again_without_cron_launches_nothing(
    zk_server: ZooKeeperServer,
) -> None:
    """The old configuration's cron fires before the core hears of the new registration (no
    cron): the fire's launch cannot commit, nothing runs, and no timer of the old job is left."""
    async with scheduler_rig(zk_server.connect_string) as rig:
        app = await rig.publish_app()
        job = await rig.register_job(app, cron="0/5 * * * * ?")
        other = await rig.publish_app()
        with other_process(rig) as manager:
            await asyncio.to_thread(register_again, manager, job, other)
        await rig.offer()
        await rig.fire(5)
        await rig.offer()
        await rig.fire(5)
        assert rig.accepts() == []
        assert rig.running_nodes(job.job_name) == []
        assert rig.ready_count(job.job_name) == 0
        assert rig.core.jobs[job.job_name].app_name == other.app_name
        assert job.job_name not in rig.core.timers


async def test_a_run_planned_before_an_update_elsewhere_launches_the_updated_config(
    zk_server: ZooKeeperServer,
) -> None:
    """Another process updates the job (2 shards, more CPU) while the core holds a run planned
    with the old configuration: the launch is made with the stored one."""
    async with scheduler_rig(zk_server.connect_string) as rig:
        app = await rig.publish_app()
        job = await rig.register_job(app, cron=HOURLY)
        await rig.trigger(job.job_name)
        with other_process(rig) as manager:
            updated = dataclasses.replace(job, cpu_count=0.3, sharding_total_count=2)
            await asyncio.to_thread(manager.update, updated)
        await rig.offer()
        run = await rig.wait_for_accept(1)
        assert shards(run) == [f"{job.job_name}@-@{item}@-@READY" for item in range(2)]
        assert launched_with(run) == ({app.app_name}, {0.3})


async def test_a_job_registered_again_inherits_nothing_of_the_earlier_one(zk_server: ZooKeeperServer) -> None:
    """The earlier job's task is still running (and its shard was failing over, with attempts
    counted) when another process registers the name again. Once the core reads the registry,
    the old task is only followed to be killed: the new job's trigger launches at once, its shard
    starts with no failover attempts, and the old task's end queues nothing."""
    async with scheduler_rig(zk_server.connect_string) as rig:
        app = await rig.publish_app()
        job = await rig.register_job(app, cron=HOURLY, failover=True, sharding_total_count=1)
        await rig.trigger(job.job_name)
        await rig.offer()
        (first,) = task_ids(await rig.wait_for_accept(1))
        await rig.update(first, "TASK_FAILED")
        await rig.offer()
        (old,) = task_ids(await rig.wait_for_accept(2))
        assert "@-@FAILOVER@-@" in old
        other = await rig.publish_app()
        with other_process(rig) as manager:
            await asyncio.to_thread(
                register_again, manager, job, other, failover=True, sharding_total_count=1
            )
            await asyncio.to_thread(manager.trigger, job.job_name)
        await rig.core.resync()
        assert old in rig.core.orphans
        await rig.offer()
        (new,) = run = await rig.wait_for_accept(3)
        assert shards(run) == [f"{job.job_name}@-@0@-@READY"]
        assert launched_with(run)[0] == {other.app_name}
        await rig.update(old, "TASK_FAILED")  # the old task ends: nothing of it is queued
        assert rig.failover_nodes(job.job_name) == []
        assert rig.running_nodes(job.job_name) == [f"{job.job_name}@-@0"]
        await rig.update(new["task_id"]["value"], "TASK_FAILED")
        (queued,) = rig.failover_nodes(job.job_name)
        path = rig.zookeeper.paths.failover_shard(job.job_name, queued)
        entry = FailoverEntry.decode(rig.zookeeper.client.get(path)[0].decode())
        assert entry.attempts == 1, "the new job's shard starts its backoff afresh"
