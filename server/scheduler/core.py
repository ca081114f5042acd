"""The scheduler core: cron fires and triggers → ready queue → offers → launches; status updates →
running / failover state. One instance runs, on the leading scheduler, inside one asyncio loop.

What survives what:
- Every queue and every running task is in ZooKeeper (``/state/ready``, ``/state/failover``,
  ``/state/running``); memory only mirrors it. A launch is recorded (running nodes created, the run
  taken off its queue, all in one transaction) *before* the ACCEPT is sent, so a scheduler that
  dies in between leaves tasks to reconcile, never a run that is forgotten or launched twice.
- A status update is recorded before it is acknowledged (the Mesos client acknowledges after
  ``on_update`` returns), so a crash in between makes Mesos resend it.
- A cron fire is held until ZooKeeper has recorded it: as a ready count, or, when its job launches
  at once on the offers on hand, by that launch's transaction (the run it would have queued is
  the run launched, so no ready-queue write comes first). A step that fails (ZooKeeper away) is
  retried, and the fires not yet recorded are recorded then, once.
- Changes are split into transactions small enough for ZooKeeper (``transaction_budget``, well
  under its 1 MiB request limit). A transaction holds whole units: a READY run with all its
  shards, one FAILOVER shard, one job's ready count. Each commits on its own: one that fails
  (a race, ZooKeeper away) leaves its units queued, and those already committed stand, so nothing
  is lost or done twice (the transactions of a step are sent together; one whose operations
  assumed an earlier one that failed fails in turn). An agent's ACCEPT is sent once every
  transaction holding a task for it has committed, with the tasks recorded; the ACCEPTs of a
  step go concurrently. A READY run too large for any one transaction cannot be recorded
  atomically, so it is never launched: it stays queued, reported as an error.
- ``load`` and ``resync`` read ZooKeeper concurrently. ``resync`` runs beside the loop's steps and
  reads without holding the lock (cron keeps firing meanwhile), decodes only the job and app
  nodes modified since its last read, then applies the differences under the lock, leaving alone
  the jobs this core changed while it read (its own view of them is the newer one).

Rules:
- FINISHED ends the shard's task. FAILED / ERROR / LOST / DROPPED / GONE / GONE_BY_OPERATOR queue
  the shard for failover when the job has ``failover`` on or is DAEMON, and always when the task
  never started (its offer was invalid, it was dropped before running, or the master refused the
  ACCEPT or it could not be sent): a run that never ran is not lost. KILLED of a DAEMON task brings the job back to the ready queue (unless it was
  disabled or deregistered). UNREACHABLE / UNKNOWN keep the task, which the Mesos client's
  reconciliation (after every subscribe, then periodically) asks about again; after
  ``unknown_limit`` such answers in a row it is treated as LOST.
- misfire on: fires while the job runs accumulate in the ready queue; off: at most one waits.
- Offers: used at once when work waits (the offers of one agent together, in one ACCEPT); kept
  (at most ``offer_hold_seconds``) only while a cron fire is due within that window; otherwise
  declined with a long filter, and the framework SUPPRESSes offers. Work arriving (fire, trigger,
  failover), or a fire coming within ``revive_lookahead_seconds``, REVIVEs them: at once when they
  are suppressed or were declined with the long filter, else at most every
  ``revive_retry_seconds`` while none come. Runs of a disabled job (or of an app not known) wait
  in their queues without asking for offers.
- A task of a removed job, or one being killed, that still reports itself active is killed again;
  so is any active task the core does not track (say, a second task of a shard).
- Garbage collection stays out of the way of launches: no cyclic collection runs during a step
  (``tick``, offers arriving), and after ``load`` of at least ``freeze_heap_min_jobs`` jobs the
  heap is collected and frozen (``gc.freeze``), so the long-lived configuration is not walked by
  every later full collection.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, Protocol

from kazoo.exceptions import NoNodeError

from server.base.clock import Clock
from server.base.cron import CronExpression
from server.domain.app import AppConfig
from server.domain.errors import ElasticJobError
from server.domain.job import JobConfig, JobExecutionType
from server.domain.task import ExecutionType, ShardRef, TaskId, TaskIdError
from server.mesos.errors import CallRejected, MesosError, SubscriptionLost
from server.mesos.states import ACTIVE_STATES, FAILURE_STATES, STARTED_STATES, UNCERTAIN_STATES
from server.registry.apps import AppRepository, StoredApps, UnreadableApp
from server.registry.disabled import DisabledFlags
from server.registry.failover import FailoverQueue
from server.registry.jobs import JobRepository, StoredJobs, UnreadableJob
from server.registry.ready import ReadyQueue
from server.registry.running import RunningTasks
from server.registry.zookeeper import TRANSACTION_LIMIT, TransactionOps, ZooKeeper
from server.scheduler.matching import MatchResult, Placement, match
from server.scheduler.offers import Offer, OfferPool
from server.scheduler.taskinfo import launch_operations
from server.scheduler.timers import CronTimers, Fire

log = logging.getLogger("server.scheduler")

NEVER_STARTED_REASONS = frozenset({"REASON_INVALID_OFFERS"})
_TRANSACTION_ATTEMPTS = 5


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


@dataclass(frozen=True, kw_only=True, slots=True)
class CoreSettings:
    executor_command: str
    #: Fetched by the agents with every executor (the executor zipapp), when set.
    executor_uri: str | None = None
    #: The zone cron expressions are read in.
    zone: tzinfo = UTC
    executor_environment: dict[str, str] = field(default_factory=dict)
    offer_hold_seconds: float = 10.0
    revive_lookahead_seconds: float = 2.0
    decline_refuse_seconds: float = 3600.0
    accept_refuse_seconds: float = 1.0
    revive_retry_seconds: float = 5.0
    unknown_limit: int = 3
    resync_seconds: float = 30.0
    freeze_heap_min_jobs: int = 500


@dataclass(slots=True)
class _Task:
    task_id: TaskId
    started: bool = False
    killing: bool = False
    unknown_answers: int = 0


@dataclass(slots=True)
class _Parents:
    """What a transaction assumes lies under ``/state/running/{job}`` and ``/state/failover/{job}``
    for the jobs it touches: job -> child names; a job missing from a map has no node there.

    Taken from memory first. When the transaction fails it is read from ZooKeeper instead, which
    also copes with parents another scheduler left behind (ElasticJob-Cloud 3.0 removes a job's
    last child and then the empty parent in two steps)."""

    running: dict[str, set[str]] = field(default_factory=dict)
    failover: dict[str, set[str]] = field(default_factory=dict)

    def copy(self) -> _Parents:
        return _Parents(
            {job: set(children) for job, children in self.running.items()},
            {job: set(children) for job, children in self.failover.items()},
        )


@dataclass(slots=True)
class _LaunchUnit:
    """What one transaction records whole: a READY run with all its shards (``shard`` None) or
    one FAILOVER shard. ``ready_entry``: a READY run's ``(count, node version)`` before the launch
    (version None: no node yet, the run comes from a fire not written); ``ops``: its operations."""

    job_name: str
    placements: list[Placement]
    shard: ShardRef | None = None
    ready_entry: tuple[int, int | None] = (0, None)
    ops: TransactionOps | None = None


@dataclass(frozen=True, slots=True)
class _Accept:
    """An ACCEPT being sent: the agent's offers and the recorded tasks it launches."""

    offer_ids: tuple[str, ...]
    offer: Offer
    placements: list[Placement]
    sending: asyncio.Task[None]


@dataclass(frozen=True, slots=True)
class _ReadyChunk:
    """One transaction of ready counts and the jobs it holds."""

    ops: TransactionOps
    names: set[str]


@dataclass(frozen=True, slots=True)
class _Stored:
    """One read of the configuration and the queues (``load``, ``resync``)."""

    jobs: StoredJobs
    apps: StoredApps
    disabled_jobs: set[str]
    disabled_apps: set[str]
    ready: dict[str, tuple[int, int]]
    failover: dict[ShardRef, str]


class SchedulerCore:
    """Owns the in-memory mirror of the scheduler state; every change goes through ``_lock``."""

    def __init__(
        self,
        zookeeper: ZooKeeper,
        settings: CoreSettings,
        *,
        clock: Clock,
        new_unique: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self._zk = zookeeper
        self._paths = zookeeper.paths
        self.settings = settings
        self.clock = clock
        self._new_unique = new_unique
        self._jobs_repo = JobRepository(zookeeper)
        self._apps_repo = AppRepository(zookeeper)
        self._disabled_repo = DisabledFlags(zookeeper)
        self._ready_repo = ReadyQueue(zookeeper)
        self._running_repo = RunningTasks(zookeeper)
        self._failover_repo = FailoverQueue(zookeeper)

        self.jobs: dict[str, JobConfig] = {}
        self.apps: dict[str, AppConfig] = {}
        self.disabled_jobs: set[str] = set()
        self.disabled_apps: set[str] = set()
        self.timers = CronTimers()
        self.ready: dict[str, tuple[int, int]] = {}  # job -> (count, node version)
        self.failover: dict[ShardRef, str] = {}  # shard -> failed task id (insertion = queue order)
        self.running: dict[ShardRef, _Task] = {}
        self.orphans: dict[str, _Task] = {}  # tasks being killed whose job is gone
        self.offers = OfferPool()

        self.mesos: MesosCalls | None = None
        self.framework_id: str | None = None
        self.suppressed = False
        self._last_revive = float("-inf")
        self._long_filters = False  # resources declined with decline_refuse_seconds since REVIVE
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._killing_jobs: set[str] = set()
        self._unrecorded_fires: list[Fire] = []
        self.launch_listeners: list[Callable[[list[Placement]], None]] = []
        # Modification zxids of the job and app nodes memory holds (a resync decodes only others).
        self._job_versions: dict[str, int] = {}
        self._app_versions: dict[str, int] = {}
        # While a resync reads: the jobs and apps this core changed since it began (None otherwise).
        self._touched_jobs: set[str] | None = None
        self._touched_apps: set[str] | None = None
        self._resync_lock = asyncio.Lock()
        self._unrecordable: set[str] = set()  # jobs whose READY run exceeds one transaction
        self._crons: dict[str, CronExpression] = {}  # parsed expressions, by text

    def now(self) -> datetime:
        """Wall time in the scheduler's zone."""
        return self.clock.now(self.settings.zone)

    # ------------------------------------------------------------------ loading and the main loop
    async def load(self) -> None:
        """Read configuration and state from ZooKeeper (at start and when becoming leader)."""
        async with self._lock:
            stored = await self._read_stored()
            self._merge_config(stored, touched_jobs=set(), touched_apps=set())
            self.ready = dict(stored.ready)
            self.failover = dict(sorted(stored.failover.items()))
            self.running = {
                shard: _Task(task_id) for shard, task_id in (await self._running_repo.load()).items()
            }
            now = self.now()
            self.timers = CronTimers()
            for job in self.jobs.values():
                self._schedule(job, now)
            # A DAEMON job with nothing running, waiting or failing over must be (re)launched.
            idle_daemons = self._idle_daemons(self.jobs.values())
            if idle_daemons:
                await self._add_ready(idle_daemons)
            self._freeze_heap()
        log.info(
            "loaded %d jobs, %d apps, %d ready, %d failover, %d running",
            len(self.jobs),
            len(self.apps),
            len(self.ready),
            len(self.failover),
            len(self.running),
        )

    async def _read_stored(self) -> _Stored:
        """Read jobs and apps (decoding only nodes not at the versions memory holds), the disabled
        flags and the ready and failover queues, all concurrently."""
        jobs, apps, disabled_jobs, disabled_apps, ready, failover = await asyncio.gather(
            self._jobs_repo.aread_all(dict(self._job_versions)),
            self._apps_repo.aread_all(dict(self._app_versions)),
            self._zk.achildren(self._paths.disabled_jobs),
            self._zk.achildren(self._paths.disabled_apps),
            self._ready_repo.aload(),
            self._failover_repo.load(),
        )
        return _Stored(jobs, apps, set(disabled_jobs), set(disabled_apps), ready, failover)

    def _merge_config(self, stored: _Stored, *, touched_jobs: set[str], touched_apps: set[str]) -> set[str]:
        """Take jobs, apps and disabled flags from ``stored``, except the ``touched`` ones, which
        memory changed after the read began. Returns the jobs present (a job whose node cannot be
        read keeps the configuration we had for it)."""
        jobs: dict[str, JobConfig] = {}
        job_versions: dict[str, int] = {}
        for name, version in stored.jobs.versions.items():
            if name in touched_jobs:
                continue
            job = stored.jobs.jobs.get(name)
            if job is None:
                reason = stored.jobs.unreadable.get(name)
                if reason is not None:
                    log.warning("job %s is unreadable and will not be scheduled: %s", name, reason)
                job = self.jobs.get(name)
                if job is None:
                    continue
                if reason is not None:
                    jobs[name] = job  # its version is not recorded: the node is read again next time
                    continue
            jobs[name] = job
            job_versions[name] = version
        present = set(stored.jobs.versions) - touched_jobs
        for name in touched_jobs:
            if name in self.jobs:
                jobs[name] = self.jobs[name]
                present.add(name)
                if name in self._job_versions:
                    job_versions[name] = self._job_versions[name]

        apps: dict[str, AppConfig] = {}
        app_versions: dict[str, int] = {}
        for name, version in stored.apps.versions.items():
            if name in touched_apps:
                continue
            app = stored.apps.apps.get(name)
            if app is None:
                reason = stored.apps.unreadable.get(name)
                if reason is not None:
                    log.warning("app %s is unreadable: %s", name, reason)
                    continue
                app = self.apps.get(name)
                if app is None:
                    continue
            apps[name] = app
            app_versions[name] = version
        for name in touched_apps:
            if name in self.apps:
                apps[name] = self.apps[name]
                if name in self._app_versions:
                    app_versions[name] = self._app_versions[name]

        self.jobs, self._job_versions = jobs, job_versions
        self.apps, self._app_versions = apps, app_versions
        self.disabled_jobs = {name for name in stored.disabled_jobs if name not in touched_jobs} | {
            name for name in self.disabled_jobs if name in touched_jobs
        }
        self.disabled_apps = set(stored.disabled_apps)
        return present

    async def _read_job(self, name: str) -> JobConfig | None:
        """Read one job for memory to hold (its node's version is noted as the one memory has);
        None when absent or unreadable."""
        try:
            stored = await self._jobs_repo.aget(name)
        except UnreadableJob as exc:
            log.warning("job %s is unreadable and will not be scheduled: %s", name, exc)
            return None
        if stored is None:
            return None
        job, version = stored
        self._job_versions[name] = version
        return job

    async def _read_app(self, name: str) -> AppConfig | None:
        try:
            stored = await self._apps_repo.aget(name)
        except UnreadableApp as exc:
            log.warning("app %s is unreadable: %s", name, exc)
            return None
        if stored is None:
            return None
        app, version = stored
        self._app_versions[name] = version
        return app

    def _touch(self, job_name: str) -> None:
        """Memory changed ``job_name``'s configuration or queues: a resync reading meanwhile keeps it."""
        if self._touched_jobs is not None:
            self._touched_jobs.add(job_name)

    def _touch_app(self, app_name: str) -> None:
        if self._touched_apps is not None:
            self._touched_apps.add(app_name)

    def _freeze_heap(self) -> None:
        """Collect, then move every object alive (the loaded state, the modules) to the collector's
        permanent generation, so full collections no longer walk it. Objects frozen by an earlier
        load are unfrozen first, so a replaced core's state is collected."""
        if len(self.jobs) < self.settings.freeze_heap_min_jobs:
            return
        started = time.monotonic()
        gc.unfreeze()
        gc.collect()
        gc.freeze()
        log.info(
            "froze %d objects after loading (%.0f ms)",
            gc.get_freeze_count(),
            (time.monotonic() - started) * 1000,
        )

    async def run(self) -> None:
        """Fire cron jobs, launch and manage offers until ``stop()``. The periodic resync runs
        beside the steps, so cron keeps firing while it reads ZooKeeper."""
        last_resync = self.clock.monotonic()
        resync: asyncio.Task[None] | None = None
        try:
            while not self._stopping.is_set():
                self._wake.clear()  # before the step: a wake-up during the step is not lost
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
                    await asyncio.wait_for(self._wake.wait(), timeout)
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
        self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    async def tick(self) -> None:
        """One step: record due fires, launch what fits, tidy offers."""
        async with self._lock:
            with _collector_paused():
                # Fires stay here until ZooKeeper holds them: a step that fails loses none.
                self._unrecorded_fires += self.timers.due(self.now())
                if self._unrecorded_fires:
                    await self._record_fires(list(self._unrecorded_fires))
                await self._launch()
                await self._manage_offers()

    def _seconds_until_next_step(self) -> float:
        now = self.now()
        candidates = [self.settings.resync_seconds]
        deadline = self.timers.next_deadline()
        if deadline is not None:
            until_fire = (deadline - now).total_seconds()
            candidates.append(until_fire)
            if self.suppressed:
                candidates.append(until_fire - self.settings.revive_lookahead_seconds)
        if len(self.offers):
            oldest = min(offer.received_at for offer in self.offers)
            candidates.append(oldest + self.settings.offer_hold_seconds - self.clock.monotonic())
        if self._waiting_work() and not len(self.offers):
            candidates.append(self.settings.revive_retry_seconds)
        return max(0.0, min(candidates))

    async def resync(self) -> None:
        """Re-read configuration and queues: changes made through another server process's API
        (whose events do not reach this core) take effect as they would have here: a job gone
        has its tasks killed; a job changed or disabled is rescheduled and its tasks killed; a job
        new or enabled is scheduled (and a DAEMON one launched). Unchanged jobs are left alone.

        ZooKeeper is read without holding the lock; what this core changes meanwhile (a launch, a
        fire, an event) is newer than the read, so those jobs keep memory's view."""
        async with self._resync_lock:
            touched_jobs: set[str] = set()
            touched_apps: set[str] = set()
            self._touched_jobs, self._touched_apps = touched_jobs, touched_apps
            try:
                stored = await self._read_stored()
                async with self._lock:
                    await self._apply_resync(stored, touched_jobs, touched_apps)
            finally:
                self._touched_jobs = self._touched_apps = None

    async def _apply_resync(self, stored: _Stored, touched_jobs: set[str], touched_apps: set[str]) -> None:
        before = dict(self.jobs)
        was_enabled = {name for name, job in before.items() if self._enabled(job)}
        present = self._merge_config(stored, touched_jobs=touched_jobs, touched_apps=touched_apps)
        ready = {name: entry for name, entry in stored.ready.items() if name not in touched_jobs}
        ready.update((name, entry) for name, entry in self.ready.items() if name in touched_jobs)
        self.ready = ready
        failover = {s: t for s, t in stored.failover.items() if s.job_name not in touched_jobs}
        failover.update((s, t) for s, t in self.failover.items() if s.job_name in touched_jobs)
        self.failover = dict(sorted(failover.items()))
        now = self.now()
        for name in before.keys() - present:
            await self._drop_job(name)
        for name, job in list(self.jobs.items()):
            previous = before.get(name)
            changed = previous is not None and previous is not job and previous != job
            enabled = self._enabled(job)
            if changed:
                self._unrecordable.discard(name)
            if previous is None or changed or (name in was_enabled) != enabled:
                self._schedule(job, now)
            if name in was_enabled and (changed or not enabled):
                await self._kill_job_tasks(name)
        idle_daemons = self._idle_daemons(self.jobs.values())
        if idle_daemons:
            await self._add_ready(idle_daemons)
        await self._launch()
        await self._manage_offers()

    def _schedule(self, job: JobConfig, now: datetime) -> None:
        if job.cron and job.job_execution_type is JobExecutionType.TRANSIENT and self._enabled(job):
            cron = self._crons.get(job.cron)
            if cron is None:
                cron = self._crons[job.cron] = CronExpression.parse(job.cron)
            self.timers.set(job.job_name, cron, now)
        else:
            self.timers.remove(job.job_name)
        self._wake.set()  # the loop's wait was computed from the old schedule

    def _enabled(self, job: JobConfig) -> bool:
        return job.job_name not in self.disabled_jobs and job.app_name not in self.disabled_apps

    # ------------------------------------------------------------------ configuration events
    async def job_changed(self, job_name: str, *, kill_running: bool) -> None:
        """A job was registered or updated (or its disabled flag changed): reload and reschedule.
        With ``kill_running``, its running tasks are killed (update and disable do that)."""
        async with self._lock:
            self._touch(job_name)
            self._unrecordable.discard(job_name)
            job = await self._read_job(job_name)
            self.disabled_jobs.discard(job_name)
            if await self._zk.acall(lambda c: c.exists_async(self._paths.disabled_job(job_name))) is not None:
                self.disabled_jobs.add(job_name)
            if job is None:
                await self._drop_job(job_name)
                return
            app = await self._read_app(job.app_name)
            if app is not None:
                self._touch_app(app.app_name)
                self.apps[app.app_name] = app
            previous = self.jobs.get(job_name)
            self.jobs[job_name] = job
            self._schedule(job, self.now())
            if kill_running and previous is not None:
                await self._kill_job_tasks(job_name)
            if self._daemon_idle(job):
                await self._add_ready([job_name])
            await self._launch()
            await self._manage_offers()

    async def job_removed(self, job_name: str) -> None:
        """A job was deregistered: the registry already dropped its nodes; kill its tasks."""
        async with self._lock:
            await self._drop_job(job_name)

    async def _drop_job(self, job_name: str) -> None:
        self._touch(job_name)
        self.jobs.pop(job_name, None)
        self._job_versions.pop(job_name, None)
        self._unrecordable.discard(job_name)
        self.timers.remove(job_name)
        self.ready.pop(job_name, None)
        for shard in [s for s in self.failover if s.job_name == job_name]:
            del self.failover[shard]
        for shard in [s for s in self.running if s.job_name == job_name]:
            task = self.running.pop(shard)
            task.killing = True
            self.orphans[str(task.task_id)] = task
            await self._send_kill(task.task_id)
        self._killing_jobs.discard(job_name)

    def _daemon_idle(self, job: JobConfig) -> bool:
        """A DAEMON job that should run and has nothing running, waiting or failing over."""
        return bool(self._idle_daemons([job]))

    def _idle_daemons(self, jobs: Iterable[JobConfig]) -> list[str]:
        """The ``_daemon_idle`` ones among ``jobs`` (running and failover scanned once)."""
        daemons = [
            job for job in jobs if job.is_daemon and self._enabled(job) and job.job_name not in self.ready
        ]
        if not daemons:
            return []
        busy = {shard.job_name for shard in self.running}
        busy.update(shard.job_name for shard in self.failover)
        return [job.job_name for job in daemons if job.job_name not in busy]

    async def job_triggered(self, job_name: str) -> None:
        """The API queued a run in ZooKeeper: mirror it and launch."""
        async with self._lock:
            self._touch(job_name)
            entry = await self._ready_repo.aget(job_name)
            if entry is None:
                self.ready.pop(job_name, None)
            else:
                self.ready[job_name] = entry
            job = self.jobs.get(job_name)
            if job is None:  # registered through another server process
                job = await self._read_job(job_name)
                if job is not None:
                    self.jobs[job_name] = job
                    self._schedule(job, self.now())
            if job is not None and job.app_name not in self.apps:
                app = await self._read_app(job.app_name)
                if app is not None:
                    self._touch_app(app.app_name)
                    self.apps[app.app_name] = app
            await self._launch()
            await self._manage_offers()

    async def _kill_job_tasks(self, job_name: str) -> None:
        self._killing_jobs.add(job_name)
        for shard, task in self.running.items():
            if shard.job_name == job_name and not task.killing:
                task.killing = True
                await self._send_kill(task.task_id)
        if not any(shard.job_name == job_name for shard in self.running):
            self._killing_jobs.discard(job_name)

    async def _send_kill(self, task_id: TaskId) -> None:
        if self.mesos is None:
            return  # reconciliation after subscribing finds it; the kill is sent then
        try:
            await self.mesos.kill(str(task_id), task_id.agent_id)
            log.info("kill sent for task %s", task_id)
        except MesosError as exc:
            log.warning("kill of %s failed (%s); it will be retried after reconciliation", task_id, exc)

    # ------------------------------------------------------------------ fires and the ready queue
    async def _record_fires(self, fires: list[Fire]) -> None:
        """Queue a run of each fired job; each fire leaves ``_unrecorded_fires`` once ZooKeeper
        holds its run (or its job no longer takes fires), so a failure part-way records the rest
        on the next step and none twice."""
        fired: dict[str, None] = {}  # one run per job, in fire order
        for fire in fires:
            job = self.jobs.get(fire.job_name)
            if job is None or not self._enabled(job) or job.is_daemon:
                continue
            fired[fire.job_name] = None
        names = list(fired)
        settled = {fire.job_name for fire in fires} - fired.keys()
        try:
            if names:
                log.debug("cron fired %d job(s): %s", len(names), ", ".join(names[:10]))
                unlaunched = await self._launch_fired(names, settled.update)
                if unlaunched:
                    await self._add_ready(unlaunched, recorded=settled.update)
        finally:
            self._unrecorded_fires = [f for f in self._unrecorded_fires if f.job_name not in settled]

    async def _launch_fired(self, names: list[str], recorded: Callable[[Iterable[str]], None]) -> list[str]:
        """Launch fired jobs that fit the offers on hand straight away: the launch transaction
        records the run (running nodes; the ready count as it stands after the fire and the
        launch), so the fire needs no transaction of its own. Returns the jobs whose fire is still
        to be written."""
        if self.mesos is None or self.framework_id is None or not len(self.offers):
            return names
        fired: dict[str, tuple[int, int | None]] = {}
        for name in names:
            job = self.jobs[name]
            count, version = self.ready.get(name, (0, None))  # type: ignore[arg-type]
            wanted = count + 1 if job.misfire else max(count, 1)
            if wanted != count:
                fired[name] = (wanted, version)
        if not fired:
            return names
        result = self._match(fired)
        if not result.placements:
            return names
        launched: set[str] = set()

        def on_launched(jobs: list[str]) -> None:
            done = [name for name in jobs if name in fired]
            launched.update(done)
            recorded(done)

        lost = await self._record_and_accept(result, fired, on_launched)
        if lost:
            await self._reread_after_race(lost)
        return [name for name in names if name not in launched]

    async def _add_ready(
        self, names: list[str], recorded: Callable[[Iterable[str]], None] | None = None
    ) -> None:
        """Queue one run of each job, in transactions within the budget. A transaction that fails
        (a concurrent change) is retried for its jobs only; ``recorded`` hears each job whose run
        ZooKeeper holds, or that needs none (one already waits and misfire is off; it is gone)."""
        pending = list(names)
        for _ in range(_TRANSACTION_ATTEMPTS):
            changes: dict[str, tuple[int, int | None]] = {}
            for name in pending:
                job = self.jobs.get(name)
                if job is None:
                    continue  # removed meanwhile: nothing to queue
                count, version = self.ready.get(name, (0, None))  # type: ignore[arg-type]
                wanted = count + 1 if (job.misfire and not job.is_daemon) else max(count, 1)
                if wanted != count:
                    changes[name] = (wanted, version)
            if recorded is not None:
                recorded([name for name in pending if name not in changes])
            if not changes:
                return
            lost: list[str] = []
            for chunk in self._ready_chunks(changes):
                results = await self._zk.acommit(functools.partial(_replay, [chunk.ops]))
                chunk_names = [name for name in changes if name in chunk.names]
                if _failed(results):
                    lost += chunk_names
                    continue
                for name in chunk_names:
                    count, version = changes[name]
                    self._touch(name)
                    self.ready[name] = (count, 0 if version is None else version + 1)
                if recorded is not None:
                    recorded(chunk_names)
                self._need_offers()
            if not lost:
                return
            await self._reload_ready(lost)
            pending = lost
        log.warning("could not queue runs of %s: the ready queue kept changing", ", ".join(pending))

    def _ready_chunks(self, changes: dict[str, tuple[int, int | None]]) -> list[_ReadyChunk]:
        chunks: list[_ReadyChunk] = []
        for name, (count, version) in changes.items():
            if not chunks or chunks[-1].ops.size >= self._zk.transaction_budget:
                chunks.append(_ReadyChunk(self._zk.transaction_ops(), set()))
            self._ready_repo.set_ops(chunks[-1].ops, name, count, version)
            chunks[-1].names.add(name)
        return chunks

    async def _reload_ready(self, names: Iterable[str]) -> None:
        names = list(names)
        entries = await self._ready_repo.aget_many(names)
        for name in names:
            self._touch(name)
            entry = entries.get(name)
            if entry is None:
                self.ready.pop(name, None)
            else:
                self.ready[name] = entry

    # ------------------------------------------------------------------ launching
    def _waiting_work(self) -> bool:
        """Whether something could launch if offers were there (what ``_match`` would consider)."""
        if any(self._launchable(shard.job_name) for shard in self.failover):
            return True
        busy = {shard.job_name for shard in self.running}
        return any(
            count > 0 and name not in busy and self._launchable(name)
            for name, (count, _) in self.ready.items()
        )

    def _launchable(self, job_name: str) -> bool:
        """The job is known, enabled and its app known (a disabled job's runs wait, asking nothing),
        and its run can be recorded."""
        job = self.jobs.get(job_name)
        return (
            job is not None
            and self._enabled(job)
            and job.app_name in self.apps
            and job_name not in self._unrecordable
        )

    def _job_busy(self, job_name: str) -> bool:
        return any(shard.job_name == job_name for shard in self.running)

    async def _launch(self) -> None:
        """Match waiting work to the offers on hand, record the launches, then ACCEPT."""
        if (
            self.mesos is None
            or self.framework_id is None
            or not len(self.offers)
            or not self._waiting_work()
        ):
            return
        for _ in range(_TRANSACTION_ATTEMPTS):
            result = self._match()
            if not result.placements:
                return
            lost = await self._record_and_accept(result)
            if not lost:
                return
            # Their queues or parent nodes are not as memory says, or the job is gone: re-read.
            await self._reread_after_race(lost)

    def _match(self, fired: Mapping[str, tuple[int, int | None]] | None = None) -> MatchResult:
        """Match the queues (and ``fired``: jobs with a fire not yet written, and the ready entry it
        makes) to the offers on hand."""
        failover = [s for s in self.failover if self._launchable(s.job_name)]
        entries: dict[str, tuple[int, int | None]] = dict(self.ready)
        entries.update(fired or {})
        ready = [name for name, (count, _) in entries.items() if count > 0 and self._launchable(name)]
        busy = {shard.job_name for shard in self.running}
        return match(list(self.offers), failover, ready, self.jobs, self.apps, busy, self._new_unique)

    async def _record_and_accept(
        self,
        result: MatchResult,
        fired: Mapping[str, tuple[int, int | None]] | None = None,
        launched: Callable[[list[str]], None] | None = None,
    ) -> dict[str, _LaunchUnit]:
        """Record the placements in transactions within the budget, committed one after another,
        and ACCEPT each agent's offers with its recorded tasks as soon as no later transaction
        holds a task for that agent (the ACCEPTs go concurrently). ``fired``: ready entries of
        fires not written (their runs are recorded by their launch); ``launched`` hears the jobs
        whose READY run a transaction recorded. Returns the units of the jobs whose transaction
        lost a race, by job: their work stays queued."""
        entries: dict[str, tuple[int, int | None]] = dict(self.ready)
        entries.update(fired or {})
        chunks = self._launch_chunks(_launch_units(result, entries))
        last_chunk: dict[tuple[str, ...], int] = {}
        for index, chunk in enumerate(chunks):
            for unit in chunk:
                for placement in unit.placements:
                    last_chunk[placement.offer_ids] = index
        recorded: dict[tuple[str, ...], list[Placement]] = {}
        accepts: list[_Accept] = []
        lost: dict[str, _LaunchUnit] = {}
        failure: BaseException | None = None
        # All transactions go out at once (ZooKeeper applies them in order, each on its own); while
        # it works, the operations of the ACCEPTs the next one completes are built, and those
        # ACCEPTs go as soon as it has committed. A transaction whose operations assumed an earlier
        # one that failed (a job split over both) fails in turn, so none is applied wrongly.
        commits = [asyncio.ensure_future(self._commit_units(chunk)) for chunk in chunks]
        try:
            for index, (chunk, commit) in enumerate(zip(chunks, commits, strict=True)):
                completed = [ids for ids, at in last_chunk.items() if at == index]
                await asyncio.sleep(0)  # let the transactions be sent first
                prepared = (
                    await self._prepare_operations(chunk, recorded, completed) if failure is None else {}
                )
                try:
                    committed = await commit
                except Exception as exc:  # ZooKeeper away: the later transactions are still settled
                    failure = failure or exc
                    committed = False
                if committed:
                    self._apply_units(chunk)
                    if launched is not None:
                        launched([unit.job_name for unit in chunk if unit.shard is None])
                    for unit in chunk:
                        for placement in unit.placements:
                            recorded.setdefault(placement.offer_ids, []).append(placement)
                else:
                    lost.update((unit.job_name, unit) for unit in chunk)
                    prepared = {}
                for offer_ids in [ids for ids in recorded if last_chunk[ids] == index]:
                    placements = recorded.pop(offer_ids)
                    accepts.append(self._start_accept(offer_ids, placements, prepared.get(offer_ids)))
        finally:
            for commit in commits:  # only when cancelled: nothing waits for them any more
                commit.cancel()
            # Whatever was recorded is launched, even when a transaction raised.
            accepts += [self._start_accept(ids, placements) for ids, placements in recorded.items()]
            await self._settle_accepts(accepts)
        if failure is not None:
            raise failure
        return lost

    def _launch_chunks(self, units: list[_LaunchUnit]) -> list[list[_LaunchUnit]]:
        """Build each unit's operations (parent nodes as memory says, each unit seeing those
        before it) and group the units into transactions within the budget."""
        parents = self._parents_in_memory({unit.job_name for unit in units})
        chunks: list[list[_LaunchUnit]] = []
        size = 0
        for unit in units:
            ops = unit.ops = self._unit_ops(unit, parents)
            if ops.size > TRANSACTION_LIMIT:
                self._unrecordable.add(unit.job_name)
                log.error(
                    "the READY run of job %s (%d shards) needs %d bytes of ZooKeeper operations, more "
                    "than one transaction can hold (%d): it cannot be recorded atomically, so it is "
                    "not launched and stays queued; lower its shardingTotalCount",
                    unit.job_name,
                    len(unit.placements),
                    ops.size,
                    TRANSACTION_LIMIT,
                )
                continue
            if chunks and size + ops.size <= self._zk.transaction_budget:
                chunks[-1].append(unit)
                size += ops.size
            else:
                chunks.append([unit])
                size = ops.size
        return chunks

    def _unit_ops(self, unit: _LaunchUnit, parents: _Parents) -> TransactionOps:
        """Operations recording ``unit``: its running nodes, and its run taken off its queue."""
        ops = self._zk.transaction_ops()
        job_name = unit.job_name
        ops.check(self._paths.job(job_name), -1)  # not deregistered meanwhile
        running = parents.running.get(job_name)
        exists = running is not None
        if running is None:
            running = parents.running[job_name] = set()
        for placement in unit.placements:
            self._running_repo.create_ops(ops, placement.task_id, job_node_exists=exists)
            exists = True
            running.add(str(placement.task_id.shard))
        if unit.shard is None:
            count, version = unit.ready_entry
            self._ready_repo.set_ops(ops, job_name, count - 1, version)
        else:
            # The job's failover node goes with the last of its shards (several may launch at once).
            waiting = parents.failover.setdefault(job_name, set())
            waiting.discard(str(unit.shard))
            self._failover_repo.delete_ops(ops, unit.shard, last_of_job=not waiting)
        return ops

    async def _commit_units(self, units: list[_LaunchUnit]) -> bool:
        """Commit one transaction of units; when it fails and the parent nodes in ZooKeeper are not
        as memory says, once more with what is there. Returns whether it committed."""
        results = await self._zk.acommit(functools.partial(_replay, [u.ops for u in units if u.ops]))
        if not _failed(results):
            return True
        involved = {unit.job_name for unit in units}
        stored = await self._parents_in_zookeeper(involved)
        if stored != self._parents_in_memory(involved):
            parents = stored.copy()
            for unit in units:
                unit.ops = self._unit_ops(unit, parents)
            results = await self._zk.acommit(functools.partial(_replay, [u.ops for u in units if u.ops]))
            if not _failed(results):
                return True
        log.info(
            "launch transaction lost a race (%s) for %s; re-reading their queues",
            _first_error(results),
            ", ".join(sorted(involved)[:10]) + (" ..." if len(involved) > 10 else ""),
        )
        return False

    def _apply_units(self, units: list[_LaunchUnit]) -> None:
        for unit in units:
            job_name = unit.job_name
            self._touch(job_name)
            for placement in unit.placements:
                self.running[placement.task_id.shard] = _Task(placement.task_id)
            if unit.shard is None:
                count, version = unit.ready_entry
                if count - 1 > 0:
                    self.ready[job_name] = (count - 1, 0 if version is None else version + 1)
                else:
                    self.ready.pop(job_name, None)
            else:
                self.failover.pop(unit.shard, None)

    async def _reread_after_race(self, lost: dict[str, _LaunchUnit]) -> None:
        ready = [name for name, unit in lost.items() if unit.shard is None]
        if ready:
            await self._reload_ready(ready)
        failing = sorted(name for name, unit in lost.items() if unit.shard is not None)
        if failing:
            stored = await self._failover_repo.load_jobs(failing)
            kept = {s: t for s, t in self.failover.items() if s.job_name not in failing}
            self.failover = dict(sorted((kept | stored).items()))
            for name in failing:
                self._touch(name)
        names = list(lost)
        for name, gone in zip(names, await asyncio.gather(*map(self._job_gone, names)), strict=True):
            if gone:
                self._touch(name)
                self.jobs.pop(name, None)
                self._job_versions.pop(name, None)
                self.timers.remove(name)

    async def _job_gone(self, name: str) -> bool:
        """Whether the job's node is absent (or no longer holds a job)."""
        try:
            return await self._jobs_repo.aget(name) is None
        except UnreadableJob as exc:
            log.warning("job %s is unreadable and will not be scheduled: %s", name, exc)
            return True

    def _parents_in_memory(self, job_names: set[str]) -> _Parents:
        parents = _Parents()
        for shard in self.running:
            if shard.job_name in job_names:
                parents.running.setdefault(shard.job_name, set()).add(str(shard))
        for shard in self.failover:
            if shard.job_name in job_names:
                parents.failover.setdefault(shard.job_name, set()).add(str(shard))
        return parents

    async def _parents_in_zookeeper(self, job_names: set[str]) -> _Parents:
        names = sorted(job_names)
        running, failover = await asyncio.gather(
            self._zk.achildren_many([self._paths.running_job(name) for name in names]),
            self._zk.achildren_many([self._paths.failover_job(name) for name in names]),
        )
        parents = _Parents()
        for name, running_children, failover_children in zip(names, running, failover, strict=True):
            if running_children is not None:
                parents.running[name] = set(running_children)
            if failover_children is not None:
                parents.failover[name] = set(failover_children)
        return parents

    async def _prepare_operations(
        self,
        units: list[_LaunchUnit],
        recorded: Mapping[tuple[str, ...], list[Placement]],
        completed: list[tuple[str, ...]],
    ) -> dict[tuple[str, ...], list[dict[str, Any]]]:
        """The LAUNCH operations of the ACCEPTs of the agents in ``completed`` (those with no task
        in a later transaction) should ``units`` commit: their recorded tasks and the units'.
        Built one agent at a time, the loop getting a turn in between: ZooKeeper's client thread
        then gets the interpreter at once when the commit's answer comes, instead of waiting out
        a whole switch interval."""
        if self.framework_id is None:
            return {}
        placements: dict[tuple[str, ...], list[Placement]] = {
            ids: list(recorded.get(ids, ())) for ids in completed
        }
        for unit in units:
            for placement in unit.placements:
                if placement.offer_ids in placements:
                    placements[placement.offer_ids].append(placement)
        prepared: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for offer_ids, agent_placements in placements.items():
            offer = self.offers.get(offer_ids[0])
            if offer is None or not agent_placements:
                continue
            try:
                prepared[offer_ids] = launch_operations(
                    agent_placements,
                    offer,
                    self.framework_id,
                    self.settings.executor_command,
                    self.settings.executor_environment,
                    executor_uri=self.settings.executor_uri,
                )
            except Exception:  # built again when sent, and reported then
                log.exception("building the LAUNCH operations for offer(s) %s failed", ", ".join(offer_ids))
            await asyncio.sleep(0)
        return prepared

    def _start_accept(
        self,
        offer_ids: tuple[str, ...],
        placements: list[Placement],
        operations: list[dict[str, Any]] | None = None,
    ) -> _Accept:
        offer = self.offers.take(list(offer_ids))[0]
        sending = asyncio.create_task(self._send_accept(offer, offer_ids, placements, operations))
        return _Accept(offer_ids, offer, placements, sending)

    async def _send_accept(
        self,
        offer: Offer,
        offer_ids: tuple[str, ...],
        placements: list[Placement],
        operations: list[dict[str, Any]] | None,
    ) -> None:
        assert self.mesos is not None and self.framework_id is not None
        if operations is None:
            operations = launch_operations(
                placements,
                offer,
                self.framework_id,
                self.settings.executor_command,
                self.settings.executor_environment,
                executor_uri=self.settings.executor_uri,
            )
        await self.mesos.accept(
            list(offer_ids), operations, refuse_seconds=self.settings.accept_refuse_seconds
        )

    async def _settle_accepts(self, accepts: list[_Accept]) -> None:
        """Wait for the ACCEPTs sent, then deal with each outcome in turn."""
        if not accepts:
            return
        outcomes = await asyncio.gather(*(accept.sending for accept in accepts), return_exceptions=True)
        unexpected: BaseException | None = None
        for accept, outcome in zip(accepts, outcomes, strict=True):
            offer_ids, placements = accept.offer_ids, accept.placements
            if isinstance(outcome, CallRejected | SubscriptionLost):
                # Refused, or never sent: nothing was launched. Like tasks launched on an invalid
                # offer, the shards never started, so they are queued again for the next offers.
                log.warning("ACCEPT of offer(s) %s failed: %s; re-queuing", ", ".join(offer_ids), outcome)
                for placement in placements:
                    task = self.running.get(placement.task_id.shard)
                    if task is not None and task.task_id == placement.task_id:
                        await self._task_ended(task, "TASK_DROPPED", "REASON_INVALID_OFFERS", str(outcome))
            elif isinstance(outcome, MesosError):
                # The connection broke: the master may have the ACCEPT. The tasks stay recorded as
                # running and reconciliation settles whether they exist.
                log.warning("ACCEPT of offer(s) %s failed: %s", ", ".join(offer_ids), outcome)
            elif isinstance(outcome, BaseException):
                unexpected = unexpected or outcome
            else:
                log.info(
                    "launched %d task(s) on %s: %s",
                    len(placements),
                    accept.offer.hostname or accept.offer.agent_id,
                    ", ".join(str(p.task_id.shard) for p in placements[:5])
                    + (" ..." if len(placements) > 5 else ""),
                )
                for listener in self.launch_listeners:
                    listener(placements)
        if unexpected is not None:
            raise unexpected

    # ------------------------------------------------------------------ offers
    def _need_offers(self) -> None:
        self._wake.set()

    async def _manage_offers(self) -> None:
        if self.mesos is None:
            return
        now = self.clock.monotonic()
        work = self._waiting_work()
        fire_soon = self._fire_within(self.settings.offer_hold_seconds)
        stale = [
            offer for offer in self.offers if now - offer.received_at >= self.settings.offer_hold_seconds
        ]
        if work and len(self.offers):
            # Work that did not fit what we hold: let these go so fresher, larger offers come.
            unused = self.offers.take_all()
            await self._decline(unused, refuse=self.settings.accept_refuse_seconds)
        elif not work and not fire_soon:
            if await self._decline(self.offers.take_all(), refuse=self.settings.decline_refuse_seconds):
                self._long_filters = True
        elif stale:
            await self._decline(self.offers.take([o.offer_id for o in stale]), refuse=1.0)
        if work or self._fire_within(self.settings.revive_lookahead_seconds):
            # Suppressed, or resources declined for long: nothing comes until REVIVE, so send it
            # now. Otherwise offers flow; REVIVE again (to drop short filters) only now and then.
            held_back = self.suppressed or self._long_filters
            retry_due = not len(self.offers) and now - self._last_revive >= self.settings.revive_retry_seconds
            if held_back or retry_due:
                await self._revive()
        elif not self.suppressed and not fire_soon:
            try:
                await self.mesos.suppress()
                self.suppressed = True
                log.debug("nothing waits: offers suppressed")
            except MesosError as exc:
                log.warning("SUPPRESS failed: %s", exc)

    def _fire_within(self, seconds: float) -> bool:
        deadline = self.timers.next_deadline()
        return deadline is not None and deadline - self.now() <= timedelta(seconds=seconds)

    async def _revive(self) -> None:
        assert self.mesos is not None
        try:
            await self.mesos.revive()
            self.suppressed = False
            self._long_filters = False
            self._last_revive = self.clock.monotonic()
            log.debug("work waits: offers revived")
        except MesosError as exc:
            log.warning("REVIVE failed: %s", exc)

    async def _decline(self, offers: list[Offer], *, refuse: float) -> bool:
        """DECLINE ``offers``; returns whether a DECLINE was sent."""
        if not offers or self.mesos is None:
            return False
        try:
            await self.mesos.decline([o.offer_id for o in offers], refuse_seconds=refuse)
        except MesosError as exc:
            log.warning("DECLINE failed: %s", exc)
            return False
        return True

    # ------------------------------------------------------------------ Mesos events
    async def subscribed(self, mesos: MesosCalls, framework_id: str) -> None:
        async with self._lock:
            self.mesos = mesos
            self.framework_id = framework_id
            self.suppressed = False
            self._last_revive = float("-inf")
        self._wake.set()

    async def disconnected(self) -> None:
        async with self._lock:
            self.offers.take_all()  # void once the subscription is gone

    async def offers_received(self, offers: list[dict[str, Any]]) -> None:
        async with self._lock:
            with _collector_paused():
                received = self.clock.monotonic()
                self.offers.add([Offer.from_json(offer, received) for offer in offers])
                await self._launch()
                await self._manage_offers()

    async def offer_rescinded(self, offer_id: str) -> None:
        async with self._lock:
            self.offers.rescind(offer_id)

    def tasks_to_reconcile(self) -> list[tuple[str, str | None]]:
        tasks: list[tuple[str, str | None]] = [
            (str(t.task_id), t.task_id.agent_id) for t in self.running.values()
        ]
        tasks += [(str(t.task_id), t.task_id.agent_id) for t in self.orphans.values()]
        return tasks

    async def status_update(self, status: dict[str, Any]) -> None:
        """Record a task status update; returns once ZooKeeper holds the consequence."""
        task_text = str(status.get("task_id", {}).get("value", ""))
        state = str(status.get("state", ""))
        reason = str(status.get("reason", ""))
        try:
            task_id = TaskId.parse(task_text)
        except TaskIdError:
            log.warning("update for a task id not ours: %s (%s)", task_text, state)
            return
        async with self._lock:
            orphan = self.orphans.get(task_text)
            if orphan is not None:
                if state not in ACTIVE_STATES and state not in UNCERTAIN_STATES:
                    del self.orphans[task_text]
                    log.info("task %s of a removed job ended: %s", task_text, state)
                elif state in ACTIVE_STATES and state != "TASK_KILLING":
                    await self._send_kill(task_id)  # still alive: the kill was lost, send it again
                return
            task = self.running.get(task_id.shard)
            if task is None or str(task.task_id) != task_text:
                if state in ACTIVE_STATES and state != "TASK_KILLING":
                    # Every task we want is tracked (recorded before its launch): one we do not
                    # track (its job is gone, or another task now runs the shard) must stop.
                    log.warning("task %s is %s but not tracked: killing it", task_text, state)
                    await self._send_kill(task_id)
                else:
                    log.debug("update for untracked task %s: %s", task_text, state)
                return
            message = status.get("message", "")
            if state in ACTIVE_STATES:
                task.unknown_answers = 0
                if state in STARTED_STATES:
                    task.started = True
                if task.killing and state != "TASK_KILLING":
                    await self._send_kill(task_id)
                return
            if state in UNCERTAIN_STATES:
                task.unknown_answers += 1
                if task.unknown_answers < self.settings.unknown_limit:
                    log.warning("task %s is %s (%s); keeping it and reconciling", task_text, state, reason)
                    return
                log.warning("task %s stayed %s; treating it as lost", task_text, state)
                state = "TASK_LOST"
            await self._task_ended(task, state, reason, str(message))
            await self._launch()
            await self._manage_offers()

    async def _task_ended(self, task: _Task, state: str, reason: str, message: str) -> None:
        shard = task.task_id.shard
        job = self.jobs.get(shard.job_name)
        never_started = not task.started and (reason in NEVER_STARTED_REASONS or state == "TASK_DROPPED")
        requeue_failover = False
        requeue_ready = False
        if job is not None and state in FAILURE_STATES and not task.killing:
            requeue_failover = job.failover or job.is_daemon or never_started
        if job is not None and job.is_daemon and state == "TASK_KILLED" and self._enabled(job):
            last_of_job = not any(s.job_name == shard.job_name and s != shard for s in self.running)
            if last_of_job:
                requeue_ready = shard.job_name not in self.ready
            elif shard.job_name not in self._killing_jobs:
                requeue_failover = True  # one shard killed from outside: re-run just that shard

        parents = self._parents_in_memory({shard.job_name})
        for _ in range(_TRANSACTION_ATTEMPTS):
            build = functools.partial(
                self._end_ops,
                shard=shard,
                failed_task_id=str(task.task_id),
                parents=parents.copy(),
                requeue_failover=requeue_failover,
                requeue_ready=requeue_ready,
            )
            results = await self._zk.acommit(build)
            if not _failed(results):
                break
            # A node was already gone (deregistered meanwhile), a ready node appeared, or the
            # parent nodes are not as memory says: re-read.
            if requeue_ready:
                await self._reload_ready([shard.job_name])
                requeue_ready = shard.job_name not in self.ready
            if not await self._running_node_exists(shard):
                self.running.pop(shard, None)
                return
            parents = await self._parents_in_zookeeper({shard.job_name})
        else:
            log.error("could not record the end of task %s", task.task_id)
            return
        self._touch(shard.job_name)
        del self.running[shard]
        if requeue_failover:
            self.failover[shard] = str(task.task_id)
        if requeue_ready:
            self.ready[shard.job_name] = (1, 0)
        if not any(s.job_name == shard.job_name for s in self.running):
            self._killing_jobs.discard(shard.job_name)
        outcome = "queued for failover" if requeue_failover else "requeued" if requeue_ready else "done"
        level = logging.INFO if state == "TASK_FINISHED" else logging.WARNING
        log.log(
            level,
            "task %s %s %s%s; %s",
            task.task_id,
            state,
            reason,
            f" ({message})" if message else "",
            outcome,
        )

    def _end_ops(
        self,
        transaction: Any,
        *,
        shard: ShardRef,
        failed_task_id: str,
        parents: _Parents,
        requeue_failover: bool,
        requeue_ready: bool,
    ) -> None:
        running = parents.running.get(shard.job_name, set())
        running.discard(str(shard))
        self._running_repo.delete_ops(transaction, shard, last_of_job=not running)
        waiting = parents.failover.get(shard.job_name)
        if requeue_failover and (waiting is None or str(shard) not in waiting):
            self._failover_repo.create_ops(
                transaction, shard, failed_task_id, job_node_exists=waiting is not None
            )
        if requeue_ready:
            self._ready_repo.set_ops(transaction, shard.job_name, 1, None)

    async def _running_node_exists(self, shard: ShardRef) -> bool:
        path = self._paths.running_task(shard.job_name, str(shard))
        try:
            return await self._zk.acall(lambda c: c.exists_async(path)) is not None
        except NoNodeError:
            return False


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection during a step: a burst of launches makes tens of thousands of
    short-lived objects (reference counting frees them), and collections inside it walk them again
    and again, a full one the whole heap, while fires wait. Collections resume after the step."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _launch_units(result: MatchResult, ready: Mapping[str, tuple[int, int | None]]) -> list[_LaunchUnit]:
    """The placements as units, in placement order: each FAILOVER shard, each READY run whole
    (with the ready entry it comes from)."""
    units: list[_LaunchUnit] = []
    runs: dict[str, _LaunchUnit] = {}
    for placement in result.placements:
        task_id = placement.task_id
        if task_id.execution_type is ExecutionType.FAILOVER:
            units.append(_LaunchUnit(task_id.job_name, [placement], task_id.shard))
            continue
        run = runs.get(task_id.job_name)
        if run is None:
            run = runs[task_id.job_name] = _LaunchUnit(
                task_id.job_name, [], ready_entry=ready[task_id.job_name]
            )
            units.append(run)
        run.placements.append(placement)
    return units


def _replay(parts: Sequence[TransactionOps], transaction: TransactionOps) -> None:
    """Fill a transaction with operations built beforehand."""
    for part in parts:
        transaction.extend(part)


def _failed(results: list[Any]) -> bool:
    return any(isinstance(result, Exception) for result in results)


def _first_error(results: list[Any]) -> str:
    for result in results:
        if isinstance(result, Exception) and type(result).__name__ != "RolledBackError":
            return type(result).__name__
    return "unknown"
