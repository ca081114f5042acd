"""Modifying an app while its executors live: new tasks get a new executor, the old ones retire.

Mesos names one ExecutorInfo per executor id while that executor lives: a task naming the id of a
live executor with another ExecutorInfo is refused with TASK_ERROR / REASON_TASK_INVALID
("ExecutorInfo is not compatible with the ExecutorInfo of running executor", Mesos'
``validateCompatibleExecutorInfo``; the master double checks it as the master does). An app's
executor ids therefore carry its version, and an executor of an earlier version is shut down
(the v1 ``SHUTDOWN`` call) once no task runs on it; resident DAEMON tasks are moved to the new one.
"""

from __future__ import annotations

import asyncio
from typing import Any

from devstack.stack import ZooKeeperServer
from server.domain.app import AppConfig
from server.domain.job import JobExecutionType
from testkit.mesos_double import DEFAULT_AGENT_ID
from testkit.scheduling import SchedulerRig, scheduler_rig, shards, task_ids


def executor_of(task: dict[str, Any]) -> str:
    return str(task["executor"]["executor_id"]["value"])


def refused(rig: SchedulerRig) -> list[dict[str, Any]]:
    """The TASK_ERROR updates the master sent (tasks it refused)."""
    return [status for status in rig.master.task_states.values() if status["state"] == "TASK_ERROR"]


def shutdowns(rig: SchedulerRig) -> list[str]:
    return [
        call.body["shutdown"]["executor_id"]["value"]
        for call in rig.master.calls_of("SHUTDOWN", status=202)
        if call.body is not None
    ]


async def modify_app(rig: SchedulerRig, app: AppConfig, **changes: Any) -> None:
    """PUT /api/app as the API does it, then the leader's resync reads it."""
    await asyncio.to_thread(rig.apps.modify, app.app_name, changes)
    await rig.core.resync()


async def offer_with_executors(rig: SchedulerRig, **fields: Any) -> dict[str, Any]:
    """An offer listing the framework's live executors on the agent, as the master's offers do."""
    return await rig.offer(executor_ids=rig.master.live_executors(DEFAULT_AGENT_ID), **fields)


async def relaunched(rig: SchedulerRig, count: int) -> list[dict[str, Any]]:
    """Offer until the ``count``-th ACCEPT comes (moving the clock past any re-queue delay between
    offers); return its TaskInfos."""
    for _ in range(20):
        await offer_with_executors(rig)
        if len(rig.accepts()) >= count:
            break
        await rig.fire(5)
    return await rig.wait_for_accept(count)


async def test_a_launch_after_an_app_change_starts_a_new_executor_and_the_idle_old_one_is_shut_down(
    zk_server: ZooKeeperServer,
) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        app = await rig.publish_app(app_cache_enable=True)
        job = await rig.register_job(app, sharding_total_count=2, cron="")
        await rig.trigger(job.job_name)
        await offer_with_executors(rig)
        first = await rig.wait_for_accept(1)
        (old_executor,) = {executor_of(task) for task in first}
        for task in first:
            await rig.update(task["task_id"]["value"], "TASK_RUNNING")

        await modify_app(rig, app, cpu_count=0.75)
        # Shard 0 ends; shard 1 still runs on the old executor, which must stay.
        await rig.update(first[0]["task_id"]["value"], "TASK_FINISHED")
        assert shutdowns(rig) == []
        await rig.update(first[1]["task_id"]["value"], "TASK_FINISHED")
        await rig.trigger(job.job_name)
        await offer_with_executors(rig)
        second = await rig.wait_for_accept(2)

        assert refused(rig) == []
        (new_executor,) = {executor_of(task) for task in second}
        assert new_executor != old_executor
        for executor in (old_executor, new_executor):  # app@-@agent@-@version
            assert executor.startswith(f"{app.app_name}@-@{DEFAULT_AGENT_ID}@-@")
        assert [r["scalar"]["value"] for r in second[0]["executor"]["resources"]] == [0.75, 64.0]
        # The old executor ran no task any more: it was shut down, once, when its last task ended.
        assert shutdowns(rig) == [old_executor]
        assert rig.master.live_executors() == [new_executor]


async def test_an_app_change_seen_only_in_an_offer_shuts_down_the_idle_old_executor(
    zk_server: ZooKeeperServer,
) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        app = await rig.publish_app(app_cache_enable=True)
        job = await rig.register_job(app, sharding_total_count=1, cron="")
        await rig.trigger(job.job_name)
        await offer_with_executors(rig)
        (task,) = await rig.wait_for_accept(1)
        await rig.finish([task])
        assert shutdowns(rig) == []  # the current version's executor is the app's cache: kept

        await modify_app(rig, app, memory_mb=96.0)
        await offer_with_executors(rig)
        assert shutdowns(rig) == [executor_of(task)]


async def test_offers_that_list_an_old_executor_charge_the_new_one_once_per_agent(
    zk_server: ZooKeeperServer,
) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        app = await rig.publish_app(app_cache_enable=True, cpu_count=0.5, memory_mb=64.0)
        job = await rig.register_job(app, sharding_total_count=1, cron="")
        other = await rig.register_job(app, sharding_total_count=3, cron="")
        await rig.trigger(job.job_name)
        await offer_with_executors(rig)
        (task,) = await rig.wait_for_accept(1)
        await rig.update(task["task_id"]["value"], "TASK_RUNNING")  # keeps the old executor alive

        await modify_app(rig, app, cpu_count=0.6)
        await rig.trigger(other.job_name)
        # Room for the three shards (0.1 cpu each) but not for the new executor: nothing launches.
        await offer_with_executors(rig, cpus=0.35, mem=1024)
        assert len(rig.accepts()) == 1
        # Room for the three shards and one new executor.
        await offer_with_executors(rig, cpus=0.3 + 0.6 + 0.01, mem=1024)
        launched = await rig.wait_for_accept(2)
        assert shards(launched) == [f"{other.job_name}@-@{item}@-@READY" for item in range(3)]
        assert len({executor_of(t) for t in launched}) == 1
        assert executor_of(launched[0]) != executor_of(task)
        assert refused(rig) == []


async def test_resident_daemon_tasks_move_to_the_new_executor_one_shard_at_a_time(
    zk_server: ZooKeeperServer,
) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        app = await rig.publish_app(app_cache_enable=True)
        job = await rig.register_job(app, job_execution_type=JobExecutionType.DAEMON, sharding_total_count=2)
        await offer_with_executors(rig)
        first = await rig.wait_for_accept(1)
        (old_executor,) = {executor_of(task) for task in first}
        for task_id in task_ids(first):
            await rig.update(task_id, "TASK_RUNNING")

        await modify_app(rig, app, cpu_count=0.7)
        # One shard is killed (the double answers TASK_KILLED) and comes back on the new executor.
        await rig.master.wait_for_call("KILL", count=1)
        await rig.wait_until(lambda: len(rig.core.running) == 1, what="the killed shard ended")
        assert len(rig.master.calls_of("KILL")) == 1  # the other shard stays until this one is back
        moved = await relaunched(rig, 2)
        (new_executor,) = {executor_of(task) for task in moved}
        assert new_executor != old_executor
        assert len(rig.master.calls_of("KILL")) == 1
        await rig.update(moved[0]["task_id"]["value"], "TASK_RUNNING")

        # Then the other shard.
        await rig.master.wait_for_call("KILL", count=2)
        moved_too = await relaunched(rig, 3)
        assert {executor_of(task) for task in moved_too} == {new_executor}
        await rig.update(moved_too[0]["task_id"]["value"], "TASK_RUNNING")

        killed = [call.body["kill"]["task_id"]["value"] for call in rig.master.calls_of("KILL") if call.body]
        assert sorted(killed) == sorted(task_ids(first))
        assert sorted(shards(moved + moved_too)) == [
            f"{job.job_name}@-@{item}@-@FAILOVER" for item in range(2)
        ]
        assert refused(rig) == []
        assert shutdowns(rig) == [old_executor]
        assert sorted(rig.running_nodes(job.job_name)) == [f"{job.job_name}@-@{item}" for item in range(2)]
        await rig.fire(5)
        assert len(rig.master.calls_of("KILL")) == 2  # settled: nothing more moves
