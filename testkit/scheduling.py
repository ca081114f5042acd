"""Scheduler test kit: a manual clock, and a scheduler core wired to the real Mesos client, a Mesos
master double and a real ZooKeeper namespace, all in the test's event loop.

The core's own loop (``core.run``) does not run: tests move the clock and call ``core.tick()``
(``rig.fire``). Nothing sleeps: ``rig.offer`` / ``rig.rescind`` / ``rig.unreliable_update`` return
once the core has handled the event, ``rig.update`` once the core has acknowledged the update (so
it has recorded it and done what follows), and ``rig.wait_until`` re-checks a condition after each
event the core handles."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from kazoo.client import KazooClient

from server.domain.app import AppConfig
from server.domain.job import JobConfig, JobExecutionType
from server.domain.trace import TraceSink
from server.mesos.client import Backoff, FrameworkInfo, MesosSchedulerClient
from server.registry.apps import AppRepository
from server.registry.disabled import DisabledFlags
from server.registry.framework import FrameworkIdStore
from server.registry.jobs import JobRepository
from server.registry.ready import ReadyQueue
from server.registry.zookeeper import ZooKeeper
from server.scheduler.core import SchedulerCore
from server.scheduler.mesos_events import MesosEvents
from server.scheduler.settings import CoreSettings
from server.usecases.apps import AppManager
from server.usecases.jobs import JobManager
from testkit.clock import ManualClock
from testkit.harness import unique_name
from testkit.mesos_double import MesosMasterDouble, RecordedCall

UTC = ZoneInfo("UTC")
EXECUTOR_COMMAND = "python -m server.executor"
#: The rig's default: failed shards may re-run at once (tests of the backoff give their own).
NO_BACKOFF = Backoff(initial=0.0, maximum=0.0)


def expire_session(zookeeper: ZooKeeper) -> None:
    """End the client's ZooKeeper session as the server does when it times out (kazoo's test
    harness does the same): a second connection with the same session id and password closes it.
    The client then sees the session LOST and opens a new one."""
    session_id, password = zookeeper.client.client_id
    other = KazooClient(hosts=zookeeper.servers, client_id=(session_id, password))
    other.start(timeout=10)
    other.stop()
    other.close()


def launched_tasks(accept: RecordedCall) -> list[dict[str, Any]]:
    """The TaskInfos of an ACCEPT call's LAUNCH operations."""
    assert accept.body is not None
    return [
        task
        for operation in accept.body["accept"]["operations"]
        if operation["type"] == "LAUNCH"
        for task in operation["launch"]["task_infos"]
    ]


def task_ids(tasks: Sequence[dict[str, Any]]) -> list[str]:
    return [task["task_id"]["value"] for task in tasks]


def shards(tasks: Sequence[dict[str, Any]]) -> list[str]:
    """``job@-@item@-@TYPE`` of each task, sorted (the agent and uuid parts left out)."""
    return sorted("@-@".join(task["task_id"]["value"].split("@-@")[:3]) for task in tasks)


class ObservedEvents(MesosEvents):
    """The service's event adapter, counting what the core has finished handling, so tests wait
    for the scheduler's reaction to an event instead of sleeping."""

    def __init__(self, core: SchedulerCore, store: FrameworkIdStore) -> None:
        super().__init__(core, store)
        self.handled: Counter[str] = Counter()
        self._changed = asyncio.Event()

    def _done(self, kind: str) -> None:
        self.handled[kind] += 1
        self._changed.set()
        self._changed = asyncio.Event()

    async def changed(self) -> None:
        await self._changed.wait()

    async def on_subscribed(self, framework_id: str, heartbeat_interval: float) -> None:
        await super().on_subscribed(framework_id, heartbeat_interval)
        self._done("subscribed")

    async def on_offers(self, offers: list[dict[str, Any]]) -> None:
        try:
            await super().on_offers(offers)
        finally:
            self._done("offers")

    async def on_rescind(self, offer_id: str) -> None:
        try:
            await super().on_rescind(offer_id)
        finally:
            self._done("rescind")

    async def on_update(self, status: dict[str, Any]) -> None:
        try:
            await super().on_update(status)
        finally:
            self._done("update")

    async def on_disconnected(self) -> None:
        await super().on_disconnected()
        self._done("disconnected")

    async def on_unanswered(self, task_ids: list[str]) -> None:
        try:
            await super().on_unanswered(task_ids)
        finally:
            self._done("unanswered")


@dataclass
class SchedulerRig:
    zookeeper: ZooKeeper
    core: SchedulerCore
    client: MesosSchedulerClient
    master: MesosMasterDouble
    clock: ManualClock
    apps: AppManager
    jobs: JobManager
    events: ObservedEvents

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

    async def trigger(self, job_name: str) -> None:
        """TriggerJob as the API does it: the JobManager queues the run, then the core is told."""
        await asyncio.to_thread(self.jobs.trigger, job_name)
        await self.core.job_triggered(job_name)

    async def fire(self, seconds: float) -> None:
        """Move the clock and let the core run its step."""
        self.clock.advance(seconds)
        await self.core.tick()

    # -- Mesos side ---------------------------------------------------------------------------
    async def wait_until(
        self, predicate: Callable[[], bool], *, timeout: float = 5.0, what: str = ""
    ) -> None:
        """Wait until ``predicate()`` holds, re-checked whenever the core has handled an event."""
        try:
            async with asyncio.timeout(timeout):
                while not predicate():
                    await self.events.changed()
        except TimeoutError:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}") from None

    async def _handled(self, kind: str, count: int, what: str) -> None:
        await self.wait_until(lambda: self.events.handled[kind] >= count, what=what)

    async def offer(self, **offer_fields: Any) -> dict[str, Any]:
        """Send one offer and wait until the core has handled it (used, held or declined)."""
        target = self.events.handled["offers"] + 1
        offer = await self.master.offer(**offer_fields)
        await self._handled("offers", target, f"offer {offer['id']['value']} handled")
        return offer

    async def rescind(self, offer_id: str) -> None:
        """RESCIND an offer and wait until the core has forgotten it."""
        target = self.events.handled["rescind"] + 1
        await self.master.rescind(offer_id)
        await self._handled("rescind", target, f"rescind of {offer_id} handled")

    async def unreliable_update(self, task_id: str, state: str, **fields: Any) -> dict[str, Any]:
        """Send an update without uuid (as the master does) and wait until the core handled it."""
        target = self.events.handled["update"] + 1
        status = await self.master.send_update(task_id, state, reliable=False, **fields)
        await self._handled("update", target, f"{state} for {task_id} handled")
        return status

    def accepts(self) -> list[RecordedCall]:
        """ACCEPT calls the double answered 202, in order."""
        return self.master.calls_of("ACCEPT", status=202)

    async def wait_for_accept(self, count: int) -> list[dict[str, Any]]:
        """Wait for the ``count``-th ACCEPT answered 202; return the TaskInfos of its LAUNCHes."""
        call = await self.master.wait_for_call("ACCEPT", count=count, predicate=lambda c: c.status == 202)
        return launched_tasks(call)

    async def update(self, task_id: str, state: str, **fields: Any) -> dict[str, Any]:
        """Send a reliable status update and wait until the scheduler acknowledged it: the core
        has then recorded it and done what follows from it (relaunches included)."""
        status = await self.master.send_update(task_id, state, **fields)
        uuid = status["uuid"]
        await self.master.wait_until(
            lambda: uuid not in self.master.pending_updates, what=f"ACK of {state} for {task_id}"
        )
        return status

    async def finish(self, tasks: Sequence[dict[str, Any] | str]) -> None:
        """Run each task (RUNNING) and end it (FINISHED)."""
        for task in tasks:
            task_id = task if isinstance(task, str) else task["task_id"]["value"]
            await self.update(task_id, "TASK_RUNNING")
            await self.update(task_id, "TASK_FINISHED")

    def assert_acknowledgements_exact(self) -> None:
        """Every reliable update acknowledged exactly once; nothing else acknowledged."""
        assert self.master.unexpected_acknowledgements == []
        assert self.master.pending_updates == {}
        acknowledged = [
            call.body["acknowledge"]["uuid"]
            for call in self.master.calls_of("ACKNOWLEDGE", status=202)
            if call.body
        ]
        assert len(acknowledged) == len(set(acknowledged)) == len(self.master.acknowledged)

    # -- ZooKeeper side ------------------------------------------------------------------------
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
    trace: TraceSink | None = None,
) -> AsyncIterator[SchedulerRig]:
    clock = ManualClock(start or datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC))
    zone = clock.current.tzinfo
    assert zone is not None
    zookeeper = ZooKeeper(zk_servers, namespace=namespace or unique_name("sched"), timeout=5.0)
    assert zookeeper.start(wait=10)
    own_master = master is None
    master = master or MesosMasterDouble(heartbeat_interval=heartbeat_interval)
    if own_master:
        await master.start()
    core = SchedulerCore(
        zookeeper,
        dataclasses.replace(settings, zone=zone)
        if settings is not None
        else CoreSettings(
            executor_command=EXECUTOR_COMMAND,
            resync_seconds=3600.0,
            zone=zone,
            failover_backoff=NO_BACKOFF,
        ),
        clock=clock,
        trace=trace,
    )
    await core.load()
    store = FrameworkIdStore(zookeeper)
    events = ObservedEvents(core, store)
    client = MesosSchedulerClient(
        master.base_url,
        FrameworkInfo(user="tester", name="elasticjob-test"),
        events,
        framework_id=await store.get(),
        backoff=Backoff(initial=0.05, maximum=0.2),
        reconcile_backoff=Backoff(initial=0.05, maximum=0.2),
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
        events=events,
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
