"""Scheduler test kit: a manual clock, and a scheduler core wired to the real Mesos client, a Mesos
master double and a real ZooKeeper namespace, all in the test's event loop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from server.domain.app import AppConfig
from server.domain.job import JobConfig, JobExecutionType
from server.domain.managers import AppManager, JobManager
from server.mesos.client import Backoff, FrameworkInfo, MesosSchedulerClient
from server.registry.apps import AppRepository
from server.registry.disabled import DisabledFlags
from server.registry.framework import FrameworkIdStore
from server.registry.jobs import JobRepository
from server.registry.ready import ReadyQueue
from server.registry.zookeeper import ZooKeeper
from server.scheduler.core import CoreSettings, SchedulerCore
from server.scheduler.service import _MesosEvents
from tests.harness import unique_name
from tests.mesos_master_double import MesosMasterDouble

UTC = ZoneInfo("UTC")
EXECUTOR_COMMAND = "python -m server.executor"


class ManualClock:
    """Wall and monotonic time that move only when the test says so."""

    def __init__(self, start: datetime) -> None:
        self.current = start
        self.mono = 1000.0

    def now(self) -> datetime:
        return self.current

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)
        self.mono += seconds

    def set(self, moment: datetime) -> None:
        self.mono += (moment - self.current).total_seconds()
        self.current = moment


@dataclass
class SchedulerRig:
    zookeeper: ZooKeeper
    core: SchedulerCore
    client: MesosSchedulerClient
    master: MesosMasterDouble
    clock: ManualClock
    apps: AppManager
    jobs: JobManager

    async def publish_app(self, **fields: Any) -> AppConfig:
        values: dict[str, Any] = {
            "app_name": unique_name("app"),
            "app_url": "http://repo.test/app.tar.gz",
            "bootstrap_script": "bin/start.sh",
            "cpu_count": 0.5,
            "memory_mb": 64.0,
        }
        values.update(fields)
        return await asyncio.to_thread(self.apps.publish, AppConfig(**values))

    async def register_job(self, app: AppConfig, **fields: Any) -> JobConfig:
        values: dict[str, Any] = {
            "job_name": unique_name("job"),
            "app_name": app.app_name,
            "cpu_count": 0.1,
            "memory_mb": 32.0,
            "job_execution_type": JobExecutionType.TRANSIENT,
            "sharding_total_count": 3,
            "cron": "0/5 * * * * ?",
        }
        values.update(fields)
        job = await asyncio.to_thread(self.jobs.register, JobConfig(**values))
        await self.core.job_changed(job.job_name, kill_running=False)
        return job

    async def fire(self, seconds: float) -> None:
        """Move the clock and let the core run its step."""
        self.clock.advance(seconds)
        await self.core.tick()

    def ready_count(self, job_name: str) -> int:
        return ReadyQueue(self.zookeeper).count(job_name)

    def running_nodes(self, job_name: str) -> list[str]:
        path = self.zookeeper.paths.running_job(job_name)
        client = self.zookeeper.client
        return sorted(client.get_children(path)) if client.exists(path) else []

    def failover_nodes(self, job_name: str) -> list[str]:
        path = self.zookeeper.paths.failover_job(job_name)
        client = self.zookeeper.client
        return sorted(client.get_children(path)) if client.exists(path) else []


@contextlib.asynccontextmanager
async def scheduler_rig(
    zk_servers: str,
    *,
    start: datetime | None = None,
    namespace: str | None = None,
    heartbeat_interval: float = 0.2,
    settings: CoreSettings | None = None,
    master: MesosMasterDouble | None = None,
) -> AsyncIterator[SchedulerRig]:
    clock = ManualClock(start or datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC))
    zookeeper = ZooKeeper(zk_servers, namespace=namespace or unique_name("sched"), timeout=5.0)
    assert zookeeper.start(wait=10)
    own_master = master is None
    master = master or MesosMasterDouble(heartbeat_interval=heartbeat_interval)
    if own_master:
        await master.start()
    core = SchedulerCore(
        zookeeper,
        settings or CoreSettings(executor_command=EXECUTOR_COMMAND, resync_seconds=3600.0),
        clock=clock,
    )
    await core.load()
    store = FrameworkIdStore(zookeeper)
    events = _MesosEvents(core, store)
    client = MesosSchedulerClient(
        master.base_url,
        FrameworkInfo(user="tester", name="elasticjob-test"),
        events,
        framework_id=await store.get(),
        backoff=Backoff(initial=0.05, maximum=0.2),
    )
    events.client = client
    client_task = asyncio.create_task(client.run())
    rig = SchedulerRig(
        zookeeper=zookeeper,
        core=core,
        client=client,
        master=master,
        clock=clock,
        apps=AppManager(AppRepository(zookeeper)),
        jobs=JobManager(JobRepository(zookeeper), ReadyQueue(zookeeper), DisabledFlags(zookeeper)),
    )
    try:
        await master.wait_for_subscription()
        await master.wait_until(lambda: core.framework_id is not None, what="core subscribed")
        yield rig
    finally:
        await client.close()
        with contextlib.suppress(Exception):
            await client_task
        if own_master:
            await master.stop()
        await asyncio.to_thread(zookeeper.stop)
