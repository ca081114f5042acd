"""The scheduler service: leader election, the Mesos subscription and the core, in one thread.

Every server process may run one; ZooKeeper's election (``/ha/election``) picks the leader, and
only the leader schedules. The leader reads all state from ZooKeeper, subscribes to Mesos with the
stored framework id (``/ha/framework_id``) and reconciles, so a successor takes over the running
tasks instead of starting them again. Losing the ZooKeeper session (and so the leadership) stops
the leader's scheduling as soon as its client learns of it (see ``server.registry.election``); it
then queues for the election again. A successor's subscription fails the framework over to it, so
the master no longer takes the old leader's calls.

API events (``JobEvents``, ``AppEvents``) are handed to the leader's event loop; a process that is not leading
ignores them. The leader watches the registry (``server.registry.watches``), so what another
process writes reaches it within milliseconds; the periodic resync stays as the safety net.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from server.base.clock import Clock
from server.domain.job import JobConfig
from server.domain.task import TaskId, TaskIdError
from server.domain.trace import NoTrace, TraceSink
from server.mesos.client import Backoff, FrameworkInfo, MesosSchedulerClient
from server.mesos.errors import MesosError
from server.registry.election import LeaderElection
from server.registry.framework import FrameworkIdStore
from server.registry.mesos_master import detect_leader
from server.registry.reconcile_requests import ReconcileRequest, ReconcileRequests
from server.registry.watches import RegistryWatch
from server.registry.zookeeper import ZooKeeper
from server.scheduler.core import SchedulerCore
from server.scheduler.mesos_events import MesosEvents
from server.scheduler.settings import CoreSettings
from server.telemetry import metrics

log = logging.getLogger("server.scheduler")


@dataclass(frozen=True, kw_only=True, slots=True)
class SchedulerSettings:
    """The service's own settings (the Mesos subscription); ``core`` holds the scheduling core's."""

    mesos_url: str
    mesos_user: str
    core: CoreSettings
    mesos_role: str | None = None
    framework_name: str = "ElasticJob-Cloud"
    failover_timeout_seconds: float = 7 * 24 * 3600.0
    reconcile_interval_seconds: float = 600.0
    backoff: Backoff = field(default_factory=Backoff)
    heartbeat_misses: float = 5.0


class SchedulerService:
    """Runs the election and, while leading, the core and the Mesos client."""

    def __init__(
        self,
        zookeeper: ZooKeeper,
        settings: SchedulerSettings,
        *,
        clock: Clock,
        identifier: str | None = None,
        client_factory: Callable[..., MesosSchedulerClient] = MesosSchedulerClient,
        trace: TraceSink | None = None,
    ) -> None:
        self.zookeeper = zookeeper
        #: Where the leader's cores hand trace events (status traces, executions).
        self.trace: TraceSink = trace or NoTrace()
        self.settings = settings
        self._clock = clock
        self._identifier = identifier or f"{socket.gethostname()}:{id(self):x}"
        self._client_factory = client_factory
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._session_lost = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: MesosSchedulerClient | None = None
        self.core: SchedulerCore | None = None
        self.leading = threading.Event()
        self._election = LeaderElection(zookeeper, self._identifier)
        self._election.add_loss_listener(self._on_session_lost)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._campaign, name="scheduler", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self._election.cancel()
        self._interrupt_leadership()
        if self._thread is not None:
            self._thread.join(timeout)

    def _on_session_lost(self) -> None:
        log.warning("ZooKeeper session lost: giving up leadership")
        self._session_lost.set()
        self._interrupt_leadership()

    def _interrupt_leadership(self) -> None:
        """Make the leader's loop wind down: closing the client ends ``client.run()``."""
        loop, client = self._loop, self._client
        if loop is not None and client is not None:
            with contextlib.suppress(RuntimeError):
                asyncio.run_coroutine_threadsafe(client.close(), loop)

    def _campaign(self) -> None:
        while not self._stopping.is_set():
            if not self._election.connected:
                self._stopping.wait(0.5)
                continue
            self._session_lost.clear()
            try:
                self._election.run(self._lead)
            except Exception as exc:  # connection trouble during the election: try again
                if not self._stopping.is_set():
                    log.warning("leader election interrupted: %s", exc)
                    self._stopping.wait(1.0)

    def _lead(self) -> None:
        if self._stopping.is_set() or self._session_lost.is_set():
            return
        log.info("elected leader (%s)", self._identifier)
        self.leading.set()
        metrics.LEADERSHIPS.inc()
        metrics.LEADER.set(1)
        try:
            asyncio.run(self._lead_async())
        except (Exception, asyncio.CancelledError):
            log.exception("scheduler stopped by an error; leaving the election")
        finally:
            metrics.LEADER.set(0)
            self.leading.clear()
            self.core = None
            log.info("no longer leading")

    async def _lead_async(self) -> None:
        self._loop = asyncio.get_running_loop()
        if self._stopping.is_set() or self._session_lost.is_set():
            return
        core = SchedulerCore(self.zookeeper, self.settings.core, clock=self._clock, trace=self.trace)
        await core.load()
        self.core = core
        store = FrameworkIdStore(self.zookeeper)
        watch = self._watch_registry(self._loop)
        stop_reconcile_watch = ReconcileRequests(self.zookeeper).watch(self._reconcile_requested)
        try:
            while not self._stopping.is_set() and not self._session_lost.is_set():
                events = MesosEvents(core, store)
                client = self._client_factory(
                    self.settings.mesos_url,
                    FrameworkInfo(
                        user=self.settings.mesos_user,
                        name=self.settings.framework_name,
                        role=self.settings.mesos_role,
                        failover_timeout=self.settings.failover_timeout_seconds,
                    ),
                    events,
                    framework_id=await store.get(),
                    reconcile_interval=self.settings.reconcile_interval_seconds,
                    backoff=self.settings.backoff,
                    heartbeat_misses=self.settings.heartbeat_misses,
                    detect=detect_leader,
                )
                events.client = client
                self._client = client
                if self._stopping.is_set() or self._session_lost.is_set():
                    break
                core_task = asyncio.create_task(core.run(), name="scheduler-core")
                try:
                    await client.run()
                finally:
                    core.stop()
                    await _quietly(core_task)
                    await client.close()
                    core.mesos = None
                if self._stopping.is_set() or self._session_lost.is_set():
                    break
                if events.removed:
                    log.error("the framework was removed by Mesos; registering a new one")
                    await store.clear()
                else:
                    await asyncio.sleep(1.0)
                core = SchedulerCore(self.zookeeper, self.settings.core, clock=self._clock, trace=self.trace)
                await core.load()
                self.core = core
        finally:
            watch.stop()
            stop_reconcile_watch()
            self._loop = None
            self._client = None

    def _watch_registry(self, loop: asyncio.AbstractEventLoop) -> RegistryWatch:
        """Watch what other processes write, handing each change to the current core."""

        def on_config() -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed: no longer leading
                loop.call_soon_threadsafe(self._registry_changed)

        def on_ready(job_name: str) -> None:
            self._submit(lambda core: core.ready_changed(job_name))

        watch = RegistryWatch(self.zookeeper, on_config=on_config, on_ready=on_ready)
        watch.start()
        return watch

    def _reconcile_requested(self, request: ReconcileRequest) -> None:
        """A reconciliation was asked for through the API (of any replica): run it now."""
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):
                asyncio.run_coroutine_threadsafe(self._reconcile(request.kind), loop)

    async def _reconcile(self, kind: str) -> None:
        client, core = self._client, self.core
        if client is None or core is None or core.framework_id is None:
            log.warning("%s reconciliation asked for while not subscribed to Mesos: not sent", kind)
            return
        tasks = core.tasks_to_reconcile() if kind == "explicit" else []
        try:
            await client.reconcile(tasks)
        except MesosError as exc:
            log.warning("%s reconciliation failed: %s", kind, exc)
            return
        log.info("%s reconciliation sent (%d tasks named), as asked through the API", kind, len(tasks))

    def task_state(self, task_id: str) -> str | None:
        """The state of a task the leader follows (TASK_STAGING, TASK_RUNNING, TASK_KILLING); None
        when not leading or the task is not followed. Read from another thread: one lookup."""
        core = self.core
        if core is None:
            return None
        try:
            parsed = TaskId.parse(task_id)
        except TaskIdError:
            return None
        tracked = core.running.get(parsed.shard)
        if tracked is None or str(tracked.task_id) != task_id:
            return None
        if tracked.killing:
            return "TASK_KILLING"
        return "TASK_RUNNING" if tracked.started else "TASK_STAGING"

    def _registry_changed(self) -> None:
        if self.core is not None:
            self.core.registry_changed()

    def _submit(self, make: Callable[[SchedulerCore], Coroutine[Any, Any, None]]) -> None:
        loop, core = self._loop, self.core
        if loop is None or core is None:
            return  # not leading: the leader's resync picks the change up
        with contextlib.suppress(RuntimeError):
            asyncio.run_coroutine_threadsafe(_logged(make(core)), loop)

    def job_registered(self, job: JobConfig) -> None:
        self._submit(lambda core: core.job_changed(job.job_name, kill_running=False))

    def job_updated(self, job: JobConfig) -> None:
        self._submit(lambda core: core.job_changed(job.job_name, kill_running=True))

    def job_deregistered(self, job_name: str) -> None:
        self._submit(lambda core: core.job_removed(job_name))

    def job_triggered(self, job: JobConfig) -> None:
        self._submit(lambda core: core.job_triggered(job.job_name))

    def job_disabled_changed(self, job_name: str) -> None:
        self._submit(lambda core: core.job_disabled_changed(job_name))

    def app_disabled_changed(self, app_name: str) -> None:
        self._submit(lambda core: core.app_disabled_changed(app_name))

    def app_deleted(self, app_name: str, job_names: list[str]) -> None:
        self._submit(lambda core: core.app_removed(app_name, job_names))


async def _quietly(task: Awaitable[Any]) -> None:
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task


async def _logged(work: Awaitable[None]) -> None:
    try:
        await work
    except Exception:
        log.exception("scheduler event failed")
