"""Deregistering a job while the scheduler launches it: the job's state goes whole (config, ready,
running, failover, disabled) or the request fails with nothing removed; a job registered again
under the name starts with nothing of the earlier one (no phantom run, no blocked trigger)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from devstack.stack import ZooKeeperServer
from server.registry.disabled import DisabledFlags
from server.registry.jobs import JobRepository
from server.registry.ready import ReadyQueue
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

    def _subtree(self, root: str) -> list[str]:
        paths = super()._subtree(root)
        if self._race is not None and root.startswith(self._running_root + "/"):
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
