"""Losing Mesos and restarting the scheduler: a dropped stream or lost heartbeats lead to a
resubscription as the same framework and a reconciliation of the running tasks; status updates are
resent until acknowledged; a scheduler restarted in the middle of a run neither loses nor repeats it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from devstack.stack import ZooKeeperServer
from testkit.harness import unique_name
from testkit.mesos_double import MesosMasterDouble, RecordedCall
from testkit.scheduling import SchedulerRig, scheduler_rig, task_ids


def reconciled_tasks(call: RecordedCall) -> list[str]:
    assert call.body is not None
    return sorted(task["task_id"]["value"] for task in call.body["reconcile"]["tasks"])


def reconciles_after(rig: SchedulerRig, subscription: int) -> list[list[str]]:
    """The task lists of the RECONCILE calls sent on the ``subscription``-th stream (1-based)."""
    stream_id = rig.master.subscriptions[subscription - 1].stream_id
    return [reconciled_tasks(c) for c in rig.master.calls_of("RECONCILE") if c.stream_id == stream_id]


async def run_three_shards(rig: SchedulerRig) -> tuple[str, list[str]]:
    app = await rig.publish_app()
    job = await rig.register_job(app)  # every 5 s; the clock is at 00:00:01
    await rig.offer()
    await rig.fire(4)
    tasks = task_ids(await rig.wait_for_accept(1))
    for task_id in tasks:
        await rig.update(task_id, "TASK_RUNNING")
    return job.job_name, tasks


@pytest.mark.parametrize("clean", [False, True], ids=["aborted", "ended"])
async def test_a_dropped_stream_resubscribes_as_the_same_framework_and_reconciles_the_running_tasks(
    zk_server: ZooKeeperServer, clean: bool
) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        job, tasks = await run_three_shards(rig)
        framework_id = rig.master.framework_id

        await rig.master.drop_stream(clean=clean)
        await rig.master.wait_for_subscription(2)
        await rig.master.wait_until(lambda: len(reconciles_after(rig, 2)) == 2, what="explicit + implicit")

        resubscribe = rig.master.calls_of("SUBSCRIBE", status=200)[-1]
        assert resubscribe.body is not None
        assert resubscribe.framework_id == framework_id
        assert resubscribe.body["subscribe"]["framework_info"]["id"] == {"value": framework_id}
        assert rig.master.subscriptions[-1].framework_id == framework_id
        assert reconciles_after(rig, 2) == [sorted(tasks), []]  # explicit first, then implicit

        await rig.finish(tasks)
        assert rig.running_nodes(job) == []
        rig.assert_acknowledgements_exact()


async def test_lost_heartbeats_resubscribe_as_the_same_framework_and_reconcile(
    zk_server: ZooKeeperServer,
) -> None:
    async with scheduler_rig(zk_server.connect_string, heartbeat_interval=0.05) as rig:
        job, tasks = await run_three_shards(rig)
        framework_id = rig.master.framework_id

        rig.master.pause_heartbeats()  # a silent partition: no bytes, no EOF
        await rig.master.wait_for_subscription(2)
        rig.master.resume_heartbeats()
        await rig.master.wait_until(lambda: len(reconciles_after(rig, 2)) == 2, what="explicit + implicit")
        assert rig.master.subscriptions[-1].framework_id == framework_id
        assert reconciles_after(rig, 2) == [sorted(tasks), []]

        await rig.finish(tasks)
        assert rig.running_nodes(job) == []
        assert rig.ready_count(job) == 0


async def test_offers_held_when_the_stream_drops_are_never_used(zk_server: ZooKeeperServer) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        app = await rig.publish_app()
        job = await rig.register_job(app)
        stale = await rig.offer()  # held: the fire is 4 s away
        assert len(rig.core.offers) == 1

        await rig.master.drop_stream()
        await rig.master.wait_for_subscription(2)
        await rig.wait_until(lambda: rig.events.handled["subscribed"] == 2, what="core resubscribed")
        assert len(rig.core.offers) == 0

        await rig.fire(4)
        await rig.master.wait_for_call("REVIVE")
        assert rig.accepts() == []
        fresh = await rig.offer()
        accept = await rig.master.wait_for_call("ACCEPT")
        assert accept.body is not None
        assert accept.body["accept"]["offer_ids"] == [fresh["id"]] != [stale["id"]]
        await rig.finish(await rig.wait_for_accept(1))
        assert rig.running_nodes(job.job_name) == []


async def test_updates_are_resent_until_acknowledged_and_recorded_once(zk_server: ZooKeeperServer) -> None:
    async with (
        MesosMasterDouble(heartbeat_interval=0.2, update_resend_interval=0.3) as master,
        scheduler_rig(zk_server.connect_string, master=master) as rig,
    ):
        app = await rig.publish_app()
        job = await rig.register_job(app, failover=True, cron="0 0 * * * ?")
        await rig.trigger(job.job_name)
        await rig.offer()
        t0, t1, t2 = task_ids(await rig.wait_for_accept(1))

        master.fail_next_call("ACKNOWLEDGE", 500, "master busy")
        master.fail_next_call("ACKNOWLEDGE", 503, "no leader")
        status = await master.send_update(t0, "TASK_FAILED", message="exit 1")
        await master.wait_until(lambda: status["uuid"] not in master.pending_updates, what="ACK at last")
        failed_acks = master.calls_of("ACKNOWLEDGE", status=500) + master.calls_of("ACKNOWLEDGE", status=503)
        assert len(failed_acks) == 2  # so the update came three times
        assert len(master.calls_of("ACKNOWLEDGE", status=202)) == 1

        assert rig.failover_nodes(job.job_name) == [f"{job.job_name}@-@0"]
        assert len(rig.core.failover) == 1
        assert rig.running_nodes(job.job_name) == [f"{job.job_name}@-@1", f"{job.job_name}@-@2"]
        await rig.finish([t1, t2])
        rig.assert_acknowledgements_exact()


async def test_a_scheduler_restarted_in_the_middle_of_a_run_neither_loses_nor_repeats_it(
    zk_server: ZooKeeperServer,
) -> None:
    namespace = unique_name("restart")
    async with MesosMasterDouble(heartbeat_interval=0.2) as master:
        async with scheduler_rig(zk_server.connect_string, namespace=namespace, master=master) as first:
            app = await first.publish_app()
            job = await first.register_job(app, misfire=True)
            await first.offer()
            await first.fire(4)  # 00:00:05
            t0, t1, t2 = task_ids(await first.wait_for_accept(1))
            for task_id in (t0, t1, t2):
                await first.update(task_id, "TASK_RUNNING")
            await first.update(t0, "TASK_FINISHED")
            # t1 finishes, but the acknowledgement is lost as the scheduler goes down.
            master.fail_next_call("ACKNOWLEDGE", 500)
            finished = await master.send_update(t1, "TASK_FINISHED")
            await master.wait_for_call("ACKNOWLEDGE", predicate=lambda call: call.status == 500)
            framework_id = master.framework_id
            restart_at = first.core.now() + timedelta(seconds=2)  # 00:00:07
            await first.client.close()
        assert master.pending_updates.keys() == {finished["uuid"]}

        async with scheduler_rig(
            zk_server.connect_string, namespace=namespace, master=master, start=restart_at
        ) as second:
            # The first scheduler recorded t1's end before its ACK failed: only t2 still runs.
            assert [str(t.task_id) for t in second.core.running.values()] == [t2]
            await master.wait_until(lambda: len(reconciles_after(second, 2)) == 2, what="reconciliation")
            assert master.subscriptions[-1].framework_id == framework_id
            assert reconciles_after(second, 2) == [[t2], []]
            # the resent FINISHED of t1 reached the new scheduler, which acknowledged it
            await master.wait_until(lambda: not master.pending_updates, what="resent update acknowledged")
            assert second.running_nodes(job.job_name) == [f"{job.job_name}@-@2"]

            await second.offer()  # the run is still going: nothing is launched again
            await second.core.tick()
            assert len(second.accepts()) == 1
            assert second.ready_count(job.job_name) == 0

            await second.update(t2, "TASK_FINISHED")
            assert second.running_nodes(job.job_name) == []
            assert second.core.running == {}
            await second.fire(3)  # 00:00:10: the schedule goes on
            await second.offer()
            next_run = await second.wait_for_accept(2)
            assert len(next_run) == 3
            await second.finish(next_run)
            assert second.running_nodes(job.job_name) == []
            assert second.ready_count(job.job_name) == 0
            assert master.unexpected_acknowledgements == []
