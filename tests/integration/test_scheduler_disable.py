"""The scheduler's reaction to disabling, enabling and deleting, on a real ZooKeeper with the real
Mesos client against the master double.

ElasticJob-Cloud 3.0 (its ``CloudJobRestfulApi`` / ``CloudAppRestfulApi`` and producer) unschedules a
disabled job (no fires, its running tasks killed) and reschedules it on enable; we do the same
without its backlog burst (ElasticJob issue #562: fire times that passed while disabled are not
run, runs already waiting are kept). Deleting an app removes its jobs and stops its executors;
we use Mesos' v1 scheduler ``SHUTDOWN`` call ("Scheduler HTTP API": shuts down a specific custom
executor, killing its tasks) on every agent where one runs. A change made through another server
process reaches the leader as a resync (its registry watches start one)."""

from __future__ import annotations

import asyncio

import pytest

from devstack.stack import ZooKeeperServer
from testkit.harness import snapshot
from testkit.mesos_double import DEFAULT_AGENT_ID
from testkit.scheduling import SchedulerRig, scheduler_rig, task_ids

EVERY_5_S = "0/5 * * * * ?"


def killed(rig: SchedulerRig) -> set[str]:
    return {
        call.body["kill"]["task_id"]["value"]
        for call in rig.master.calls_of("KILL", status=202)
        if call.body is not None
    }


def shutdowns(rig: SchedulerRig) -> set[tuple[str, str]]:
    """(agent, executor) of every SHUTDOWN the master took."""
    return {
        (call.body["shutdown"]["agent_id"]["value"], call.body["shutdown"]["executor_id"]["value"])
        for call in rig.master.calls_of("SHUTDOWN", status=202)
        if call.body is not None
    }


async def disable_job(rig: SchedulerRig, job: str) -> None:
    """POST /api/job/{job}/disable as the API does it: the flag, then the leader is told."""
    await asyncio.to_thread(rig.jobs.disable, job)
    await rig.core.job_disabled_changed(job)


async def enable_job(rig: SchedulerRig, job: str) -> None:
    await asyncio.to_thread(rig.jobs.enable, job)
    await rig.core.job_disabled_changed(job)


async def test_a_disabled_job_stops_firing_and_its_running_tasks_are_killed(
    zk_server: ZooKeeperServer,
) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        app = await rig.publish_app()
        job = (await rig.register_job(app, cron=EVERY_5_S, sharding_total_count=2)).job_name
        await rig.fire(4)  # 00:00:05
        await rig.offer()
        tasks = task_ids(await rig.wait_for_accept(1))
        for task in tasks:
            await rig.update(task, "TASK_RUNNING")

        await disable_job(rig, job)
        assert killed(rig) == set(tasks)
        await rig.wait_until(lambda: rig.running_nodes(job) == [], what="the killed tasks ended")
        for _ in range(6):
            await rig.fire(5)
        assert rig.ready_count(job) == 0, "no fire while disabled"
        await rig.offer()
        assert len(rig.accepts()) == 1
        assert rig.failover_nodes(job) == [], "a killed task of a disabled job is not failed over"


async def test_enabling_a_job_runs_its_waiting_run_once_and_no_missed_fires(
    zk_server: ZooKeeperServer,
) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        app = await rig.publish_app()
        job = (await rig.register_job(app, cron=EVERY_5_S, misfire=True, sharding_total_count=1)).job_name
        await rig.trigger(job)  # no offer on hand: the run waits
        await disable_job(rig, job)
        for _ in range(12):  # a minute of fire times while disabled
            await rig.fire(5)
        assert rig.ready_count(job) == 1, "the triggered run is kept"

        await enable_job(rig, job)
        assert rig.ready_count(job) == 1, "no backlog of the fires that fell while disabled"
        await rig.offer()
        (task,) = task_ids(await rig.wait_for_accept(1))
        await rig.finish([task])
        await rig.fire(5)  # the first fire after enabling
        assert rig.ready_count(job) == 1
        await rig.offer()
        assert len(await rig.wait_for_accept(2)) == 1


async def test_a_disabled_app_stops_its_jobs_and_drops_their_waiting_runs(zk_server: ZooKeeperServer) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        app = await rig.publish_app()
        cron_job = (await rig.register_job(app, cron=EVERY_5_S, sharding_total_count=1)).job_name
        triggered = (await rig.register_job(app, cron="", sharding_total_count=1)).job_name
        await rig.fire(4)
        await rig.offer()
        (task,) = task_ids(await rig.wait_for_accept(1))
        await rig.update(task, "TASK_RUNNING")
        await rig.trigger(triggered)  # waits: the offer was used

        await asyncio.to_thread(rig.apps.disable, app.app_name)
        await rig.core.app_disabled_changed(app.app_name)
        assert killed(rig) == {task}
        assert rig.ready_count(triggered) == 0
        assert triggered not in rig.core.ready
        for _ in range(6):
            await rig.fire(5)
        assert rig.ready_count(cron_job) == 0
        await rig.offer()
        assert len(rig.accepts()) == 1

        await asyncio.to_thread(rig.apps.enable, app.app_name)
        await rig.core.app_disabled_changed(app.app_name)
        assert rig.ready_count(cron_job) == 0, "no backlog"
        await rig.fire(5)
        assert rig.ready_count(cron_job) == 1


@pytest.mark.parametrize("told", [True, False], ids=["this-process", "another-process"])
async def test_deleting_an_app_kills_its_tasks_shuts_its_executors_down_and_leaves_nothing(
    zk_server: ZooKeeperServer, told: bool
) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        app = await rig.publish_app(app_cache_enable=True)
        other_app = await rig.publish_app()
        jobs = [(await rig.register_job(app, cron="", sharding_total_count=1)).job_name for _ in range(2)]
        kept = (await rig.register_job(other_app, cron="", sharding_total_count=1)).job_name
        tasks: list[str] = []
        for count, (job, agent) in enumerate(
            ((jobs[0], DEFAULT_AGENT_ID), (jobs[1], "agent-2"), (kept, "agent-2"))
        ):
            await rig.trigger(job)
            await rig.offer(agent_id=agent)
            (task,) = task_ids(await rig.wait_for_accept(count + 1))
            await rig.update(task, "TASK_RUNNING")
            tasks.append(task)
        executors = {
            (agent, executor)
            for agent in (DEFAULT_AGENT_ID, "agent-2")
            for executor in rig.master.live_executors(agent)
            if executor.startswith(f"{app.app_name}@-@")
        }
        assert len(executors) == 2

        removed = await asyncio.to_thread(rig.apps.delete, app.app_name)
        assert sorted(removed) == sorted(jobs)
        if told:
            await rig.core.app_removed(app.app_name, removed)
        else:  # the leader's watch starts a resync
            await rig.core.resync()

        assert shutdowns(rig) == executors
        assert killed(rig) == set(tasks[:2]), "the other app's task runs on"
        assert [e for e in rig.master.live_executors("agent-2") if e.startswith(f"{app.app_name}@-@")] == []
        await rig.wait_until(lambda: not rig.core.orphans, what="the killed tasks ended")
        names = [app.app_name, *jobs]
        left = [
            path
            for path in snapshot(rig.zookeeper.client, rig.zookeeper.paths.root)
            if any(n in path for n in names)
        ]
        assert left == []
        assert rig.running_nodes(kept) != []


async def test_a_disable_through_another_process_reaches_the_leader_by_its_resync(
    zk_server: ZooKeeperServer,
) -> None:
    """Another process's API writes only the registry; the leader's watch on ``/state/disable``
    starts a resync, which stops the job and kills its tasks; its enable resumes the job from then."""
    async with scheduler_rig(zk_server.connect_string) as rig:
        app = await rig.publish_app()
        job = (await rig.register_job(app, cron=EVERY_5_S, misfire=True, sharding_total_count=1)).job_name
        await rig.fire(4)
        await rig.offer()
        (task,) = task_ids(await rig.wait_for_accept(1))
        await rig.update(task, "TASK_RUNNING")

        await asyncio.to_thread(rig.jobs.disable, job)  # not told: another process did it
        await rig.core.resync()
        assert killed(rig) == {task}
        for _ in range(6):
            await rig.fire(5)
        assert rig.ready_count(job) == 0

        await asyncio.to_thread(rig.jobs.enable, job)
        await rig.core.resync()
        assert rig.ready_count(job) == 0, "no backlog"
        await rig.fire(5)
        assert rig.ready_count(job) == 1
