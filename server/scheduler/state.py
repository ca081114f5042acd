"""The scheduler core's memory, shared by its parts: a mirror of the registry (configuration,
disabled flags, ready and failover queues, running tasks), the cron timers, the offers on hand and
the Mesos session. It does no IO; every change is made under the core's lock.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from server.base.clock import Clock
from server.base.cron import CronExpression
from server.domain.app import AppConfig
from server.domain.job import JobConfig, JobExecutionType
from server.domain.task import ShardRef, TaskId
from server.registry.failover import FailoverEntry
from server.registry.jobs import JobStamp
from server.registry.state_transactions import ParentNodes
from server.scheduler.offers import OfferPool
from server.scheduler.settings import CoreSettings
from server.scheduler.taskinfo import ExecutorVersions
from server.scheduler.timers import CronTimers

ReadyEntry = tuple[int, int | None]
"""A job's ready count as memory holds it: (runs waiting, its node's data version; None: no node
yet). A plain tuple: one is made per fire."""

TRANSACTION_ATTEMPTS = 5
"""How often a change is tried when its transaction loses a race (its queues re-read in between)."""


class MesosCalls(Protocol):
    """The calls the core makes (``MesosSchedulerClient`` implements them; a seam for tests)."""

    async def accept(
        self,
        offer_ids: Sequence[str],
        operations: Sequence[dict[str, Any]],
        refuse_seconds: float | None = None,
    ) -> None: ...
    async def decline(self, offer_ids: Sequence[str], refuse_seconds: float | None = None) -> None: ...
    async def revive(self, roles: Sequence[str] | None = None) -> None: ...
    async def suppress(self, roles: Sequence[str] | None = None) -> None: ...
    async def kill(self, task_id: str, agent_id: str | None = None) -> None: ...
    async def shutdown(self, executor_id: str, agent_id: str) -> None: ...


@dataclass(slots=True)
class TrackedTask:
    """A task the core follows: recorded as running (or being killed) until its end is recorded."""

    task_id: TaskId
    started: bool = False
    killing: bool = False
    unknown_answers: int = 0
    #: The executor it runs under, once known (from its launch, or from a status update).
    executor_id: str | None = None


@dataclass(frozen=True, slots=True)
class Touched:
    """The jobs and apps the core changed while a resync was reading."""

    jobs: set[str] = field(default_factory=set)
    apps: set[str] = field(default_factory=set)


class SchedulerState:
    def __init__(self, settings: CoreSettings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self.jobs: dict[str, JobConfig] = {}
        self.apps: dict[str, AppConfig] = {}
        #: The executor version of each app (what its executors' ids carry).
        self.executor_versions = ExecutorVersions(settings)
        self.disabled_jobs: set[str] = set()
        self.disabled_apps: set[str] = set()
        self.timers = self.new_timers()
        self.ready: dict[str, ReadyEntry] = {}
        #: shard -> its failover node's text, a ``FailoverEntry`` (insertion = queue order)
        self.failover: dict[ShardRef, str] = {}
        #: Failed re-runs in a row of the shards running now as FAILOVER (their backoff goes on).
        self.failover_attempts: dict[ShardRef, int] = {}
        self.running: dict[ShardRef, TrackedTask] = {}
        self.orphans: dict[str, TrackedTask] = {}  # tasks being killed whose job is gone
        self.offers = OfferPool()
        self.mesos: MesosCalls | None = None
        self.framework_id: str | None = None
        #: Which node and version each job's configuration was read from (launches check it; a
        #: resync decodes only nodes modified since), and the app nodes' modification zxids.
        self.job_stamps: dict[str, JobStamp] = {}
        self.app_zxids: dict[str, int] = {}
        self.killing_jobs: set[str] = set()  # jobs whose tasks are all being killed
        self.unrecordable: set[str] = set()  # jobs whose READY run exceeds one transaction
        #: Set when the loop's next step may have something to do (or its wait was computed from
        #: a schedule that changed).
        self.wake = asyncio.Event()
        self._touched: Touched | None = None
        self._crons: dict[str, CronExpression] = {}  # parsed expressions, by text

    def new_timers(self) -> CronTimers:
        """Empty timers with the settings' catch-up window."""
        return CronTimers(
            catch_up_seconds=self.settings.catch_up_seconds, catch_up_runs=self.settings.catch_up_runs
        )

    def now(self) -> datetime:
        """Wall time in the scheduler's zone."""
        return self.clock.now(self.settings.zone)

    @contextlib.contextmanager
    def noting_changes(self) -> Iterator[Touched]:
        """While the block runs, the jobs and apps changed in memory are noted."""
        touched = self._touched = Touched()
        try:
            yield touched
        finally:
            self._touched = None

    def touch(self, job_name: str) -> None:
        """Memory changed ``job_name``'s configuration or queues: a resync reading meanwhile keeps it."""
        if self._touched is not None:
            self._touched.jobs.add(job_name)

    def touch_app(self, app_name: str) -> None:
        if self._touched is not None:
            self._touched.apps.add(app_name)

    def enabled(self, job: JobConfig) -> bool:
        return job.job_name not in self.disabled_jobs and job.app_name not in self.disabled_apps

    def schedule(self, job: JobConfig, now: datetime, *, since: datetime | None = None) -> None:
        """Set the job's cron timer (a TRANSIENT job with a cron, enabled), or remove it. With
        ``since``, its fire times after ``since`` are due at once (missed: see ``timers``)."""
        if job.cron and job.job_execution_type is JobExecutionType.TRANSIENT and self.enabled(job):
            cron = self._crons.get(job.cron)
            if cron is None:
                cron = self._crons[job.cron] = CronExpression.parse(job.cron)
            self.timers.set(job.job_name, cron, now, since=since)
        else:
            self.timers.remove(job.job_name)
        self.wake.set()  # the loop's wait was computed from the old schedule

    def forget_job(self, job_name: str) -> None:
        """Drop the job's configuration and timer (its node is gone)."""
        self.jobs.pop(job_name, None)
        self.job_stamps.pop(job_name, None)
        self.timers.remove(job_name)

    def end_runs(self, job_name: str) -> list[TrackedTask]:
        """Drop what memory holds of the job's runs (the job is gone, or its name was registered
        again): queued runs, failover shards and attempts, the kill in progress, the unrecordable
        mark. Its tracked tasks become orphans, followed until they end; returns them, to be
        killed. The configuration and timer stay (``forget_job`` drops those)."""
        self.unrecordable.discard(job_name)
        self.killing_jobs.discard(job_name)
        self.ready.pop(job_name, None)
        for shard in [s for s in self.failover if s.job_name == job_name]:
            del self.failover[shard]
        for shard in [s for s in self.failover_attempts if s.job_name == job_name]:
            del self.failover_attempts[shard]
        orphans: list[TrackedTask] = []
        for shard in [s for s in self.running if s.job_name == job_name]:
            task = self.running.pop(shard)
            task.killing = True
            self.orphans[str(task.task_id)] = task
            orphans.append(task)
        return orphans

    def launchable(self, job_name: str) -> bool:
        """The job is known, enabled and its app known (a disabled job's runs wait, asking nothing),
        and its run can be recorded."""
        job = self.jobs.get(job_name)
        return (
            job is not None
            and self.enabled(job)
            and job.app_name in self.apps
            and job_name not in self.unrecordable
        )

    def epoch(self) -> float:
        """Wall time as epoch seconds (what failover retry times are kept in)."""
        return self.clock.now(UTC).timestamp()

    def due_failover(self) -> list[ShardRef]:
        """The failover shards that may launch now: job launchable, retry time come."""
        now = self.epoch()
        decode = FailoverEntry.decode
        return [
            shard
            for shard, text in self.failover.items()
            if self.launchable(shard.job_name) and decode(text).retry_at <= now
        ]

    def next_failover_retry(self) -> float | None:
        """Seconds until the earliest failover shard waiting out its backoff may launch."""
        now = self.epoch()
        waits = [
            retry_at - now
            for shard, text in self.failover.items()
            if (retry_at := FailoverEntry.decode(text).retry_at) > now and self.launchable(shard.job_name)
        ]
        return min(waits) if waits else None

    def waiting_work(self) -> bool:
        """Whether something could launch if offers were there (what matching would consider)."""
        if self.due_failover():
            return True
        busy = {shard.job_name for shard in self.running}
        return any(
            count > 0 and name not in busy and self.launchable(name)
            for name, (count, _) in self.ready.items()
        )

    def idle_daemons(self, jobs: Iterable[JobConfig]) -> list[str]:
        """The DAEMON jobs among ``jobs`` that should run and have nothing running, waiting or
        failing over (running and failover scanned once)."""
        daemons = [
            job for job in jobs if job.is_daemon and self.enabled(job) and job.job_name not in self.ready
        ]
        if not daemons:
            return []
        busy = {shard.job_name for shard in self.running}
        busy.update(shard.job_name for shard in self.failover)
        return [job.job_name for job in daemons if job.job_name not in busy]

    def fire_within(self, seconds: float) -> bool:
        deadline = self.timers.next_deadline()
        return deadline is not None and deadline - self.now() <= timedelta(seconds=seconds)

    def parents(self, job_names: Collection[str]) -> ParentNodes:
        """The parent nodes of ``job_names`` as memory has them."""
        return ParentNodes.of(job_names, self.running, self.failover)

    def tasks_to_reconcile(self) -> list[tuple[str, str | None]]:
        tasks: list[tuple[str, str | None]] = [
            (str(t.task_id), t.task_id.agent_id) for t in self.running.values()
        ]
        tasks += [(str(t.task_id), t.task_id.agent_id) for t in self.orphans.values()]
        return tasks
