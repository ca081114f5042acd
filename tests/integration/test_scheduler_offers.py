"""Offer hygiene: offers are used at once when work waits, held only while a fire is near, declined
otherwise; SUPPRESS when nothing waits, REVIVE when work arrives; rescinded or invalid offers are
never counted on."""

from __future__ import annotations

from devstack.stack import ZooKeeperServer
from testkit.scheduling import scheduler_rig, shards, task_ids

HOURLY = "0 0 * * * ?"  # the rig's clock starts at 00:00:01: the next fire is an hour away


async def test_nothing_waiting_and_no_fire_near_suppresses_offers(zk_server: ZooKeeperServer) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        app = await rig.publish_app()
        await rig.register_job(app, cron=HOURLY)

        await rig.master.wait_for_call("SUPPRESS")
        assert rig.master.suppressed
        assert rig.master.calls_of("REVIVE") == []


async def test_a_trigger_with_no_offers_on_hand_revives_them(zk_server: ZooKeeperServer) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        app = await rig.publish_app()
        job = await rig.register_job(app, cron=HOURLY)
        await rig.master.wait_for_call("SUPPRESS")

        await rig.trigger(job.job_name)
        await rig.master.wait_for_call("REVIVE")
        assert not rig.master.suppressed
        assert rig.accepts() == []

        await rig.offer()
        tasks = await rig.wait_for_accept(1)
        await rig.master.wait_for_call("SUPPRESS", count=2)  # launched: nothing waits any more
        await rig.finish(tasks)


async def test_work_arriving_right_after_a_revive_revives_again_when_offers_are_held_back(
    zk_server: ZooKeeperServer,
) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        app = await rig.publish_app()
        job = await rig.register_job(app, cron=HOURLY, sharding_total_count=1)
        await rig.trigger(job.job_name)
        await rig.offer()
        (task,) = await rig.wait_for_accept(1)
        await rig.master.wait_for_call("SUPPRESS", count=2)
        await rig.finish([task])

        # The clock has not moved since the first REVIVE; offers are suppressed: REVIVE at once.
        await rig.trigger(job.job_name)
        await rig.master.wait_for_call("REVIVE", count=2)
        await rig.offer()
        await rig.finish(await rig.wait_for_accept(2))


async def test_offers_are_declined_for_long_when_no_work_is_due(zk_server: ZooKeeperServer) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        app = await rig.publish_app()
        await rig.register_job(app, cron=HOURLY)
        offer = await rig.offer()

        decline = await rig.master.wait_for_call("DECLINE")
        assert decline.body is not None
        assert decline.body["decline"]["offer_ids"] == [offer["id"]]
        assert decline.body["decline"]["filters"]["refuse_seconds"] >= 600
        assert rig.master.outstanding_offers == {}
        assert len(rig.core.offers) == 0


async def test_offers_are_held_for_a_fire_that_is_near_and_used_at_the_fire(
    zk_server: ZooKeeperServer,
) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        app = await rig.publish_app()
        job = await rig.register_job(app)  # every 5 s: the next fire is 4 s away
        offer = await rig.offer()
        await rig.fire(2)  # 00:00:03
        assert rig.master.calls_of("DECLINE") == []
        assert len(rig.core.offers) == 1

        await rig.fire(2)  # 00:00:05
        accept = await rig.master.wait_for_call("ACCEPT")
        assert accept.body is not None
        assert accept.body["accept"]["offer_ids"] == [offer["id"]]
        assert accept.body["accept"]["filters"]["refuse_seconds"] <= 5
        assert rig.master.calls_of("DECLINE") == []
        await rig.finish(await rig.wait_for_accept(1))
        assert rig.running_nodes(job.job_name) == []


async def test_a_fire_coming_soon_revives_suppressed_offers(zk_server: ZooKeeperServer) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        app = await rig.publish_app()
        await rig.register_job(app, cron=HOURLY)
        await rig.master.wait_for_call("SUPPRESS")

        await rig.fire(3600 - 1 - 30)  # 00:59:30: still far
        assert rig.master.calls_of("REVIVE") == []
        await rig.fire(29)  # 00:59:59: one second to go
        await rig.master.wait_for_call("REVIVE")


async def test_offers_are_never_held_longer_than_the_hold_time(zk_server: ZooKeeperServer) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        app = await rig.publish_app()
        await rig.register_job(app, sharding_total_count=1)
        await rig.offer()
        await rig.fire(4)  # 00:00:05
        (task,) = await rig.wait_for_accept(1)

        offer = await rig.offer()  # the job still runs: nothing to do with it
        await rig.fire(5)  # 00:00:10: the fire is queued (busy job), the offer is kept
        assert rig.master.calls_of("DECLINE") == []
        await rig.fire(5)  # 00:00:15: held 10 s
        decline = await rig.master.wait_for_call("DECLINE")
        assert decline.body is not None
        assert decline.body["decline"]["offer_ids"] == [offer["id"]]
        assert len(rig.core.offers) == 0
        await rig.finish([task])


async def test_an_offer_too_small_for_the_whole_run_is_declined_briefly_and_nothing_launches(
    zk_server: ZooKeeperServer,
) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        app = await rig.publish_app()  # executor 0.5 cpu; shards 0.1 cpu each
        job = await rig.register_job(app, cron=HOURLY)
        await rig.trigger(job.job_name)
        small = await rig.offer(cpus=0.65)  # executor + one shard, not three

        decline = await rig.master.wait_for_call("DECLINE")
        assert decline.body is not None
        assert decline.body["decline"]["offer_ids"] == [small["id"]]
        assert decline.body["decline"]["filters"]["refuse_seconds"] <= 5
        assert rig.accepts() == []
        assert rig.running_nodes(job.job_name) == []
        assert rig.ready_count(job.job_name) == 1

        await rig.offer(cpus=1.0)
        tasks = await rig.wait_for_accept(1)
        assert len(tasks) == 3
        await rig.finish(tasks)


async def test_offers_of_one_agent_are_accepted_together(zk_server: ZooKeeperServer) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        app = await rig.publish_app()
        job = await rig.register_job(app)  # the fire is near: both offers are held
        first = await rig.offer(cpus=0.6)  # executor + one shard
        second = await rig.offer(cpus=0.2)  # two more shards
        await rig.fire(4)

        accept = await rig.master.wait_for_call("ACCEPT")
        assert accept.status == 202
        assert accept.body is not None
        assert accept.body["accept"]["offer_ids"] == [first["id"], second["id"]]
        tasks = await rig.wait_for_accept(1)
        assert len(rig.master.launched_tasks) == 3
        await rig.finish(tasks)
        assert rig.running_nodes(job.job_name) == []


async def test_a_rescinded_offer_is_never_used(zk_server: ZooKeeperServer) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        app = await rig.publish_app()
        job = await rig.register_job(app)
        offer = await rig.offer()
        await rig.rescind(offer["id"]["value"])
        assert len(rig.core.offers) == 0

        await rig.fire(4)  # 00:00:05: the run waits for a new offer
        assert rig.accepts() == []
        assert rig.ready_count(job.job_name) == 1
        fresh = await rig.offer()
        accept = await rig.master.wait_for_call("ACCEPT")
        assert accept.body is not None
        assert accept.body["accept"]["offer_ids"] == [fresh["id"]]
        assert all(
            offer["id"] not in (call.body or {}).get("decline", {}).get("offer_ids", [])
            for call in rig.master.calls_of("DECLINE")
        )
        await rig.finish(await rig.wait_for_accept(1))


async def test_tasks_of_an_accept_on_an_invalid_offer_are_dropped_requeued_and_launched_on_the_next_offer(
    zk_server: ZooKeeperServer,
) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        app = await rig.publish_app()
        job = await rig.register_job(app)
        offer = await rig.offer()
        # The master rescinds the offer; the RESCIND event is still on its way when the fire comes.
        del rig.master.outstanding_offers[offer["id"]["value"]]

        await rig.fire(4)
        dropped = await rig.wait_for_accept(1)
        await rig.wait_until(lambda: len(rig.core.failover) == 3, what="shards requeued")
        assert rig.master.launches == []  # the double refused the launch: TASK_DROPPED each
        assert rig.master.partition_aware  # (TASK_LOST for a framework that is not)
        assert {rig.master.task_states[t]["state"] for t in task_ids(dropped)} == {"TASK_DROPPED"}
        assert rig.running_nodes(job.job_name) == []
        assert rig.failover_nodes(job.job_name) == [f"{job.job_name}@-@{item}" for item in range(3)]
        await rig.rescind(offer["id"]["value"])

        await rig.offer()
        relaunched = await rig.wait_for_accept(2)
        assert shards(relaunched) == [f"{job.job_name}@-@{item}@-@FAILOVER" for item in range(3)]
        assert set(task_ids(relaunched)).isdisjoint(task_ids(dropped))
        assert rig.failover_nodes(job.job_name) == []
        assert len(rig.running_nodes(job.job_name)) == 3
        await rig.finish(relaunched)
        assert rig.running_nodes(job.job_name) == []
        assert rig.ready_count(job.job_name) == 0
        rig.assert_acknowledgements_exact()  # the DROPPED updates (no uuid) were not acknowledged


async def test_shards_of_an_accept_the_master_refuses_are_queued_again_for_the_next_offer(
    zk_server: ZooKeeperServer,
) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        app = await rig.publish_app()
        job = await rig.register_job(app, failover=False)
        await rig.offer()
        rig.master.fail_next_call("ACCEPT", 503, "master is failing over")

        await rig.fire(4)
        await rig.master.wait_for_call("ACCEPT")  # refused: nothing was launched
        assert rig.master.launches == []
        assert rig.running_nodes(job.job_name) == []
        assert rig.failover_nodes(job.job_name) == [f"{job.job_name}@-@{item}" for item in range(3)]

        await rig.offer()
        relaunched = await rig.wait_for_accept(1)  # the first ACCEPT answered 503, not 202
        assert shards(relaunched) == [f"{job.job_name}@-@{item}@-@FAILOVER" for item in range(3)]
        await rig.finish(relaunched)
        assert rig.running_nodes(job.job_name) == []
        assert rig.failover_nodes(job.job_name) == []
