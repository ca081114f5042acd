"""The scheduler core: cron fires and triggers → ready queue → offers → launches; status updates →
running / failover state. One instance runs, on the leading scheduler, inside one asyncio loop.

What survives what:
- Every queue and every running task is in ZooKeeper (``/state/ready``, ``/state/failover``,
  ``/state/running``); memory only mirrors it. A launch is recorded (running nodes created, the run
  taken off its queue, all in one transaction) *before* the ACCEPT is sent, so a scheduler that
  dies in between leaves tasks to reconcile, never a run that is forgotten or launched twice.
- A status update is recorded before it is acknowledged (the Mesos client acknowledges after
  ``on_update`` returns), so a crash in between makes Mesos resend it.
- A cron fire is held until ZooKeeper has recorded it; a step that fails (ZooKeeper away) is
  retried, and the fire is recorded then, once.

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
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any, Protocol

from kazoo.exceptions import NoNodeError

from server.domain.app import AppConfig
from server.domain.job import JobConfig, JobExecutionType
from server.domain.task import ShardRef, TaskId, TaskIdError
from server.errors import ElasticJobError, NotFound
from server.mesos.errors import CallRejected, MesosError, SubscriptionLost
from server.registry.apps import AppRepository
from server.registry.disabled import DisabledFlags
from server.registry.failover import FailoverQueue
from server.registry.jobs import JobRepository
from server.registry.ready import ReadyQueue
from server.registry.running import RunningTasks
from server.registry.zookeeper import ZooKeeper
from server.scheduler.cron import CronExpression
from server.scheduler.matching import MatchResult, Placement, match
from server.scheduler.offers import Offer, OfferPool
from server.scheduler.taskinfo import launch_operations
from server.scheduler.timers import CronTimers, Fire

log = logging.getLogger("server.scheduler")

ACTIVE_STATES = frozenset({"TASK_STAGING", "TASK_STARTING", "TASK_RUNNING", "TASK_KILLING"})
STARTED_STATES = frozenset({"TASK_STARTING", "TASK_RUNNING", "TASK_KILLING"})
FAILURE_STATES = frozenset(
    {"TASK_FAILED", "TASK_ERROR", "TASK_LOST", "TASK_DROPPED", "TASK_GONE", "TASK_GONE_BY_OPERATOR"}
)
UNCERTAIN_STATES = frozenset({"TASK_UNREACHABLE", "TASK_UNKNOWN"})
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


class Clock(Protocol):
    """Wall time for cron (aware, in the scheduler's zone) and a monotonic clock for offer ages."""

    def now(self) -> datetime: ...
    def monotonic(self) -> float: ...


@dataclass(frozen=True, slots=True)
class SystemClock:
    zone: tzinfo

    def now(self) -> datetime:
        return datetime.now(self.zone)

    def monotonic(self) -> float:
        return time.monotonic()


@dataclass(frozen=True, kw_only=True, slots=True)
class CoreSettings:
    executor_command: str
    executor_environment: dict[str, str] = field(default_factory=dict)
    offer_hold_seconds: float = 10.0
    revive_lookahead_seconds: float = 2.0
    decline_refuse_seconds: float = 3600.0
    accept_refuse_seconds: float = 1.0
    revive_retry_seconds: float = 5.0
    unknown_limit: int = 3
    resync_seconds: float = 30.0


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

    # ------------------------------------------------------------------ loading and the main loop
    async def load(self) -> None:
        """Read configuration and state from ZooKeeper (at start and when becoming leader)."""
        async with self._lock:
            await self._load_config()
            self.ready = await self._ready_repo.aload()
            self.failover = dict(sorted((await self._failover_repo.load()).items()))
            self.running = {
                shard: _Task(task_id) for shard, task_id in (await self._running_repo.load()).items()
            }
            now = self.clock.now()
            self.timers = CronTimers()
            for job in self.jobs.values():
                self._schedule(job, now)
            # A DAEMON job with nothing running, waiting or failing over must be (re)launched.
            idle_daemons = [job.job_name for job in self.jobs.values() if self._daemon_idle(job)]
            if idle_daemons:
                await self._add_ready(idle_daemons)
        log.info(
            "loaded %d jobs, %d apps, %d ready, %d failover, %d running",
            len(self.jobs),
            len(self.apps),
            len(self.ready),
            len(self.failover),
            len(self.running),
        )

    async def _load_config(self) -> set[str]:
        """Read jobs, apps and disabled flags; returns the names of the job nodes present (a job
        whose node cannot be read keeps the configuration we had for it)."""
        jobs: dict[str, JobConfig] = {}
        present = set(await self._zk.achildren(self._paths.jobs))
        for name in present:
            job = await self._read_job(name) or self.jobs.get(name)
            if job is not None:
                jobs[name] = job
        apps: dict[str, AppConfig] = {}
        for name in await self._zk.achildren(self._paths.apps):
            app = await self._read_app(name)
            if app is not None:
                apps[name] = app
        self.jobs, self.apps = jobs, apps
        self.disabled_jobs = set(await self._zk.achildren(self._paths.disabled_jobs))
        self.disabled_apps = set(await self._zk.achildren(self._paths.disabled_apps))
        return present

    async def _read_job(self, name: str) -> JobConfig | None:
        try:
            return await asyncio.to_thread(self._jobs_repo.get, name)
        except NotFound:
            return None
        except ElasticJobError as exc:
            log.warning("job %s is unreadable and will not be scheduled: %s", name, exc)
            return None

    async def _read_app(self, name: str) -> AppConfig | None:
        try:
            app, _ = await asyncio.to_thread(self._apps_repo.get, name)
            return app
        except NotFound:
            return None
        except ElasticJobError as exc:
            log.warning("app %s is unreadable: %s", name, exc)
            return None

    async def run(self) -> None:
        """Fire cron jobs, launch and manage offers until ``stop()``."""
        last_resync = self.clock.monotonic()
        while not self._stopping.is_set():
            self._wake.clear()  # before the step: a wake-up during the step is not lost
            try:
                await self.tick()
                if self.clock.monotonic() - last_resync >= self.settings.resync_seconds:
                    last_resync = self.clock.monotonic()
                    await self.resync()
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
            timeout = self._seconds_until_next_step()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    async def tick(self) -> None:
        """One step: record due fires, launch what fits, tidy offers."""
        async with self._lock:
            # Fires stay here until ZooKeeper holds them: a step that fails loses none.
            self._unrecorded_fires += self.timers.due(self.clock.now())
            if self._unrecorded_fires:
                await self._record_fires(self._unrecorded_fires)
                self._unrecorded_fires = []
            await self._launch()
            await self._manage_offers()

    def _seconds_until_next_step(self) -> float:
        now = self.clock.now()
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
        new or enabled is scheduled (and a DAEMON one launched). Unchanged jobs are left alone."""
        async with self._lock:
            before = dict(self.jobs)
            was_enabled = {name for name, job in before.items() if self._enabled(job)}
            present = await self._load_config()
            self.ready = await self._ready_repo.aload()
            self.failover = dict(sorted((await self._failover_repo.load()).items()))
            now = self.clock.now()
            for name in before.keys() - present:
                await self._drop_job(name)
            for name, job in list(self.jobs.items()):
                previous = before.get(name)
                changed = previous is not None and previous != job
                enabled = self._enabled(job)
                if previous is None or changed or (name in was_enabled) != enabled:
                    self._schedule(job, now)
                if name in was_enabled and (changed or not enabled):
                    await self._kill_job_tasks(name)
                if self._daemon_idle(job):
                    await self._add_ready([name])
            await self._launch()
            await self._manage_offers()

    def _schedule(self, job: JobConfig, now: datetime) -> None:
        if job.cron and job.job_execution_type is JobExecutionType.TRANSIENT and self._enabled(job):
            self.timers.set(job.job_name, CronExpression.parse(job.cron), now)
        else:
            self.timers.remove(job.job_name)

    def _enabled(self, job: JobConfig) -> bool:
        return job.job_name not in self.disabled_jobs and job.app_name not in self.disabled_apps

    # ------------------------------------------------------------------ configuration events
    async def job_changed(self, job_name: str, *, kill_running: bool) -> None:
        """A job was registered or updated (or its disabled flag changed): reload and reschedule.
        With ``kill_running``, its running tasks are killed (update and disable do that)."""
        async with self._lock:
            job = await self._read_job(job_name)
            self.disabled_jobs.discard(job_name)
            if await self._zk.acall(lambda c: c.exists_async(self._paths.disabled_job(job_name))) is not None:
                self.disabled_jobs.add(job_name)
            if job is None:
                await self._drop_job(job_name)
                return
            app = await self._read_app(job.app_name)
            if app is not None:
                self.apps[app.app_name] = app
            previous = self.jobs.get(job_name)
            self.jobs[job_name] = job
            self._schedule(job, self.clock.now())
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
        self.jobs.pop(job_name, None)
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
        return (
            job.is_daemon
            and self._enabled(job)
            and not self._job_busy(job.job_name)
            and job.job_name not in self.ready
            and not any(shard.job_name == job.job_name for shard in self.failover)
        )

    async def job_triggered(self, job_name: str) -> None:
        """The API queued a run in ZooKeeper: mirror it and launch."""
        async with self._lock:
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
                    self._schedule(job, self.clock.now())
            if job is not None and job.app_name not in self.apps:
                app = await self._read_app(job.app_name)
                if app is not None:
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
        names: list[str] = []
        for fire in fires:
            job = self.jobs.get(fire.job_name)
            if job is None or not self._enabled(job) or job.is_daemon or fire.job_name in names:
                continue
            names.append(fire.job_name)
        if names:
            await self._add_ready(names)
            log.debug("cron fired %d job(s): %s", len(names), ", ".join(names[:10]))

    async def _add_ready(self, names: list[str]) -> None:
        """Queue one run of each job in one transaction (retried on concurrent changes)."""
        for _ in range(_TRANSACTION_ATTEMPTS):
            changes: dict[str, tuple[int, int | None]] = {}
            for name in names:
                job = self.jobs[name]
                count, version = self.ready.get(name, (0, None))  # type: ignore[arg-type]
                wanted = count + 1 if (job.misfire and not job.is_daemon) else max(count, 1)
                if wanted != count:
                    changes[name] = (wanted, version)
            if not changes:
                return

            def build(transaction: Any, changes: dict[str, tuple[int, int | None]] = changes) -> None:
                for name, (count, version) in changes.items():
                    self._ready_repo.set_ops(transaction, name, count, version)

            results = await self._zk.acommit(build)
            if not _failed(results):
                for name, (count, version) in changes.items():
                    self.ready[name] = (count, 0 if version is None else version + 1)
                self._need_offers()
                return
            await self._reload_ready(changes)
        log.warning("could not queue runs of %s: the ready queue kept changing", ", ".join(names))

    async def _reload_ready(self, names: Sequence[str] | dict[str, Any]) -> None:
        for name in names:
            entry = await self._ready_repo.aget(name)
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
        """The job is known, enabled and its app known (a disabled job's runs wait, asking nothing)."""
        job = self.jobs.get(job_name)
        return job is not None and self._enabled(job) and job.app_name in self.apps

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
            involved = {p.task_id.job_name for p in result.placements}
            involved |= {shard.job_name for shard in result.launched_failover}
            parents = self._parents_in_memory(involved)
            results = await self._commit_launch(result, parents)
            if _failed(results):
                stored = await self._parents_in_zookeeper(involved)
                if stored != parents:  # memory was wrong about the parent nodes: use what is there
                    results = await self._commit_launch(result, stored)
            if not _failed(results):
                break
            log.info("launch transaction lost a race (%s); re-reading the queues", _first_error(results))
            await self._reload_ready(result.launched_ready)
            if result.launched_failover:
                self.failover = dict(sorted((await self._failover_repo.load()).items()))
            for name in {p.job.job_name for p in result.placements}:
                if await self._read_job(name) is None:
                    self.jobs.pop(name, None)
                    self.timers.remove(name)
        else:
            return
        self._apply_launch(result)
        await self._accept(result)

    def _match(self) -> MatchResult:
        failover = [s for s in self.failover if self._launchable(s.job_name)]
        ready = [name for name, (count, _) in self.ready.items() if count > 0 and self._launchable(name)]
        busy = {shard.job_name for shard in self.running}
        return match(list(self.offers), failover, ready, self.jobs, self.apps, busy, self._new_unique)

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
        parents = _Parents()
        for name in job_names:
            for children, path in (
                (parents.running, self._paths.running_job(name)),
                (parents.failover, self._paths.failover_job(name)),
            ):
                with contextlib.suppress(NoNodeError):
                    children[name] = set(await self._zk.achildren(path))
        return parents

    async def _commit_launch(self, result: MatchResult, parents: _Parents) -> list[Any]:
        return await self._zk.acommit(
            functools.partial(self._launch_ops, result=result, parents=parents.copy())
        )

    def _launch_ops(self, transaction: Any, *, result: MatchResult, parents: _Parents) -> None:
        for job_name in {p.job.job_name for p in result.placements}:
            transaction.check(self._paths.job(job_name), -1)  # not deregistered meanwhile
        for placement in result.placements:
            job_name = placement.task_id.job_name
            running = parents.running.get(job_name)
            self._running_repo.create_ops(transaction, placement.task_id, job_node_exists=running is not None)
            parents.running.setdefault(job_name, set()).add(str(placement.task_id.shard))
        for job_name in result.launched_ready:
            count, version = self.ready[job_name]
            self._ready_repo.set_ops(transaction, job_name, count - 1, version)
        # The job's failover node goes with the last of its shards (several may launch at once).
        for shard in result.launched_failover:
            waiting = parents.failover.setdefault(shard.job_name, set())
            waiting.discard(str(shard))
            self._failover_repo.delete_ops(transaction, shard, last_of_job=not waiting)

    def _apply_launch(self, result: MatchResult) -> None:
        for placement in result.placements:
            self.running[placement.task_id.shard] = _Task(placement.task_id)
        for job_name in result.launched_ready:
            count, version = self.ready[job_name]
            if count - 1 > 0:
                self.ready[job_name] = (count - 1, version + 1)
            else:
                del self.ready[job_name]
        for shard in result.launched_failover:
            self.failover.pop(shard, None)

    async def _accept(self, result: MatchResult) -> None:
        assert self.mesos is not None and self.framework_id is not None
        by_accept = result.by_accept()
        used = [offer_id for offer_ids in by_accept for offer_id in offer_ids]
        offers = {offer.offer_id: offer for offer in self.offers.take(used)}
        for offer_ids, placements in by_accept.items():
            offer = offers[offer_ids[0]]
            operations = launch_operations(
                placements,
                offer,
                self.framework_id,
                self.settings.executor_command,
                self.settings.executor_environment,
            )
            try:
                await self.mesos.accept(
                    list(offer_ids), operations, refuse_seconds=self.settings.accept_refuse_seconds
                )
            except (CallRejected, SubscriptionLost) as exc:
                # Refused, or never sent: nothing was launched. Like tasks launched on an invalid
                # offer, the shards never started, so they are queued again for the next offers.
                log.warning("ACCEPT of offer(s) %s failed: %s; re-queuing", ", ".join(offer_ids), exc)
                for placement in placements:
                    task = self.running.get(placement.task_id.shard)
                    if task is not None and task.task_id == placement.task_id:
                        await self._task_ended(task, "TASK_DROPPED", "REASON_INVALID_OFFERS", str(exc))
                continue
            except MesosError as exc:
                # The connection broke: the master may have the ACCEPT. The tasks stay recorded as
                # running and reconciliation settles whether they exist.
                log.warning("ACCEPT of offer(s) %s failed: %s", ", ".join(offer_ids), exc)
                continue
            log.info(
                "launched %d task(s) on %s: %s",
                len(placements),
                offer.hostname or offer.agent_id,
                ", ".join(str(p.task_id.shard) for p in placements[:5])
                + (" ..." if len(placements) > 5 else ""),
            )
            for listener in self.launch_listeners:
                listener(placements)

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
        return deadline is not None and deadline - self.clock.now() <= timedelta(seconds=seconds)

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


def _failed(results: list[Any]) -> bool:
    return any(isinstance(result, Exception) for result in results)


def _first_error(results: list[Any]) -> str:
    for result in results:
        if isinstance(result, Exception) and type(result).__name__ != "RolledBackError":
            return type(result).__name__
    return "unknown"
