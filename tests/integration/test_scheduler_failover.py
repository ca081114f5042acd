"""Failed and lost shards: with failover on, just that shard runs again (as FAILOVER, before any READY
run); with failover off it does not, unless it never started (its offer was invalid)."""

from __future__ import annotations

import asyncio

import pytest

from devstack.stack import ZooKeeperServer
from testkit.scheduling import SchedulerRig, scheduler_rig, shards, task_ids

HOURLY = "0 0 * * * ?"


async def launch_run(rig: SchedulerRig, **job_fields: object) -> tuple[str, list[str]]:
    """Register a job (hourly cron), trigger it and launch it on one offer; return the task ids."""
    app = await rig.publish_app()
    job = await rig.register_job(app, cron=HOURLY, **job_fields)
    accepts = len(rig.accepts())
    await rig.trigger(job.job_name)
    await rig.offer()
    tasks = await rig.wait_for_accept(accepts + 1)
    return job.job_name, sorted(task_ids(tasks), key=lambda task_id: int(task_id.split("@-@")[1]))


async def test_a_failed_shard_runs_again_alone_as_failover_before_any_ready_run(
    zk_server: ZooKeeperServer,
) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        job, (t0, t1, t2) = await launch_run(rig, failover=True, misfire=True)
        for task_id in (t0, t1, t2):
            await rig.update(task_id, "TASK_RUNNING")
        await rig.update(t0, "TASK_FINISHED")
        await rig.update(t2, "TASK_FINISHED")
        await rig.trigger(job)  # a READY run waits behind the running shard
        assert rig.ready_count(job) == 1

        await rig.update(t1, "TASK_FAILED", message="exit 1")
        assert rig.failover_nodes(job) == [f"{job}@-@1"]
        assert rig.running_nodes(job) == []

        await rig.offer()
        retry = await rig.wait_for_accept(2)
        assert shards(retry) == [f"{job}@-@1@-@FAILOVER"]  # just the shard, and before READY
        assert rig.failover_nodes(job) == []
        assert rig.running_nodes(job) == [f"{job}@-@1"]
        assert rig.ready_count(job) == 1

        await rig.finish(retry)
        await rig.master.wait_for_call("REVIVE", count=3)  # only now the READY run is wanted
        await rig.offer()
        ready_run = await rig.wait_for_accept(3)
        assert shards(ready_run) == [f"{job}@-@{item}@-@READY" for item in range(3)]
        assert rig.ready_count(job) == 0
        await rig.finish(ready_run)
        assert rig.running_nodes(job) == []
        rig.assert_acknowledgements_exact()


async def test_a_failed_shard_reruns_while_the_other_shards_still_run(zk_server: ZooKeeperServer) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        job, (t0, t1, t2) = await launch_run(rig, failover=True)
        await rig.update(t2, "TASK_RUNNING")
        await rig.update(t2, "TASK_FAILED")
        await rig.offer()
        retry = await rig.wait_for_accept(2)
        assert shards(retry) == [f"{job}@-@2@-@FAILOVER"]
        assert rig.running_nodes(job) == [f"{job}@-@{item}" for item in range(3)]
        await rig.finish([t0, t1, *task_ids(retry)])
        assert rig.running_nodes(job) == []


async def test_several_failed_shards_of_a_job_rerun_together_on_one_offer(zk_server: ZooKeeperServer) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        job, tasks = await launch_run(rig, failover=True)
        for task_id in tasks:
            await rig.update(task_id, "TASK_RUNNING")
            await rig.update(task_id, "TASK_FAILED")
        assert rig.failover_nodes(job) == [f"{job}@-@{item}" for item in range(3)]

        await rig.offer()
        retry = await rig.wait_for_accept(2)
        assert shards(retry) == [f"{job}@-@{item}@-@FAILOVER" for item in range(3)]
        assert rig.failover_nodes(job) == []
        await rig.finish(retry)
        assert rig.running_nodes(job) == []


@pytest.mark.parametrize(
    "state", ["TASK_FAILED", "TASK_ERROR", "TASK_LOST", "TASK_DROPPED", "TASK_GONE", "TASK_GONE_BY_OPERATOR"]
)
async def test_every_failure_state_of_a_started_task_queues_its_shard_when_failover_is_on(
    zk_server: ZooKeeperServer, state: str
) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        job, (t0, *_) = await launch_run(rig, failover=True)
        await rig.update(t0, "TASK_RUNNING")
        await rig.update(t0, state)
        assert rig.failover_nodes(job) == [f"{job}@-@0"]
        assert rig.running_nodes(job) == [f"{job}@-@1", f"{job}@-@2"]


@pytest.mark.parametrize("state", ["TASK_FAILED", "TASK_LOST", "TASK_GONE"])
async def test_without_failover_a_shard_that_ran_and_failed_is_not_run_again(
    zk_server: ZooKeeperServer, state: str
) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        job, (t0, t1, t2) = await launch_run(rig, failover=False)
        for task_id in (t0, t1, t2):
            await rig.update(task_id, "TASK_RUNNING")
        await rig.update(t1, state)
        assert rig.failover_nodes(job) == []
        assert rig.running_nodes(job) == [f"{job}@-@0", f"{job}@-@2"]

        await rig.finish([t0, t2])
        await rig.offer()
        await rig.core.tick()
        assert len(rig.accepts()) == 1
        assert rig.running_nodes(job) == []
        assert rig.ready_count(job) == 0
        rig.assert_acknowledgements_exact()


@pytest.mark.parametrize(
    ("state", "reason"),
    [
        ("TASK_LOST", "REASON_INVALID_OFFERS"),
        ("TASK_DROPPED", "REASON_INVALID_OFFERS"),
        ("TASK_DROPPED", None),
    ],
)
async def test_without_failover_a_task_that_never_started_is_queued_again(
    zk_server: ZooKeeperServer, state: str, reason: str | None
) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        job, (t0, t1, t2) = await launch_run(rig, failover=False)
        await rig.unreliable_update(t1, state, reason=reason, source="SOURCE_MASTER")
        assert rig.failover_nodes(job) == [f"{job}@-@1"]
        assert rig.running_nodes(job) == [f"{job}@-@0", f"{job}@-@2"]

        await rig.offer()
        retry = await rig.wait_for_accept(2)
        assert shards(retry) == [f"{job}@-@1@-@FAILOVER"]
        await rig.finish([t0, t2, *task_ids(retry)])
        assert rig.running_nodes(job) == []
        rig.assert_acknowledgements_exact()


async def test_a_killed_transient_task_is_not_run_again(zk_server: ZooKeeperServer) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        job, (t0, *_) = await launch_run(rig, failover=True)
        await rig.update(t0, "TASK_RUNNING")
        await rig.update(t0, "TASK_KILLED")
        assert rig.failover_nodes(job) == []
        assert rig.running_nodes(job) == [f"{job}@-@1", f"{job}@-@2"]


async def test_an_unreachable_task_is_kept_until_it_comes_back(zk_server: ZooKeeperServer) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        job, (t0, t1, t2) = await launch_run(rig, failover=True)
        await rig.update(t0, "TASK_RUNNING")
        await rig.unreliable_update(
            t0, "TASK_UNREACHABLE", reason="REASON_AGENT_REMOVED", source="SOURCE_MASTER"
        )
        assert rig.running_nodes(job) == [f"{job}@-@{item}" for item in range(3)]
        assert rig.failover_nodes(job) == []

        await rig.update(t0, "TASK_RUNNING")  # the agent is back
        await rig.finish([t0, t1, t2])
        assert rig.running_nodes(job) == []
        assert rig.failover_nodes(job) == []


async def test_a_task_that_stays_unreachable_is_treated_as_lost(zk_server: ZooKeeperServer) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        job, (t0, *_) = await launch_run(rig, failover=True)
        limit = rig.core.settings.unknown_limit
        for _ in range(limit - 1):
            await rig.unreliable_update(
                t0, "TASK_UNREACHABLE", reason="REASON_RECONCILIATION", source="SOURCE_MASTER"
            )
        assert rig.failover_nodes(job) == []
        await rig.unreliable_update(
            t0, "TASK_UNREACHABLE", reason="REASON_RECONCILIATION", source="SOURCE_MASTER"
        )
        assert rig.failover_nodes(job) == [f"{job}@-@0"]
        assert rig.running_nodes(job) == [f"{job}@-@1", f"{job}@-@2"]


async def test_a_task_the_master_does_not_know_is_lost_at_once(zk_server: ZooKeeperServer) -> None:
    """Mesos "Reconciliation": a master that answers TASK_UNKNOWN (partition-aware frameworks; a
    restarted agent under a new id) will never report on the task again; keeping it stalls the
    job (its cron runs are skipped while it is "running") until the next periodic reconcile."""
    async with scheduler_rig(zk_server.connect_string) as rig:
        job, (t0, *_) = await launch_run(rig, failover=True)
        await rig.update(t0, "TASK_RUNNING")
        await rig.unreliable_update(
            t0, "TASK_UNKNOWN", reason="REASON_RECONCILIATION", source="SOURCE_MASTER"
        )
        assert rig.failover_nodes(job) == [f"{job}@-@0"]
        assert rig.running_nodes(job) == [f"{job}@-@1", f"{job}@-@2"]
        await rig.offer()
        (retry,) = await rig.wait_for_accept(2)
        assert retry["task_id"]["value"].startswith(f"{job}@-@0@-@FAILOVER")


async def test_a_task_that_never_answers_reconciliation_is_lost(zk_server: ZooKeeperServer) -> None:
    """Explicit reconciliation is resent with backoff for the tasks that have not answered; those
    still silent afterwards are lost (Mesos "Reconciliation": retry until every task answered)."""
    async with scheduler_rig(zk_server.connect_string) as rig:
        job, (t0, t1, t2) = await launch_run(rig, failover=True)
        for task_id in (t1, t2):
            await rig.update(task_id, "TASK_RUNNING")
        rig.master.auto_reconcile = False
        reconciles = len(rig.master.calls_of("RECONCILE"))
        await rig.master.drop_stream()
        await rig.master.wait_for_subscription(2)
        # t1 and t2 answer the first explicit reconciliation; t0 never does
        await rig.master.wait_for_call("RECONCILE", count=reconciles + 1)
        for task_id in (t1, t2):
            await rig.unreliable_update(task_id, "TASK_RUNNING", source="SOURCE_MASTER")
        await rig.wait_until(lambda: bool(rig.failover_nodes(job)), timeout=10.0, what="t0 lost")
        assert rig.failover_nodes(job) == [f"{job}@-@0"]
        assert rig.running_nodes(job) == [f"{job}@-@1", f"{job}@-@2"]
        explicit = [
            sorted(t["task_id"]["value"] for t in call.body["reconcile"]["tasks"])
            for call in rig.master.calls_of("RECONCILE")[reconciles:]
            if call.body is not None and call.body["reconcile"].get("tasks")
        ]
        assert explicit[0] == sorted([t0, t1, t2])
        assert len(explicit) > 2 and all(tasks == [t0] for tasks in explicit[2:])


async def test_a_repeated_failure_update_is_recorded_once(zk_server: ZooKeeperServer) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        job, (t0, *_) = await launch_run(rig, failover=True)
        await rig.update(t0, "TASK_RUNNING")
        await rig.update(t0, "TASK_FAILED")
        await rig.update(t0, "TASK_FAILED")  # an agent may send a terminal update again
        assert rig.failover_nodes(job) == [f"{job}@-@0"]
        assert rig.core.failover and len(rig.core.failover) == 1
        rig.assert_acknowledgements_exact()


async def test_empty_state_nodes_left_by_another_scheduler_do_not_block_a_job(
    zk_server: ZooKeeperServer,
) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        app = await rig.publish_app()
        job = await rig.register_job(app, failover=True, cron=HOURLY)
        # ElasticJob-Cloud 3.0 removes a job's last running / failover child and then the (now empty)
        # parent in two steps: a crash in between leaves the parent behind.
        client, paths = rig.zookeeper.client, rig.zookeeper.paths
        await asyncio.to_thread(client.create, paths.running_job(job.job_name))
        await asyncio.to_thread(client.create, paths.failover_job(job.job_name))

        await rig.trigger(job.job_name)
        await rig.offer()
        t0, t1, t2 = task_ids(await rig.wait_for_accept(1))
        await rig.update(t0, "TASK_FAILED")
        assert rig.failover_nodes(job.job_name) == [f"{job.job_name}@-@0"]
        await rig.offer()
        retry = await rig.wait_for_accept(2)
        await rig.finish([t1, t2, *task_ids(retry)])
        assert rig.running_nodes(job.job_name) == []
        assert not await asyncio.to_thread(client.exists, paths.running_job(job.job_name))


async def test_an_active_task_the_scheduler_does_not_track_is_killed(zk_server: ZooKeeperServer) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        job, (t0, *_) = await launch_run(rig, failover=True)
        stray = t0.rsplit("@-@", 1)[0] + "@-@a-second-task-of-shard-0"
        await rig.unreliable_update(
            stray, "TASK_RUNNING", reason="REASON_RECONCILIATION", source="SOURCE_MASTER"
        )
        kill = await rig.master.wait_for_call("KILL")
        assert kill.body is not None
        assert kill.body["kill"]["task_id"] == {"value": stray}
        assert rig.running_nodes(job) == [f"{job}@-@{item}" for item in range(3)]
        assert t0 in {str(task.task_id) for task in rig.core.running.values()}  # the tracked one stays
