"""The scheduler service: only the elected leader schedules; a successor takes over the framework."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from devstack.stack import ZooKeeperServer
from server.base.clock import SystemClock
from server.domain.app import AppConfig
from server.domain.job import JobConfig, JobExecutionType
from server.mesos.client import Backoff
from server.registry.apps import AppRepository
from server.registry.disabled import DisabledFlags
from server.registry.jobs import JobRepository
from server.registry.ready import ReadyQueue
from server.registry.zookeeper import ZooKeeper
from server.scheduler.service import SchedulerService, SchedulerSettings
from server.scheduler.settings import CoreSettings
from server.usecases.apps import AppManager
from server.usecases.jobs import JobManager
from testkit.harness import unique_name
from testkit.mesos_double import MesosMasterDouble
from testkit.polling import until
from testkit.scheduling import expire_session


@pytest.fixture
async def master() -> AsyncIterator[MesosMasterDouble]:
    async with MesosMasterDouble(heartbeat_interval=0.2) as double:
        yield double


def start_service(zk_servers: str, namespace: str, master: MesosMasterDouble, name: str) -> SchedulerService:
    zookeeper = ZooKeeper(zk_servers, namespace=namespace, timeout=5.0)
    assert zookeeper.start(wait=10)
    service = SchedulerService(
        zookeeper,
        SchedulerSettings(
            mesos_url=master.base_url,
            mesos_user="tester",
            core=CoreSettings(executor_command="python -m server.executor"),
            backoff=Backoff(initial=0.05, maximum=0.2),
        ),
        clock=SystemClock(),
        identifier=name,
    )
    service.start()
    return service


def stop_service(service: SchedulerService) -> None:
    zookeeper = service.zookeeper
    service.stop()
    zookeeper.stop()


async def test_only_the_leader_subscribes_and_a_successor_resubscribes_as_the_same_framework(
    zk_server: ZooKeeperServer, master: MesosMasterDouble
) -> None:
    namespace = unique_name("ha")
    first = await asyncio.to_thread(start_service, zk_server.connect_string, namespace, master, "first")
    second = None
    try:
        await master.wait_for_subscription(1, timeout=10)
        framework_id = master.framework_id
        second = await asyncio.to_thread(start_service, zk_server.connect_string, namespace, master, "second")
        await asyncio.sleep(0.5)
        assert len(master.subscriptions) == 1  # the standby does not subscribe
        assert first.leading.is_set() and not second.leading.is_set()

        await asyncio.to_thread(stop_service, first)
        subscription = await master.wait_for_subscription(2, timeout=15)
        assert subscription.framework_id == framework_id
        assert second.leading.is_set()
    finally:
        if second is not None:
            await asyncio.to_thread(stop_service, second)
        if first.leading.is_set():
            await asyncio.to_thread(stop_service, first)


async def test_a_leader_that_loses_its_session_stops_and_queues_again_behind_its_successor(
    zk_server: ZooKeeperServer, master: MesosMasterDouble
) -> None:
    namespace = unique_name("lost")
    first = await asyncio.to_thread(start_service, zk_server.connect_string, namespace, master, "first")
    second = None
    try:
        await master.wait_for_subscription(1, timeout=10)
        framework_id = master.framework_id
        second = await asyncio.to_thread(start_service, zk_server.connect_string, namespace, master, "second")
        await asyncio.sleep(0.5)
        assert not second.leading.is_set()

        await asyncio.to_thread(expire_session, first.zookeeper)

        # The successor may lead before the old leader's client learns that its session is gone
        # (ZooKeeper cannot tell a partitioned client); the master's failover of the framework to
        # the successor fences the old leader's calls meanwhile. Once it learns, it stops.
        subscription = await master.wait_for_subscription(2, timeout=15)
        assert subscription.framework_id == framework_id
        assert second.leading.is_set()
        await until(lambda: not first.leading.is_set(), timeout=15, what="the old leader to stop")
        await asyncio.sleep(0.5)
        assert len(master.subscriptions) == 2  # it does not lead again while the successor does

        await asyncio.to_thread(stop_service, second)
        second = None
        subscription = await master.wait_for_subscription(3, timeout=15)  # ... and queued again
        assert subscription.framework_id == framework_id
        assert first.leading.is_set()
    finally:
        if second is not None:
            await asyncio.to_thread(stop_service, second)
        await asyncio.to_thread(stop_service, first)


async def test_api_events_reach_the_leader_and_a_trigger_launches(
    zk_server: ZooKeeperServer, master: MesosMasterDouble
) -> None:
    namespace = unique_name("events")
    service = await asyncio.to_thread(start_service, zk_server.connect_string, namespace, master, "only")
    try:
        await master.wait_for_subscription(1, timeout=10)
        await master.wait_until(lambda: service.core is not None and service.core.framework_id is not None)
        zookeeper = service.zookeeper
        apps = AppManager(AppRepository(zookeeper))
        jobs = JobManager(JobRepository(zookeeper), ReadyQueue(zookeeper), DisabledFlags(zookeeper), service)
        app = AppConfig(
            app_name=unique_name("app"), app_url="http://repo.test/a.tgz", bootstrap_script="run.sh"
        )
        await asyncio.to_thread(apps.publish, app)
        job = JobConfig(
            job_name=unique_name("job"),
            app_name=app.app_name,
            cpu_count=0.1,
            memory_mb=16,
            job_execution_type=JobExecutionType.TRANSIENT,
            sharding_total_count=2,
        )
        await asyncio.to_thread(jobs.register, job)
        await asyncio.to_thread(jobs.trigger, job.job_name)
        await master.wait_for_call("REVIVE", timeout=10)
        await master.offer(cpus=4, mem=1024)
        accept = await master.wait_for_call("ACCEPT", timeout=10)
        assert accept.body is not None
        launched = [
            op["launch"]["task_infos"][0]["task_id"]["value"] for op in accept.body["accept"]["operations"]
        ]
        assert sorted(t.split("@-@")[1] for t in launched) == ["0", "1"]
    finally:
        await asyncio.to_thread(stop_service, service)
