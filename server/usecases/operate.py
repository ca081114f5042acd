"""Use cases of the operations API: a job's state, reconciliation requests, executor sandboxes.

A job's state is read from the registry (configuration, disabled flags, ready count, running and
failover nodes, the leader's diagnosis), so every replica answers the same; only the state of a
running task comes from the leading scheduler's memory (``TaskStates``), when this process leads.
Each shard's last run comes from the run history (``RunHistory``, the trace store) in one query
per call, when tracing is on; a history that cannot be read leaves the last runs out and says so
(``JobState.last_runs_unavailable``), it never fails the call.
Reconciliation is asked for through the registry (``ReconcileRequests``): the leader, wherever it
runs, watches it and reconciles at once. Sandboxes are read from the Mesos master's and agents'
``/state`` (``server.mesos.operator``) for the framework id the registry holds.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, tzinfo
from typing import Protocol
from zoneinfo import ZoneInfo

from server.base.clock import Clock, SystemClock
from server.base.cron import CronExpression, fire_times
from server.domain.errors import HistoryUnavailable, InvalidArgument
from server.domain.operate_errors import ClusterUnavailable
from server.domain.rules import check_name
from server.domain.task import ShardRef, TaskId
from server.domain.trace import ExecutionEvent
from server.mesos.errors import MesosError
from server.mesos.operator import Sandbox, app_sandboxes
from server.registry.diagnosis import DiagnosisStore
from server.registry.disabled import DisabledFlags
from server.registry.failover import FailoverEntry, FailoverQueue
from server.registry.framework import FrameworkIdStore
from server.registry.jobs import JobRepository
from server.registry.mesos_master import detect_leader
from server.registry.ready import ReadyQueue
from server.registry.reconcile_requests import ReconcileRequests
from server.registry.running import RunningTasks

log = logging.getLogger("server.usecases")

NEXT_FIRE_TIMES = 5
"""How many upcoming fire times a job's state lists."""

RECONCILE_KINDS = ("explicit", "implicit")

SANDBOX_TIMEOUT_SECONDS = 3.0
"""Longest wait for each read of a master's or agent's /state (ElasticJob-Cloud 3.0's)."""

LAUNCHED = "LAUNCHED"
"""A running task's state when this process does not lead: the registry records the launch only."""


class TaskStates(Protocol):
    """The leading scheduler's knowledge of its tasks (``SchedulerService.task_state``)."""

    def task_state(self, task_id: str) -> str | None:
        """TASK_STAGING, TASK_RUNNING or TASK_KILLING; None when this process does not lead or
        does not follow the task."""
        ...


class NoTaskStates:
    """Used when no scheduler runs in this process."""

    def task_state(self, task_id: str) -> str | None:
        return None


class RunHistory(Protocol):
    """The run history a job's last runs are read from (``TraceStore``)."""

    def last_runs(self, job_name: str) -> Mapping[int, ExecutionEvent]:
        """The latest run of each shard of the job that has one, by sharding item, in one query;
        HistoryUnavailable when the history cannot be read."""
        ...


@dataclass(frozen=True, kw_only=True, slots=True)
class CurrentTask:
    """A shard's task recorded as running."""

    task_id: TaskId
    state: str
    since: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class ShardState:
    """One shard with something to report: its current task, its last run (times in the
    scheduler's zone), or both."""

    item: int
    current_task: CurrentTask | None = None
    last_run: ExecutionEvent | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class FailoverShard:
    """A shard queued to run again; ``retry_at`` None: it may start at once."""

    item: int
    original_task_id: str
    attempts: int
    retry_at: datetime | None


@dataclass(frozen=True, kw_only=True, slots=True)
class JobState:
    """What a job is doing now (see ``OperateManager.job_state``)."""

    job_name: str
    app_name: str
    job_execution_type: str
    job_disabled: bool
    app_disabled: bool
    zone: str
    next_fire_times: tuple[datetime, ...]
    ready_runs: int
    shards: tuple[ShardState, ...]
    failover: tuple[FailoverShard, ...]
    waiting_reason: str | None = None
    waiting_since: datetime | None = None
    last_runs_unavailable: bool = False

    @property
    def enabled(self) -> bool:
        return not self.job_disabled and not self.app_disabled


@dataclass(frozen=True, slots=True)
class JobStateRegistry:
    """The repositories a job's state is read from."""

    jobs: JobRepository
    disabled: DisabledFlags
    ready: ReadyQueue
    running: RunningTasks
    failover: FailoverQueue
    diagnosis: DiagnosisStore
    framework_ids: FrameworkIdStore


class OperateManager:
    def __init__(
        self,
        registry: JobStateRegistry,
        reconcile_requests: ReconcileRequests,
        *,
        mesos_url: str | None = None,
        zone: tzinfo = UTC,
        clock: Clock | None = None,
        task_states: TaskStates | None = None,
        run_history: RunHistory | None = None,
    ) -> None:
        self._registry = registry
        self._run_history = run_history
        self._history_lock = threading.Lock()
        self._history_failing = False
        self._mesos_url = mesos_url
        self._reconcile_requests = reconcile_requests
        self._zone = zone
        self._clock: Clock = clock or SystemClock()
        self.task_states: TaskStates = task_states or NoTaskStates()

    def job_state(self, job_name: str) -> JobState:
        """The job's state; JobNotFound for an unknown job. The waiting reason is given only
        while work waits and nothing of the job runs (a reason the leader has not yet cleared is
        left out). Shards are listed by sharding item: those with a current task and those of the
        job's shardingTotalCount with a last run; runs of items beyond it (from before the job
        had fewer shards) are left out."""
        check_name(job_name, "jobName")
        registry = self._registry
        job = registry.jobs.get(job_name)
        job_disabled = registry.disabled.is_job_disabled(job_name)
        app_disabled = registry.disabled.is_app_disabled(job.app_name)
        ready_runs = registry.ready.count(job_name)
        tasks, failover, last_runs = asyncio.run(self._queues(job_name))
        now = self._clock.now(self._zone)
        fires: list[datetime] = []
        if job.cron and not job_disabled and not app_disabled:
            fires = fire_times(CronExpression.parse(job.cron), now, NEXT_FIRE_TIMES)
        runs = {
            item: self._in_zone(run)
            for item, run in (last_runs or {}).items()
            if 0 <= item < job.sharding_total_count
        }
        shards: list[ShardState] = []
        for task_id, recorded in tasks:
            current = CurrentTask(
                task_id=task_id,
                state=self.task_states.task_state(str(task_id)) or LAUNCHED,
                since=self._at(recorded),
            )
            shards.append(
                ShardState(item=task_id.item, current_task=current, last_run=runs.pop(task_id.item, None))
            )
        shards.extend(ShardState(item=item, last_run=run) for item, run in runs.items())
        shards.sort(key=lambda shard: shard.item)
        failing = tuple(
            FailoverShard(
                item=shard.item,
                original_task_id=entry.task_id,
                attempts=entry.attempts,
                retry_at=self._at(entry.retry_at) if entry.retry_at > now.timestamp() else None,
            )
            for shard, entry in failover.items()
        )
        diagnosis = None
        if not tasks and (ready_runs > 0 or failing):
            diagnosis = registry.diagnosis.get(job_name)
        return JobState(
            job_name=job.job_name,
            app_name=job.app_name,
            job_execution_type=str(job.job_execution_type),
            job_disabled=job_disabled,
            app_disabled=app_disabled,
            zone=zone_name(self._zone, now),
            next_fire_times=tuple(fires),
            ready_runs=ready_runs,
            shards=tuple(shards),
            failover=failing,
            waiting_reason=diagnosis.reason if diagnosis else None,
            waiting_since=self._at(diagnosis.since) if diagnosis else None,
            last_runs_unavailable=self._run_history is not None and last_runs is None,
        )

    async def _queues(
        self, job_name: str
    ) -> tuple[
        list[tuple[TaskId, float]], dict[ShardRef, FailoverEntry], Mapping[int, ExecutionEvent] | None
    ]:
        """The job's running tasks, failover entries and last runs, read at once (the history in a
        worker thread); the last runs are empty with tracing off."""
        registry = self._registry
        return await asyncio.gather(
            registry.running.ajob_tasks(job_name),
            registry.failover.ajob_entries(job_name),
            self._alast_runs(job_name),
        )

    async def _alast_runs(self, job_name: str) -> Mapping[int, ExecutionEvent] | None:
        if self._run_history is None:
            return {}
        return await asyncio.to_thread(self._last_runs, self._run_history, job_name)

    def _last_runs(self, history: RunHistory, job_name: str) -> Mapping[int, ExecutionEvent] | None:
        """The job's last runs; None when the history cannot be read (logged once per outage, and
        once when it answers again)."""
        try:
            runs = history.last_runs(job_name)
        except HistoryUnavailable as exc:
            with self._history_lock:
                first, self._history_failing = not self._history_failing, True
            if first:
                log.warning("job states answer without last runs until the run history answers: %s", exc)
            return None
        with self._history_lock:
            recovered, self._history_failing = self._history_failing, False
        if recovered:
            log.info("the run history answers again: job states show last runs")
        return runs

    def _in_zone(self, run: ExecutionEvent) -> ExecutionEvent:
        return replace(
            run,
            start_time=run.start_time.astimezone(self._zone) if run.start_time else None,
            complete_time=run.complete_time.astimezone(self._zone) if run.complete_time else None,
        )

    def _at(self, epoch: float) -> datetime:
        return datetime.fromtimestamp(epoch, self._zone).replace(microsecond=0)

    def reconcile(self, kind: str) -> None:
        """Ask the leader to reconcile (``explicit`` or ``implicit``); TooManyRequests inside the
        window, InvalidArgument for another kind."""
        if kind not in RECONCILE_KINDS:
            raise InvalidArgument(
                f"kind must be one of {', '.join(RECONCILE_KINDS)}, not {kind[:40]!r}", field="kind"
            )
        self._reconcile_requests.request(kind, self._clock.now(UTC).timestamp())
        log.info("%s reconciliation requested", kind)

    def sandboxes(self, app_name: str) -> list[Sandbox]:
        """The sandboxes of the app's executors; InvalidArgument without a valid app name, an
        empty list without a Mesos master configured or before the framework has subscribed,
        ClusterUnavailable when the master or an agent cannot be read."""
        if not app_name:
            raise InvalidArgument("appName is required: send ?appName=<app>", field="appName")
        check_name(app_name, "appName")
        if self._mesos_url is None:
            return []
        return asyncio.run(self._asandboxes(self._mesos_url, app_name))

    async def _asandboxes(self, mesos_url: str, app_name: str) -> list[Sandbox]:
        framework_id = await self._registry.framework_ids.get()
        if framework_id is None:
            return []
        try:
            master_url = await detect_leader(mesos_url, zk_timeout=SANDBOX_TIMEOUT_SECONDS)
            return await app_sandboxes(master_url, framework_id, app_name, timeout=SANDBOX_TIMEOUT_SECONDS)
        except (MesosError, ValueError) as exc:
            raise ClusterUnavailable(
                f"could not read the sandboxes from Mesos at {mesos_url}: {exc}"
            ) from exc


def zone_name(zone: tzinfo, now: datetime) -> str:
    """The zone's IANA name, else its offset now (``+01:00``)."""
    if isinstance(zone, ZoneInfo) and zone.key and zone.key != "localtime":
        return str(zone.key)
    offset = now.isoformat()[-6:]
    return offset if offset[0] in "+-" else "+00:00"
