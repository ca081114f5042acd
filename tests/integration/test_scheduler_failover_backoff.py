"""Re-runs of failed shards wait out a per-shard exponential backoff (about 1 s doubling to a
5-minute cap, jittered, restarted by a finished task), kept with the failover node in ZooKeeper so
that the API and a successor see it: a shard that fails at once (an app that cannot be fetched)
is not relaunched on every offer."""

from __future__ import annotations

from devstack.stack import ZooKeeperServer
from server.base.backoff import Backoff
from server.registry.failover import FailoverEntry
from server.scheduler.settings import CoreSettings
from testkit.scheduling import EXECUTOR_COMMAND, SchedulerRig, scheduler_rig, shards, task_ids

HOURLY = "0 0 * * * ?"
BACKOFF = Backoff(initial=1.0, maximum=300.0, jitter=0.0)
SETTINGS = CoreSettings(executor_command=EXECUTOR_COMMAND, resync_seconds=3600.0, failover_backoff=BACKOFF)


async def launch_one_shard(rig: SchedulerRig, **job_fields: object) -> tuple[str, str]:
    app = await rig.publish_app()
    job = await rig.register_job(app, cron=HOURLY, sharding_total_count=1, **job_fields)
    await rig.trigger(job.job_name)
    await rig.offer()
    (task,) = task_ids(await rig.wait_for_accept(1))
    return job.job_name, task


def stored_entry(rig: SchedulerRig, job: str, shard: str) -> FailoverEntry:
    data, _ = rig.zookeeper.client.get(rig.zookeeper.paths.failover_shard(job, shard))
    return FailoverEntry.decode(data.decode())


async def test_a_failing_shard_waits_a_doubling_time_before_each_re_run(zk_server: ZooKeeperServer) -> None:
    async with scheduler_rig(zk_server.connect_string, settings=SETTINGS) as rig:
        job, task = await launch_one_shard(rig, failover=True)
        shard = f"{job}@-@0"
        for attempt, wait in enumerate([1.0, 2.0, 4.0, 8.0], start=1):
            failed_at = rig.clock.current.timestamp()
            await rig.update(task, "TASK_FAILED", reason="REASON_CONTAINER_LAUNCH_FAILED")
            entry = stored_entry(rig, job, shard)
            assert entry.task_id == task
            assert entry.attempts == attempt
            assert entry.retry_at == failed_at + wait  # visible in ZooKeeper, so a successor keeps it

            accepts = len(rig.accepts())
            await rig.offer()  # too early: declined, no launch and no log line per offer
            assert len(rig.accepts()) == accepts
            assert rig.failover_nodes(job) == [shard]

            await rig.fire(wait)
            await rig.offer()
            (retry,) = await rig.wait_for_accept(accepts + 1)
            assert shards([retry]) == [f"{job}@-@0@-@FAILOVER"]
            task = retry["task_id"]["value"]


async def test_the_backoff_restarts_after_a_finished_run(zk_server: ZooKeeperServer) -> None:
    async with scheduler_rig(zk_server.connect_string, settings=SETTINGS) as rig:
        job, task = await launch_one_shard(rig, failover=True)
        for wait in (1.0, 2.0):
            await rig.update(task, "TASK_FAILED")
            await rig.fire(wait)
            await rig.offer()
            task = task_ids(await rig.wait_for_accept(len(rig.accepts())))[0]
        await rig.finish([task])

        await rig.trigger(job)
        await rig.offer()
        (task,) = task_ids(await rig.wait_for_accept(len(rig.accepts())))
        failed_at = rig.clock.current.timestamp()
        await rig.update(task, "TASK_FAILED")
        entry = stored_entry(rig, job, f"{job}@-@0")
        assert (entry.attempts, entry.retry_at) == (1, failed_at + 1.0)


async def test_a_successor_keeps_the_wait_of_a_queued_shard(zk_server: ZooKeeperServer) -> None:
    async with scheduler_rig(zk_server.connect_string, settings=SETTINGS) as rig:
        _job, task = await launch_one_shard(rig, failover=True)
        await rig.update(task, "TASK_FAILED")
        await rig.core.load()  # as a new leader does
        accepts = len(rig.accepts())
        await rig.offer()
        assert len(rig.accepts()) == accepts
        await rig.fire(1.0)
        await rig.offer()
        await rig.wait_for_accept(accepts + 1)


async def test_a_refused_accept_is_requeued_with_backoff(zk_server: ZooKeeperServer) -> None:
    async with scheduler_rig(zk_server.connect_string, settings=SETTINGS) as rig:
        app = await rig.publish_app()
        job = await rig.register_job(app, cron=HOURLY, sharding_total_count=1)
        rig.master.fail_next_call("ACCEPT", 400)
        await rig.trigger(job.job_name)
        await rig.offer()
        await rig.wait_until(lambda: bool(rig.core.failover), what="refused launch requeued")
        entry = stored_entry(rig, job.job_name, f"{job.job_name}@-@0")
        assert entry.attempts == 1
        assert entry.retry_at > rig.clock.current.timestamp()
        accepts = len(rig.master.calls_of("ACCEPT"))
        await rig.offer()
        assert len(rig.master.calls_of("ACCEPT")) == accepts  # not again at once
