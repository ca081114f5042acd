"""The periodic resync reads ZooKeeper without holding the core's lock (cron keeps firing while it
reads), decodes only the job nodes modified since its last read, and never undoes what the core
itself changed while it was reading. Loading and resyncing cope with nodes that do not hold a job."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import timedelta

import pytest

from devstack.stack import ZooKeeperServer
from server.domain.job import JobConfig
from server.registry import codec
from server.registry import jobs as jobs_module
from server.registry.jobs import StoredJobs
from server.scheduler.settings import CoreSettings
from testkit.harness import unique_name
from testkit.scheduling import EXECUTOR_COMMAND, SchedulerRig, scheduler_rig, shards


@asynccontextmanager
async def resync_held_after_reading(rig: SchedulerRig) -> AsyncIterator[asyncio.Task[None]]:
    """Start a resync that reads the job nodes and then waits, before applying anything, until the
    block ends; yields its task once the read is done."""
    repository = rig.core.repositories.jobs
    read = repository.aread_all
    done_reading, release = asyncio.Event(), asyncio.Event()

    async def held(known: Mapping[str, int]) -> StoredJobs:
        stored = await read(known)
        done_reading.set()
        await release.wait()
        return stored

    repository.aread_all = held  # type: ignore[method-assign]
    task = asyncio.create_task(rig.core.resync())
    try:
        await asyncio.wait_for(done_reading.wait(), 5)
        yield task
        release.set()
        await asyncio.wait_for(task, 5)
    finally:
        release.set()
        repository.aread_all = read  # type: ignore[method-assign]


async def test_cron_fires_and_launches_while_a_resync_reads(zk_server: ZooKeeperServer) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        app = await rig.publish_app()
        job = await rig.register_job(app)  # every 5 s
        await rig.offer()

        async with resync_held_after_reading(rig) as resync:
            await asyncio.wait_for(rig.fire(4), 5)  # 00:00:05: not blocked by the resync
            tasks = await rig.wait_for_accept(1)
            assert shards(tasks) == [f"{job.job_name}@-@{item}@-@READY" for item in range(3)]
            assert not resync.done()

        # The resync read the job's state before the launch: it keeps memory's newer view.
        assert len(rig.core.running) == 3
        assert rig.master.calls_of("KILL") == []
        assert len(rig.running_nodes(job.job_name)) == 3


async def test_a_job_changed_here_while_a_resync_reads_keeps_its_new_configuration(
    zk_server: ZooKeeperServer,
) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        app = await rig.publish_app()
        job = await rig.register_job(app)  # every 5 s
        hourly = replace(job, cron="0 0 * * * ?")

        async with resync_held_after_reading(rig):
            await asyncio.to_thread(rig.jobs.update, hourly)
            await rig.core.job_changed(job.job_name, kill_running=True)

        assert rig.core.jobs[job.job_name].cron == "0 0 * * * ?"
        assert rig.core.timers.next_fire(job.job_name) == rig.core.now().replace(
            minute=0, second=0
        ) + timedelta(hours=1)
        await rig.core.resync()  # and the next resync sees no change
        assert rig.core.jobs[job.job_name].cron == "0 0 * * * ?"


async def test_a_job_removed_here_while_a_resync_reads_stays_removed(zk_server: ZooKeeperServer) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        app = await rig.publish_app()
        job = await rig.register_job(app)

        async with resync_held_after_reading(rig):
            await asyncio.to_thread(rig.jobs.deregister, job.job_name)
            await rig.core.job_removed(job.job_name)

        assert job.job_name not in rig.core.jobs
        assert job.job_name not in rig.core.timers


async def test_a_resync_decodes_only_the_job_nodes_changed_since_the_last_read(
    zk_server: ZooKeeperServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    decoded: list[str] = []
    decode = jobs_module._decode_job

    def counting(data: bytes, path: str) -> JobConfig:
        decoded.append(path.rsplit("/", 1)[-1])
        return decode(data, path)

    monkeypatch.setattr(jobs_module, "_decode_job", counting)
    async with scheduler_rig(zk_server.connect_string) as rig:
        app = await rig.publish_app()
        jobs = [await rig.register_job(app) for _ in range(3)]
        await rig.core.resync()
        decoded.clear()

        await rig.core.resync()
        assert decoded == []

        changed = replace(jobs[1], cron="0 0 * * * ?")
        await asyncio.to_thread(rig.jobs.update, changed)  # through another process: no event
        await rig.core.resync()
        assert decoded == [changed.job_name]
        assert rig.core.jobs[changed.job_name].cron == "0 0 * * * ?"
        assert rig.core.jobs[jobs[0].job_name] == jobs[0]


async def test_the_loop_keeps_firing_while_the_periodic_resync_reads(zk_server: ZooKeeperServer) -> None:
    settings = CoreSettings(executor_command=EXECUTOR_COMMAND, resync_seconds=0.0)
    async with scheduler_rig(zk_server.connect_string, settings=settings) as rig:
        app = await rig.publish_app()
        job = await rig.register_job(app, misfire=True)  # every 5 s; no offers: fires are queued
        repository = rig.core.repositories.jobs
        read = repository.aread_all
        reading, release = asyncio.Event(), asyncio.Event()

        async def held(known: Mapping[str, int]) -> StoredJobs:
            reading.set()
            await release.wait()
            return await read(known)

        repository.aread_all = held  # type: ignore[method-assign]
        loop = asyncio.create_task(rig.core.run())
        try:
            await asyncio.wait_for(reading.wait(), 5)  # a resync started and is reading
            rig.clock.advance(4)  # 00:00:05
            rig.core.wake()
            async with asyncio.timeout(5):  # no Mesos event follows a fire here: poll ZooKeeper
                while await asyncio.to_thread(rig.ready_count, job.job_name) != 1:
                    await asyncio.sleep(0.01)
        finally:
            release.set()
            rig.core.stop()
            await asyncio.wait_for(loop, 5)
            repository.aread_all = read  # type: ignore[method-assign]


async def test_a_job_node_that_turns_unreadable_keeps_the_last_configuration_until_it_is_fixed(
    zk_server: ZooKeeperServer, caplog: pytest.LogCaptureFixture
) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        app = await rig.publish_app()
        job = await rig.register_job(app)
        path = rig.zookeeper.paths.job(job.job_name)
        await asyncio.to_thread(rig.zookeeper.client.set, path, b"- not\n- a job\n")

        await rig.core.resync()
        assert rig.core.jobs[job.job_name] == job
        assert job.job_name in rig.core.timers
        assert "unreadable" in caplog.text

        fixed = codec.encode(replace(job, cron="0 0 * * * ?").to_document())
        await asyncio.to_thread(rig.zookeeper.client.set, path, fixed)  # repaired elsewhere
        await rig.core.resync()
        assert rig.core.jobs[job.job_name].cron == "0 0 * * * ?"


async def test_load_leaves_out_a_job_node_that_cannot_be_read(zk_server: ZooKeeperServer) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        app = await rig.publish_app()
        good = await rig.register_job(app)
        broken = unique_name("job")
        await asyncio.to_thread(rig.zookeeper.client.create, rig.zookeeper.paths.job(broken), b"{not json")

        await rig.core.load()

        assert set(rig.core.jobs) == {good.job_name}
        assert good.job_name in rig.core.timers


async def test_a_load_of_enough_jobs_freezes_the_heap_and_a_smaller_one_does_not(
    zk_server: ZooKeeperServer,
) -> None:
    settings = CoreSettings(executor_command=EXECUTOR_COMMAND, resync_seconds=3600.0, freeze_heap_min_jobs=2)
    try:
        async with scheduler_rig(zk_server.connect_string, settings=settings) as rig:
            app = await rig.publish_app()
            await rig.register_job(app)
            gc.unfreeze()
            await rig.core.load()  # one job: below the threshold
            assert gc.get_freeze_count() == 0

            await rig.register_job(app)
            await rig.core.load()
            assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
