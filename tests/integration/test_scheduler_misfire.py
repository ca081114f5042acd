"""Fires that come while a job still runs: misfire on accumulates them in ``/state/ready`` and the runs
launch one after the other; misfire off keeps at most one waiting."""

from __future__ import annotations

from devstack.stack import ZooKeeperServer
from testkit.scheduling import scheduler_rig, shards


async def test_with_misfire_fires_during_a_run_accumulate_and_run_one_after_the_other(
    zk_server: ZooKeeperServer,
) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        app = await rig.publish_app()
        job = await rig.register_job(app, misfire=True, sharding_total_count=2)  # every 5 s
        await rig.offer()
        await rig.fire(4)  # 00:00:05
        first = await rig.wait_for_accept(1)
        await rig.update(first[0]["task_id"]["value"], "TASK_RUNNING")

        await rig.fire(5)  # 00:00:10, while the first run is still going
        assert rig.ready_count(job.job_name) == 1
        await rig.offer()  # resources are there, but the job is busy
        await rig.fire(5)  # 00:00:15
        assert rig.ready_count(job.job_name) == 2
        assert len(rig.accepts()) == 1

        await rig.finish(first[:1])
        assert len(rig.accepts()) == 1  # one shard still runs: the job is still busy
        await rig.finish(first[1:])
        second = await rig.wait_for_accept(2)  # the held offer is used as soon as the run ends
        assert shards(second) == [f"{job.job_name}@-@0@-@READY", f"{job.job_name}@-@1@-@READY"]
        assert rig.ready_count(job.job_name) == 1
        assert len(rig.running_nodes(job.job_name)) == 2

        await rig.finish(second)
        await rig.offer()
        third = await rig.wait_for_accept(3)
        assert rig.ready_count(job.job_name) == 0
        await rig.finish(third)

        await rig.core.tick()
        assert len(rig.accepts()) == 3
        assert rig.running_nodes(job.job_name) == []
        rig.assert_acknowledgements_exact()


async def test_without_misfire_fires_during_a_run_collapse_into_one(zk_server: ZooKeeperServer) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        app = await rig.publish_app()
        job = await rig.register_job(app, misfire=False, sharding_total_count=2)
        await rig.offer()
        await rig.fire(4)  # 00:00:05
        first = await rig.wait_for_accept(1)

        for _ in range(3):  # 00:00:10, :15, :20
            await rig.fire(5)
            assert rig.ready_count(job.job_name) == 1

        await rig.offer()
        await rig.finish(first)
        second = await rig.wait_for_accept(2)
        assert rig.ready_count(job.job_name) == 0

        await rig.offer()
        await rig.finish(second)
        await rig.core.tick()
        assert len(rig.accepts()) == 2  # the three fires during the first run gave one run
        assert rig.running_nodes(job.job_name) == []
        rig.assert_acknowledgements_exact()


async def test_with_misfire_a_trigger_during_a_run_also_waits_its_turn(zk_server: ZooKeeperServer) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        app = await rig.publish_app()
        job = await rig.register_job(app, misfire=True, sharding_total_count=1, cron="0 0 3 * * ?")
        await rig.trigger(job.job_name)
        await rig.offer()
        first = await rig.wait_for_accept(1)

        await rig.trigger(job.job_name)
        await rig.trigger(job.job_name)
        assert rig.ready_count(job.job_name) == 2

        await rig.finish(first)
        await rig.offer()
        second = await rig.wait_for_accept(2)
        await rig.finish(second)
        await rig.offer()
        third = await rig.wait_for_accept(3)
        await rig.finish(third)
        assert rig.ready_count(job.job_name) == 0
        assert len(rig.accepts()) == 3
