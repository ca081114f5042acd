"""The scheduler core: cron fires and triggers → ready queue → offers → launches; status updates →
running / failover state. One instance runs, on the leading scheduler, inside one asyncio loop.

Every queue and every running task is in ZooKeeper (``/state/ready``, ``/state/failover``,
``/state/running``); memory only mirrors it, so a successor loses nothing. ``SchedulerCore`` is
where each event enters (a step of its loop, offers, a status update, a configuration change);
each is handled under one lock, by the parts that hold the rules: ``registry_sync`` (load,
resync), ``config_events``, ``fires``, ``ready_runs``, ``launch`` and ``accepts``,
``offer_policy``, ``diagnosis`` (why waiting work does not run), ``task_updates`` and ``kills``, ``executors`` (retiring those of changed apps), sharing the memory in ``state``. No cyclic
garbage collection runs during a step (``collector``). ``tracing`` hands what it sees to a trace
sink, ``metering`` to the Prometheus metrics; neither waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from server.base.clock import Clock
from server.domain.app import AppConfig
from server.domain.errors import ElasticJobError
from server.domain.job import JobConfig
from server.domain.task import ShardRef
from server.domain.trace import NoTrace, TraceSink
from server.mesos.errors import MesosError
from server.registry.apps import AppRepository
from server.registry.diagnosis import DiagnosisStore
from server.registry.disabled import DisabledFlags
from server.registry.failover import FailoverQueue
from server.registry.fire_checkpoint import FireCheckpoint
from server.registry.jobs import JobRepository
from server.registry.ready import ReadyQueue
from server.registry.running import RunningTasks
from server.registry.state_transactions import StateTransactions
from server.registry.zookeeper import ZooKeeper
from server.scheduler.accepts import Accepts, LaunchListener
from server.scheduler.collector import collector_paused, freeze_heap
from server.scheduler.config_events import ConfigEvents
from server.scheduler.diagnosis import Diagnoser
from server.scheduler.executors import Executors
from server.scheduler.fires import FireRecorder
from server.scheduler.job_reads import JobReads
from server.scheduler.kills import Kills
from server.scheduler.launch import Launcher
from server.scheduler.metering import MeteredMesosCalls, SchedulerMeter
from server.scheduler.offer_policy import OfferPolicy
from server.scheduler.offers import Offer, OfferPool
from server.scheduler.ready_runs import ReadyRuns
from server.scheduler.registry_sync import RegistrySync
from server.scheduler.settings import CoreSettings
from server.scheduler.state import MesosCalls, ReadyEntry, SchedulerState, TrackedTask
from server.scheduler.task_updates import StatusUpdate, TaskUpdates
from server.scheduler.timers import CronTimers
from server.scheduler.tracing import TaskTracing

__all__ = ["CoreSettings", "MesosCalls", "Repositories", "SchedulerCore"]

log = logging.getLogger("server.scheduler")


@dataclass(frozen=True, slots=True)
class Repositories:
    """The registry as the core reads and writes it."""

    jobs: JobRepository
    apps: AppRepository
    disabled: DisabledFlags
    ready: ReadyQueue
    running: RunningTasks
    failover: FailoverQueue
    transactions: StateTransactions

    @classmethod
    def of(cls, zookeeper: ZooKeeper) -> Repositories:
        jobs, ready = JobRepository(zookeeper), ReadyQueue(zookeeper)
        running, failover = RunningTasks(zookeeper), FailoverQueue(zookeeper)
        transactions = StateTransactions(
            zookeeper, jobs=jobs, ready=ready, running=running, failover=failover
        )
        return cls(
            jobs, AppRepository(zookeeper), DisabledFlags(zookeeper), ready, running, failover, transactions
        )


class SchedulerCore:
    """The core's entry points; its memory changes only under ``_lock``."""

    def __init__(
        self,
        zookeeper: ZooKeeper,
        settings: CoreSettings,
        *,
        clock: Clock,
        new_unique: Callable[[], str] = lambda: str(uuid.uuid4()),
        trace: TraceSink | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.repositories = repositories = Repositories.of(zookeeper)
        state = self._state = SchedulerState(settings, clock)
        self.tracing = TaskTracing(trace or NoTrace(), state)
        self.metering = SchedulerMeter(state)
        self.kills = Kills(state)
        self.job_reads = JobReads(
            state,
            jobs=repositories.jobs,
            apps=repositories.apps,
            ready=repositories.ready,
            failover=repositories.failover,
            kills=self.kills,
        )
        self.ready_runs = ReadyRuns(state, repositories.ready, repositories.transactions, self.job_reads)
        self.task_updates = TaskUpdates(
            state,
            repositories.transactions,
            repositories.running,
            self.ready_runs,
            self.kills,
            on_decided=self._decided,
        )
        self.accepts = Accepts(state, self.task_updates)
        self.accepts.listeners += [self.tracing.launched, self.metering.launched]
        self.executors = Executors(state, self.kills)
        self.accepts.listeners.append(self.executors.launched)
        self.launcher = Launcher(
            state,
            repositories.transactions,
            self.job_reads,
            repositories.failover,
            self.ready_runs,
            self.accepts,
            new_unique,
        )
        self.offer_policy = OfferPolicy(state)
        self.metering.suppressed = lambda: self.offer_policy.suppressed
        self.diagnosis = Diagnoser(state, DiagnosisStore(zookeeper))
        checkpoint = FireCheckpoint(zookeeper)
        self.fires = FireRecorder(state, self.ready_runs, self.launcher, checkpoint)
        self.fires.on_fired = self.metering.fired
        self.sync = RegistrySync(
            state,
            jobs=repositories.jobs,
            apps=repositories.apps,
            disabled=repositories.disabled,
            ready=repositories.ready,
            running=repositories.running,
            failover=repositories.failover,
            checkpoint=checkpoint,
            ready_runs=self.ready_runs,
            kills=self.kills,
            job_reads=self.job_reads,
            launcher=self.launcher,
            offer_policy=self.offer_policy,
        )
        self.config_events = ConfigEvents(
            state,
            self.job_reads,
            disabled=repositories.disabled,
            ready=repositories.ready,
            ready_runs=self.ready_runs,
            kills=self.kills,
            launcher=self.launcher,
            offer_policy=self.offer_policy,
        )
        self._lock = asyncio.Lock()
        self._resync_lock = asyncio.Lock()
        self._watched_resync: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    # What memory holds (read-only views for the service, tests and benchmarks).
    @property
    def jobs(self) -> dict[str, JobConfig]:
        return self._state.jobs

    @property
    def apps(self) -> dict[str, AppConfig]:
        return self._state.apps

    @property
    def disabled_jobs(self) -> set[str]:
        return self._state.disabled_jobs

    @property
    def disabled_apps(self) -> set[str]:
        return self._state.disabled_apps

    @property
    def ready(self) -> dict[str, ReadyEntry]:
        return self._state.ready

    @property
    def failover(self) -> dict[ShardRef, str]:
        return self._state.failover

    @property
    def running(self) -> dict[ShardRef, TrackedTask]:
        return self._state.running

    @property
    def orphans(self) -> dict[str, TrackedTask]:
        return self._state.orphans

    @property
    def offers(self) -> OfferPool:
        return self._state.offers

    @property
    def timers(self) -> CronTimers:
        return self._state.timers

    @timers.setter
    def timers(self, timers: CronTimers) -> None:
        self._state.timers = timers

    @property
    def framework_id(self) -> str | None:
        return self._state.framework_id

    @property
    def mesos(self) -> MesosCalls | None:
        return self._state.mesos

    @mesos.setter
    def mesos(self, mesos: MesosCalls | None) -> None:
        self._state.mesos = mesos

    @property
    def launch_listeners(self) -> list[LaunchListener]:
        """Called with the placements of each ACCEPT the master took."""
        return self.accepts.listeners

    def now(self) -> datetime:
        """Wall time in the scheduler's zone."""
        return self._state.now()

    async def load(self) -> None:
        """Read configuration and state from ZooKeeper (at start and when becoming leader)."""
        state = self._state
        async with self._lock:
            await self.sync.load()
            if len(state.jobs) >= self.settings.freeze_heap_min_jobs:
                freeze_heap()
        log.info(
            "loaded %d jobs, %d apps, %d ready, %d failover, %d running",
            len(state.jobs),
            len(state.apps),
            len(state.ready),
            len(state.failover),
            len(state.running),
        )

    async def run(self) -> None:
        """Fire cron jobs, launch and manage offers until ``stop()``. The periodic resync runs
        beside the steps, so cron keeps firing while it reads ZooKeeper."""
        wake = self._state.wake
        last_resync = self.clock.monotonic()
        resync: asyncio.Task[None] | None = None
        try:
            while not self._stopping.is_set():
                wake.clear()  # before the step: a wake-up during the step is not lost
                try:
                    await self.tick()
                except (ElasticJobError, MesosError) as exc:
                    log.warning("scheduler step failed, retrying: %s", exc)
                    await asyncio.sleep(0.5)
                    continue
                except Exception:  # a bug must not stop cron for good: log it and go on
                    log.exception("scheduler step failed unexpectedly, retrying")
                    await asyncio.sleep(0.5)
                    continue
                if self._stopping.is_set():
                    break
                resync_due = self.clock.monotonic() - last_resync >= self.settings.resync_seconds
                if resync_due and (resync is None or resync.done()):
                    last_resync = self.clock.monotonic()
                    resync = asyncio.create_task(self._resync_logged(), name="scheduler-resync")
                timeout = self._seconds_until_next_step()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), timeout)
        finally:
            if resync is not None and not resync.done():
                resync.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await resync

    async def _resync_logged(self) -> None:
        try:
            await self.resync()
        except (ElasticJobError, MesosError) as exc:
            log.warning(
                "resync failed (the next one is due in %.0f s): %s", self.settings.resync_seconds, exc
            )
        except Exception:  # a bug must not stop the resyncs for good
            log.exception("resync failed unexpectedly")

    def stop(self) -> None:
        self._stopping.set()
        self._state.wake.set()
        self.metering.close()

    def wake(self) -> None:
        self._state.wake.set()

    async def tick(self) -> None:
        """One step: record due fires, launch what fits, tidy offers."""
        async with self._lock:
            with collector_paused():
                await self.fires.record_due()
                await self.launcher.launch()
                await self.diagnosis.step(list(self._state.offers))
                await self.offer_policy.manage()
                await self.executors.step()

    def _seconds_until_next_step(self) -> float:
        state = self._state
        now = state.now()
        candidates = [self.settings.resync_seconds]
        deadline = state.timers.next_deadline()
        if deadline is not None:
            until_fire = (deadline - now).total_seconds()
            candidates.append(until_fire)
            if self.offer_policy.suppressed:
                candidates.append(until_fire - self.settings.revive_lookahead_seconds)
        if len(state.offers):
            oldest = min(offer.received_at for offer in state.offers)
            candidates.append(oldest + self.settings.offer_hold_seconds - self.clock.monotonic())
        if state.waiting_work() and not len(state.offers):
            candidates.append(self.settings.revive_retry_seconds)
        retry = state.next_failover_retry()
        if retry is not None:
            candidates.append(retry)
        return max(0.0, min(candidates))

    async def resync(self) -> None:
        """Re-read configuration and queues (see ``registry_sync``): ZooKeeper is read without
        holding the lock; what this core changes meanwhile keeps memory's view."""
        async with self._resync_lock:
            with self._state.noting_changes() as touched:
                stored = await self.sync.read()
                async with self._lock:
                    apps_before = set(self._state.apps)
                    await self.sync.apply(stored, touched)
                    # Apps deleted through another process (not merely unreadable nodes).
                    for app_name in sorted(apps_before - set(self._state.apps) - set(stored.apps.zxids)):
                        await self.executors.retire_app(app_name)
                    await self.executors.step()

    def registry_changed(self) -> None:
        """A watch saw configuration or disabled flags change (another replica wrote them): a
        resync runs ``watch_debounce_seconds`` from now, so a burst of changes is read once. Call
        it in the core's loop."""
        if self._watched_resync is not None and not self._watched_resync.done():
            return
        self._watched_resync = asyncio.create_task(self._resync_soon(), name="scheduler-watched-resync")

    async def _resync_soon(self) -> None:
        await asyncio.sleep(self.settings.watch_debounce_seconds)
        await self._resync_logged()

    async def ready_changed(self, job_name: str) -> None:
        """A watch saw the job's ready node created or changed: mirror it and launch (a trigger
        through another replica runs at once)."""
        async with self._lock:
            await self.config_events.ready_changed(job_name)

    async def job_changed(self, job_name: str, *, kill_running: bool) -> None:
        """A job was registered or updated (or its disabled flag changed): reload and reschedule.
        With ``kill_running``, its running tasks are killed (update and disable do that)."""
        async with self._lock:
            await self.config_events.job_changed(job_name, kill_running=kill_running)
            await self.executors.step()

    async def job_disabled_changed(self, job_name: str) -> None:
        """A job was disabled or enabled: disabled, it no longer fires and its tasks are killed;
        enabled, it fires from now on (no backlog) and its waiting runs launch."""
        async with self._lock:
            await self.config_events.job_disabled_changed(job_name)
            await self.executors.step()

    async def app_disabled_changed(self, app_name: str) -> None:
        """An app was disabled (its jobs stop firing, their tasks are killed, their waiting runs
        were dropped) or enabled (they fire from now on)."""
        async with self._lock:
            await self.config_events.app_disabled_changed(app_name)

    async def app_removed(self, app_name: str, job_names: list[str]) -> None:
        """An app was deleted with its jobs: kill their tasks and shut the app's executors down
        on every agent."""
        async with self._lock:
            await self.config_events.app_removed(app_name, job_names)
            await self.executors.retire_app(app_name)

    async def job_removed(self, job_name: str) -> None:
        """A job was deregistered: the registry already dropped its nodes; kill its tasks."""
        async with self._lock:
            await self.config_events.job_removed(job_name)
            self.metering.job_removed(job_name)

    async def job_triggered(self, job_name: str) -> None:
        """The API queued a run in ZooKeeper: mirror it and launch."""
        async with self._lock:
            await self.config_events.job_triggered(job_name)

    async def subscribed(self, mesos: MesosCalls, framework_id: str) -> None:
        async with self._lock:
            self._state.mesos = MeteredMesosCalls(mesos)
            self._state.framework_id = framework_id
            self.offer_policy.subscribed()
        self._state.wake.set()

    async def disconnected(self) -> None:
        async with self._lock:
            self._state.offers.take_all()  # void once the subscription is gone

    async def offers_received(self, offers: list[dict[str, Any]]) -> None:
        async with self._lock:
            with collector_paused():
                received = self.clock.monotonic()
                parsed = [Offer.from_json(offer, received) for offer in offers]
                self.tracing.offers_seen(offers)
                self._state.offers.add(parsed)
                self.diagnosis.offered(parsed)
                await self.executors.offered(parsed)
                await self.launcher.launch()
                await self.diagnosis.step(list(self._state.offers))
                await self.offer_policy.manage()

    async def offer_rescinded(self, offer_id: str) -> None:
        async with self._lock:
            self._state.offers.rescind(offer_id)

    def tasks_to_reconcile(self) -> list[tuple[str, str | None]]:
        return self._state.tasks_to_reconcile()

    async def tasks_unanswered(self, task_ids: list[str]) -> None:
        """Explicit reconciliation, resent, got no answer for these tasks: they are lost."""
        async with self._lock:
            if await self.task_updates.unanswered(task_ids):
                await self.launcher.launch()
                await self.offer_policy.manage()

    def _decided(self, task: TrackedTask, state: str, reason: str, message: str) -> None:
        self.tracing.decided(task.task_id, state, reason, message)
        self.metering.status(state, reason)

    def executor_message(self, agent_id: str, executor_id: str, data: bytes) -> bool:
        """An executor's MESSAGE; returns whether it was an execution report."""
        return self.tracing.message(agent_id, executor_id, data)

    async def status_update(self, status: dict[str, Any]) -> None:
        """Record a task status update; returns once ZooKeeper holds the consequence."""
        update = StatusUpdate.from_json(status)
        if update is None:
            return
        async with self._lock:
            # Traced under the lock: a launch's TASK_STAGING (traced once its ACCEPT is settled,
            # under the lock) comes before the task's updates.
            self.tracing.status(update, status)
            self.metering.status(update.state, update.reason)
            executor = self.executors.observe(update.task_id, update.text, status)
            if await self.task_updates.handle(update):
                await self.launcher.launch()
                await self.offer_policy.manage()
            await self.executors.updated(update.task_id, executor)
