"""A registered job, fired by cron or triggered, becomes one ACCEPT with one LAUNCH per shard."""

from __future__ import annotations

import base64
import json

from devstack.stack import ZooKeeperServer
from testkit.scheduling import EXECUTOR_COMMAND, scheduler_rig, shards, task_ids


async def test_a_cron_fire_with_offers_on_hand_launches_every_shard(zk_server: ZooKeeperServer) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        app = await rig.publish_app()
        job = await rig.register_job(app, sharding_item_parameters="0=a,1=b,2=c", job_parameter="p")
        offer = await rig.offer(cpus=4, mem=4096)
        await rig.core.tick()
        assert not rig.master.calls_of("ACCEPT")  # nothing is due yet: the offer is only held

        await rig.fire(4)  # 00:00:05
        accept = await rig.master.wait_for_call("ACCEPT")
        assert accept.body is not None
        assert [o["value"] for o in accept.body["accept"]["offer_ids"]] == [offer["id"]["value"]]
        operations = accept.body["accept"]["operations"]
        assert [op["type"] for op in operations] == ["LAUNCH"] * 3
        tasks = [op["launch"]["task_infos"][0] for op in operations]
        items = sorted(int(t["task_id"]["value"].split("@-@")[1]) for t in tasks)
        assert items == [0, 1, 2]
        for task in tasks:
            parts = task["task_id"]["value"].split("@-@")
            assert parts[0] == job.job_name and parts[2] == "READY" and parts[3] == "agent-1"
            version = rig.core.executors.version_of(app)
            assert task["executor"]["executor_id"]["value"] == f"{app.app_name}@-@agent-1@-@{version}"
            assert task["executor"]["command"]["value"] == EXECUTOR_COMMAND
            assert task["executor"]["command"]["uris"] == [
                {"value": app.app_url, "cache": True, "extract": True, "executable": False}
            ]
            context = json.loads(base64.b64decode(task["data"]))
            assert context["jobName"] == job.job_name
            assert context["shardingTotalCount"] == 3
            assert context["shardingItemParameter"] == "abc"[context["shardingItem"]]
            assert context["environment"]["ELASTICJOB_SHARDING_ITEM"] == str(context["shardingItem"])
            assert context["jobParameter"] == "p"
            resources = {r["name"]: r["scalar"]["value"] for r in task["resources"]}
            assert resources == {"cpus": 0.1, "mem": 32.0}
        assert len(rig.running_nodes(job.job_name)) == 3
        assert rig.ready_count(job.job_name) == 0

        for task in tasks:
            await rig.master.send_update(task["task_id"]["value"], "TASK_RUNNING")
            await rig.master.send_update(task["task_id"]["value"], "TASK_FINISHED")
        await rig.master.wait_until(lambda: not rig.master.pending_updates, what="all updates acknowledged")
        await rig.master.wait_until(lambda: not rig.core.running, what="core saw every task finish")
        assert rig.running_nodes(job.job_name) == []
        assert rig.master.unexpected_acknowledgements == []


async def test_a_trigger_launches_every_shard_at_once(zk_server: ZooKeeperServer) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        app = await rig.publish_app()
        job = await rig.register_job(app, cron="0 0 3 * * ?")  # far away: only the trigger runs it
        await rig.master.wait_for_call("SUPPRESS")  # nothing to do: no offers wanted

        await rig.trigger(job.job_name)
        await rig.master.wait_for_call("REVIVE")
        await rig.offer(cpus=4, mem=4096)
        tasks = await rig.wait_for_accept(1)
        assert shards(tasks) == [f"{job.job_name}@-@{item}@-@READY" for item in range(3)]
        assert len(rig.running_nodes(job.job_name)) == 3
        assert rig.ready_count(job.job_name) == 0

        await rig.finish(tasks)
        assert rig.running_nodes(job.job_name) == []
        assert len(rig.accepts()) == 1
        rig.assert_acknowledgements_exact()


async def test_each_fire_and_each_trigger_gives_exactly_one_accept(zk_server: ZooKeeperServer) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        app = await rig.publish_app()
        job = await rig.register_job(app, sharding_total_count=2)  # 0/5 * * * * ?, now 00:00:01

        await rig.offer()
        await rig.fire(4)  # 00:00:05
        first = await rig.wait_for_accept(1)
        await rig.finish(first)

        await rig.offer()
        await rig.trigger(job.job_name)
        second = await rig.wait_for_accept(2)
        await rig.finish(second)

        await rig.offer()
        await rig.fire(5)  # 00:00:10
        third = await rig.wait_for_accept(3)
        await rig.finish(third)
        await rig.core.tick()

        assert len(rig.accepts()) == 3
        for tasks in (first, second, third):
            assert shards(tasks) == [f"{job.job_name}@-@0@-@READY", f"{job.job_name}@-@1@-@READY"]
        assert len(set(task_ids(first + second + third))) == 6  # every launch is a new task
        assert rig.master.calls_of("ACCEPT", status=400) == []
        assert rig.running_nodes(job.job_name) == []
        assert rig.ready_count(job.job_name) == 0
        rig.assert_acknowledgements_exact()
        assert len(rig.master.acknowledged) == 12  # RUNNING + FINISHED for each of six tasks


async def test_reconciliation_answers_are_recorded_but_never_acknowledged(zk_server: ZooKeeperServer) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        app = await rig.publish_app()
        job = await rig.register_job(app)
        await rig.offer()
        await rig.fire(4)
        tasks = await rig.wait_for_accept(1)
        for task_id in task_ids(tasks):
            await rig.update(task_id, "TASK_RUNNING")

        await rig.master.drop_stream()  # resubscribing reconciles the three running tasks
        await rig.master.wait_for_subscription(2)
        explicit = await rig.master.wait_for_call(
            "RECONCILE", predicate=lambda call: bool(call.body and call.body["reconcile"]["tasks"])
        )
        assert explicit.body is not None
        assert sorted(t["task_id"]["value"] for t in explicit.body["reconcile"]["tasks"]) == sorted(
            task_ids(tasks)
        )
        await rig.master.wait_for_call("RECONCILE", count=3)  # then implicitly (1: first subscribe)

        await rig.finish(tasks)
        assert rig.running_nodes(job.job_name) == []
        rig.assert_acknowledgements_exact()
        assert len(rig.master.acknowledged) == 9  # 3 RUNNING, then RUNNING + FINISHED: not the answers
