"""Configuration changes reach the scheduler at once: deregistering a job kills its tasks and nothing of
it runs again; updating a job kills its running tasks and the new schedule applies."""

from __future__ import annotations

import asyncio
import base64
import json
from dataclasses import replace

from devstack.stack import ZooKeeperServer
from server.domain.job import JobConfig, JobExecutionType
from testkit.harness import unique_name
from testkit.scheduling import scheduler_rig, shards, task_ids


async def test_deregistering_a_job_kills_each_running_task_and_nothing_relaunches(
    zk_server: ZooKeeperServer,
) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        app = await rig.publish_app()
        job = await rig.register_job(app, failover=True, misfire=True)
        await rig.offer()
        await rig.fire(4)  # 00:00:05
        tasks = task_ids(await rig.wait_for_accept(1))
        for task_id in tasks:
            await rig.update(task_id, "TASK_RUNNING")
        await rig.fire(5)  # 00:00:10: a run waits behind the running one
        assert rig.ready_count(job.job_name) == 1

        await asyncio.to_thread(rig.jobs.deregister, job.job_name)
        await rig.core.job_removed(job.job_name)
        await rig.master.wait_for_call("KILL", count=3)
        killed = sorted(
            call.body["kill"]["task_id"]["value"] for call in rig.master.calls_of("KILL") if call.body
        )
        assert killed == sorted(tasks)
        await rig.master.wait_until(lambda: not rig.master.pending_updates, what="TASK_KILLED acknowledged")

        assert rig.running_nodes(job.job_name) == []
        assert rig.failover_nodes(job.job_name) == []
        assert rig.ready_count(job.job_name) == 0
        assert rig.core.orphans == {}
        await rig.offer()
        await rig.fire(5)  # 00:00:15: its cron is gone
        await rig.fire(5)
        assert len(rig.accepts()) == 1
        assert len(rig.master.calls_of("KILL")) == 3
        rig.assert_acknowledgements_exact()


async def test_deregistering_a_job_drops_its_shards_waiting_for_failover(zk_server: ZooKeeperServer) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        app = await rig.publish_app()
        job = await rig.register_job(app, failover=True, cron="0 0 * * * ?")
        await rig.trigger(job.job_name)
        await rig.offer()
        t0, *_ = task_ids(await rig.wait_for_accept(1))
        await rig.update(t0, "TASK_FAILED")
        assert rig.failover_nodes(job.job_name) == [f"{job.job_name}@-@0"]

        await asyncio.to_thread(rig.jobs.deregister, job.job_name)
        await rig.core.job_removed(job.job_name)
        await rig.master.wait_for_call("KILL", count=2)
        await rig.master.wait_until(lambda: not rig.master.pending_updates, what="TASK_KILLED acknowledged")
        await rig.offer()
        await rig.core.tick()
        assert len(rig.accepts()) == 1
        assert rig.failover_nodes(job.job_name) == []
        assert rig.running_nodes(job.job_name) == []


async def test_a_task_of_a_deregistered_job_that_reports_running_is_killed_again(
    zk_server: ZooKeeperServer,
) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        app = await rig.publish_app()
        job = await rig.register_job(app, sharding_total_count=1)
        await rig.offer()
        await rig.fire(4)
        (task,) = task_ids(await rig.wait_for_accept(1))
        rig.master.auto_kill = False  # the kill gets lost

        await asyncio.to_thread(rig.jobs.deregister, job.job_name)
        await rig.core.job_removed(job.job_name)
        await rig.master.wait_for_call("KILL")
        await rig.update(task, "TASK_RUNNING")  # the task still runs: kill it again
        await rig.master.wait_for_call("KILL", count=2)
        await rig.update(task, "TASK_KILLED")
        assert rig.core.orphans == {}
        assert rig.running_nodes(job.job_name) == []


async def test_updating_a_job_kills_its_running_tasks_and_applies_the_new_schedule(
    zk_server: ZooKeeperServer,
) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        app = await rig.publish_app()
        job = await rig.register_job(app, failover=True)  # every 5 s
        await rig.offer()
        await rig.fire(4)  # 00:00:05
        tasks = task_ids(await rig.wait_for_accept(1))
        for task_id in tasks:
            await rig.update(task_id, "TASK_RUNNING")

        updated = await asyncio.to_thread(
            rig.jobs.update, replace(job, cron="0 0 * * * ?", sharding_total_count=2)
        )
        await rig.core.job_changed(updated.job_name, kill_running=True)
        await rig.master.wait_for_call("KILL", count=3)
        await rig.master.wait_until(lambda: not rig.master.pending_updates, what="TASK_KILLED acknowledged")
        assert rig.running_nodes(job.job_name) == []
        assert rig.failover_nodes(job.job_name) == []  # killed on purpose: no failover

        await rig.offer()
        await rig.fire(5)  # 00:00:10: the old schedule no longer fires
        assert rig.ready_count(job.job_name) == 0
        assert len(rig.accepts()) == 1

        await rig.trigger(job.job_name)  # the new configuration: two shards
        await rig.offer()
        relaunched = await rig.wait_for_accept(2)
        assert len(relaunched) == 2
        await rig.finish(relaunched)
        rig.assert_acknowledgements_exact()


async def test_updating_a_job_that_is_not_running_kills_nothing(zk_server: ZooKeeperServer) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        app = await rig.publish_app()
        job = await rig.register_job(app)
        updated = await asyncio.to_thread(rig.jobs.update, replace(job, job_parameter="new"))
        await rig.core.job_changed(updated.job_name, kill_running=True)
        await rig.offer()
        await rig.fire(4)
        tasks = await rig.wait_for_accept(1)
        assert rig.master.calls_of("KILL") == []
        assert all(json.loads(base64.b64decode(t["data"]))["jobParameter"] == "new" for t in tasks)
        await rig.finish(tasks)


async def test_a_job_registered_elsewhere_is_launched_when_triggered(zk_server: ZooKeeperServer) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        # Another server process published the app and registered the job: this core never heard.
        app = await rig.publish_app()
        job = JobConfig(
            job_name=unique_name("job"),
            app_name=app.app_name,
            cpu_count=0.1,
            memory_mb=32.0,
            job_execution_type=JobExecutionType.TRANSIENT,
            sharding_total_count=2,
        )
        await asyncio.to_thread(rig.jobs.register, job)

        await rig.trigger(job.job_name)
        await rig.master.wait_for_call("REVIVE")
        await rig.offer()
        tasks = await rig.wait_for_accept(1)
        assert len(tasks) == 2
        await rig.finish(tasks)
        assert rig.running_nodes(job.job_name) == []


async def test_shards_waiting_for_failover_of_a_disabled_job_wait_without_asking_for_offers(
    zk_server: ZooKeeperServer,
) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        app = await rig.publish_app()
        job = await rig.register_job(app, failover=True, cron="0 0 * * * ?", sharding_total_count=1)
        await rig.trigger(job.job_name)
        await rig.offer()
        (task,) = task_ids(await rig.wait_for_accept(1))
        disabled = rig.zookeeper.paths.disabled_job(job.job_name)
        await asyncio.to_thread(rig.zookeeper.client.create, disabled)
        await rig.core.job_changed(job.job_name, kill_running=False)
        await rig.update(task, "TASK_FAILED")
        assert rig.failover_nodes(job.job_name) == [f"{job.job_name}@-@0"]

        revives = len(rig.master.calls_of("REVIVE"))
        offer = await rig.offer()
        await rig.core.tick()
        decline = rig.master.calls_of("DECLINE")[-1]
        assert decline.body is not None
        assert decline.body["decline"]["offer_ids"] == [offer["id"]]
        assert decline.body["decline"]["filters"]["refuse_seconds"] >= 600  # nothing can use it
        assert rig.master.suppressed
        assert len(rig.master.calls_of("REVIVE")) == revives

        await asyncio.to_thread(rig.zookeeper.client.delete, disabled)  # enabled again
        await rig.core.job_changed(job.job_name, kill_running=False)
        await rig.master.wait_for_call("REVIVE", count=revives + 1)
        await rig.offer()
        retry = await rig.wait_for_accept(2)
        assert shards(retry) == [f"{job.job_name}@-@0@-@FAILOVER"]
        await rig.finish(retry)
        assert rig.failover_nodes(job.job_name) == []


# -- changes made through another server process: the leader sees them on its periodic resync ----


async def test_a_job_deregistered_elsewhere_has_its_tasks_killed_at_the_resync(
    zk_server: ZooKeeperServer,
) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        app = await rig.publish_app()
        job = await rig.register_job(app, failover=True)
        await rig.offer()
        await rig.fire(4)
        tasks = task_ids(await rig.wait_for_accept(1))

        await asyncio.to_thread(rig.jobs.deregister, job.job_name)  # no event reaches this core
        await rig.core.resync()
        await rig.master.wait_for_call("KILL", count=3)
        await rig.master.wait_until(lambda: not rig.master.pending_updates, what="TASK_KILLED acknowledged")
        assert sorted(
            c.body["kill"]["task_id"]["value"] for c in rig.master.calls_of("KILL") if c.body
        ) == sorted(tasks)
        assert rig.core.running == {} and rig.core.orphans == {}
        await rig.offer()
        await rig.fire(5)
        assert len(rig.accepts()) == 1
        assert rig.running_nodes(job.job_name) == []


async def test_a_job_updated_elsewhere_is_rescheduled_and_its_tasks_killed_at_the_resync(
    zk_server: ZooKeeperServer,
) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        app = await rig.publish_app()
        job = await rig.register_job(app)  # every 5 s
        await rig.offer()
        await rig.fire(4)  # 00:00:05
        tasks = task_ids(await rig.wait_for_accept(1))

        await asyncio.to_thread(rig.jobs.update, replace(job, cron="0 0 * * * ?"))
        await rig.core.resync()
        await rig.master.wait_for_call("KILL", count=3)
        await rig.master.wait_until(lambda: not rig.master.pending_updates, what="TASK_KILLED acknowledged")
        assert sorted(
            c.body["kill"]["task_id"]["value"] for c in rig.master.calls_of("KILL") if c.body
        ) == sorted(tasks)
        await rig.fire(5)  # 00:00:10: the old schedule is gone
        assert rig.ready_count(job.job_name) == 0
        assert rig.running_nodes(job.job_name) == []


async def test_a_job_disabled_elsewhere_is_killed_and_stops_firing_at_the_resync(
    zk_server: ZooKeeperServer,
) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        app = await rig.publish_app()
        job = await rig.register_job(app)
        await rig.offer()
        await rig.fire(4)
        await rig.wait_for_accept(1)

        await asyncio.to_thread(rig.zookeeper.client.create, rig.zookeeper.paths.disabled_job(job.job_name))
        await rig.core.resync()
        await rig.master.wait_for_call("KILL", count=3)
        await rig.master.wait_until(lambda: not rig.master.pending_updates, what="TASK_KILLED acknowledged")
        await rig.fire(5)
        assert rig.ready_count(job.job_name) == 0
        assert rig.running_nodes(job.job_name) == []


async def test_a_job_registered_elsewhere_fires_after_the_resync(zk_server: ZooKeeperServer) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        app = await rig.publish_app()
        job = JobConfig(
            job_name=unique_name("job"),
            app_name=app.app_name,
            cpu_count=0.1,
            memory_mb=32.0,
            job_execution_type=JobExecutionType.TRANSIENT,
            sharding_total_count=1,
            cron="0/5 * * * * ?",
        )
        await asyncio.to_thread(rig.jobs.register, job)
        await rig.core.resync()
        await rig.offer()
        await rig.fire(4)
        tasks = await rig.wait_for_accept(1)
        assert shards(tasks) == [f"{job.job_name}@-@0@-@READY"]


async def test_the_resync_leaves_unchanged_jobs_and_their_tasks_alone(zk_server: ZooKeeperServer) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        app = await rig.publish_app()
        job = await rig.register_job(app, misfire=True)
        await rig.offer()
        await rig.fire(4)  # 00:00:05
        tasks = await rig.wait_for_accept(1)

        rig.clock.advance(5)  # 00:00:10 is due, but the core has not ticked yet
        await rig.core.resync()
        await rig.core.tick()
        assert rig.ready_count(job.job_name) == 1  # the due fire was not lost by the resync
        assert rig.master.calls_of("KILL") == []
        await rig.finish(tasks)
