"""Executors across app changes: those of an earlier app version are retired, none is reused.

An app's executor ids carry its executor version (``taskinfo.executor_version``, a digest of what
its ExecutorInfo holds), so after a change of the app new tasks start a new executor beside the
old one (Mesos refuses a task whose ExecutorInfo differs from that of the running executor of its
id). An executor whose version is not its app's current one is *stale*:

- a stale executor the core tracks no task on gets SHUTDOWN, as soon as it is seen idle (its last
  task ended, or an offer of its agent lists it); a SHUTDOWN is sent again only after
  ``SHUTDOWN_RESEND_SECONDS``, should the executor still be listed;
- the tasks of a DAEMON job that stay resident on stale executors are moved one shard at a time:
  one is killed, and the handling of a killed DAEMON task (``task_updates``) relaunches it, on the
  new executor; the next shard moves once every shard of the job runs again;
- an executor the core cannot tell idle (a task of its app on its agent whose executor is not known
  yet, as after a failover until the task's status arrives) is left alone, as are the executors of
  apps the core does not know.

The current version's executors of an app whose cache is disabled leave by themselves when idle.

An app deleted (``retire_app``) has every executor of it the core knows of shut down at once, on
whichever agent it runs (SHUTDOWN ends its tasks too): those its tracked tasks ran under, those it
launched, and those the agents' offers listed. An offer that still lists one later (a SHUTDOWN
lost, or an executor the core did not know) brings another SHUTDOWN, until an app of that name is
published again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from server.domain.app import AppConfig
from server.domain.task import ExecutorRef, TaskId
from server.mesos.errors import MesosError
from server.mesos.values import id_value
from server.scheduler.kills import Kills
from server.scheduler.matching import Placement
from server.scheduler.offers import Offer
from server.scheduler.state import SchedulerState, TrackedTask

log = logging.getLogger("server.scheduler")

SHUTDOWN_RESEND_SECONDS = 30.0
"""How long after a SHUTDOWN an executor still listed gets another one."""
KNOWN_PER_AGENT = 1000
"""The most executor ids remembered per agent (the oldest forgotten first)."""


class Executors:
    def __init__(self, state: SchedulerState, kills: Kills) -> None:
        self._state = state
        self._kills = kills
        self._apps_reviewed: dict[str, AppConfig] = {}
        self._review_due = True
        self._moving: dict[str, TaskId] = {}  # DAEMON job -> its task killed to move it
        self._kill_again: set[str] = set()  # jobs whose moving task said RUNNING after its kill
        self._shutdown_at: dict[str, float] = {}  # executor id -> when SHUTDOWN was sent
        #: agent -> the executor ids seen there (launched, named by updates, listed by offers)
        self._known: dict[str, dict[str, None]] = {}
        self._retired_apps: set[str] = set()  # deleted apps whose executors are shut down

    def version_of(self, app: AppConfig) -> str:
        """The version the ids of ``app``'s executors carry now."""
        return self._state.executor_versions.of(app)

    def stale(self, executor: str) -> bool:
        """Whether ``executor`` is one of ours whose app is known and now has another version."""
        ref = ExecutorRef.parse(executor)
        if ref is None:
            return False
        app = self._state.apps.get(ref.app_name)
        return app is not None and ref.version != self._state.executor_versions.of(app)

    # -- what the core learns -------------------------------------------------------------------

    def launched(self, placements: list[Placement]) -> None:
        """The master took these placements: their tasks run under the executors they name."""
        running = self._state.running
        for placement in placements:
            self._remember(placement.executor_id)
            self._retired_apps.discard(placement.app.app_name)
            task = running.get(placement.task_id.shard)
            if task is not None and task.task_id == placement.task_id:
                task.executor_id = placement.executor_id

    def observe(self, task_id: TaskId, task_text: str, status: Mapping[str, Any]) -> str | None:
        """Before ``status`` is handled: note the executor it names on its tracked task; returns the
        executor the task runs under (None: not known)."""
        state = self._state
        task = state.orphans.get(task_text)
        if task is None:
            tracked = state.running.get(task_id.shard)
            task = tracked if tracked is not None and str(tracked.task_id) == task_text else None
        named = id_value(status.get("executor_id"))
        if named is not None:
            self._remember(named)
        if task is None:
            return named
        if task.executor_id is None and named is not None:
            task.executor_id = named
            if self.stale(named):
                self._review_due = True  # a resident task found on a stale executor
        moving = self._moving.get(task_id.job_name)
        if moving is not None and moving == task.task_id and status.get("state") == "TASK_RUNNING":
            self._kill_again.add(task_id.job_name)  # the kill of a task being moved was lost
            self._review_due = True
        return task.executor_id

    async def updated(self, task_id: TaskId, executor: str | None) -> None:
        """After a status update of ``task_id`` (under ``executor``) was handled."""
        if task_id.job_name in self._moving:
            self._review_due = True
        if (
            executor is not None
            and self.stale(executor)
            and not self._tracked(task_id)
            and not _InUse.of(self._state).holds(executor, task_id.agent_id)
        ):
            await self._shutdown(executor, task_id.agent_id)
        if self._review_due:
            await self.review()

    async def offered(self, offers: Iterable[Offer]) -> None:
        """Offers came: retire the idle stale executors they list."""
        in_use: _InUse | None = None
        for offer in offers:
            for executor in offer.executor_ids:
                self._remember(executor)
                if self._retired(executor):
                    await self._shutdown(executor, offer.agent_id, reason="its app was deleted")
                    continue
                if not self.stale(executor):
                    continue
                in_use = in_use or _InUse.of(self._state)
                if not in_use.holds(executor, offer.agent_id):
                    await self._shutdown(executor, offer.agent_id)
        await self.step()

    async def step(self) -> None:
        """Review the resident DAEMON tasks when an app changed (or a review is due)."""
        if self._review_due or self._moving or self._apps_changed():
            await self.review()

    # -- moving DAEMON tasks --------------------------------------------------------------------

    async def review(self) -> None:
        """Move one task of each DAEMON job that runs whole with tasks on stale executors."""
        state = self._state
        self._review_due = False
        self._apps_reviewed = dict(state.apps)
        tasks_of: dict[str, list[TrackedTask]] = {}
        stale_of: dict[str, list[TrackedTask]] = {}
        for shard, task in state.running.items():
            job = state.jobs.get(shard.job_name)
            if job is None or not job.is_daemon:
                continue
            tasks_of.setdefault(shard.job_name, []).append(task)
            if task.executor_id is not None and self.stale(task.executor_id):
                stale_of.setdefault(shard.job_name, []).append(task)
        for job_name in [name for name in self._moving if name not in stale_of]:
            del self._moving[job_name]  # moved
            self._kill_again.discard(job_name)
        for job_name, stale in stale_of.items():
            job = state.jobs[job_name]
            moving = self._moving.get(job_name)
            if moving is not None:
                tracked = state.running.get(moving.shard)
                if tracked is not None and tracked.task_id == moving:
                    if job_name in self._kill_again:
                        self._kill_again.discard(job_name)
                        await self._kills.send(moving)
                    continue
            tasks = tasks_of[job_name]
            whole = len(tasks) >= job.sharding_total_count and all(
                task.started and not task.killing for task in tasks
            )
            if not whole or not state.enabled(job) or job_name in state.killing_jobs:
                continue  # the job's updates bring the next review
            task = min(stale, key=lambda t: t.task_id.item)
            self._moving[job_name] = task.task_id
            log.info(
                "moving task %s of DAEMON job %s off executor %s (its app %s changed)",
                task.task_id,
                job_name,
                task.executor_id,
                job.app_name,
            )
            await self._kills.send(task.task_id)

    def _apps_changed(self) -> bool:
        apps, reviewed = self._state.apps, self._apps_reviewed
        return len(apps) != len(reviewed) or any(apps.get(name) is not app for name, app in reviewed.items())

    # -- retiring -------------------------------------------------------------------------------

    async def retire_app(self, app_name: str) -> None:
        """The app was deleted: shut down every executor of it the core knows of, on every agent."""
        self._retired_apps.add(app_name)
        executors = [
            (executor, agent_id)
            for agent_id, known in self._known.items()
            for executor in known
            if self._retired(executor)
        ]
        for executor, agent_id in executors:
            del self._known[agent_id][executor]
            await self._shutdown(executor, agent_id, reason="its app was deleted")

    def _retired(self, executor: str) -> bool:
        ref = ExecutorRef.parse(executor)
        return ref is not None and ref.app_name in self._retired_apps and ref.app_name not in self._state.apps

    def _remember(self, executor: str) -> None:
        ref = ExecutorRef.parse(executor)
        if ref is None:
            return
        known = self._known.setdefault(ref.agent_id, {})
        known[executor] = None
        if len(known) > KNOWN_PER_AGENT:
            del known[next(iter(known))]

    def _tracked(self, task_id: TaskId) -> bool:
        state = self._state
        task = state.running.get(task_id.shard)
        return (task is not None and task.task_id == task_id) or str(task_id) in state.orphans

    async def _shutdown(
        self, executor: str, agent_id: str, *, reason: str = "its app changed and it runs no task"
    ) -> None:
        state = self._state
        now = state.clock.monotonic()
        sent = self._shutdown_at.get(executor)
        if state.mesos is None or (sent is not None and now - sent < SHUTDOWN_RESEND_SECONDS):
            return
        self._shutdown_at = {
            e: at for e, at in self._shutdown_at.items() if now - at < SHUTDOWN_RESEND_SECONDS
        }
        self._shutdown_at[executor] = now
        try:
            await state.mesos.shutdown(executor, agent_id)
        except MesosError as exc:
            log.warning(
                "SHUTDOWN of executor %s on %s failed (%s); retried when seen again", executor, agent_id, exc
            )
            return
        log.info("shut down executor %s on %s: %s", executor, agent_id, reason)


class _InUse:
    """The executors the core's tracked tasks run under, and the (agent, app) pairs with a task
    whose executor is not known (``None`` app: a task of a job no longer known)."""

    __slots__ = ("executors", "unknown")

    def __init__(self) -> None:
        self.executors: set[str] = set()
        self.unknown: set[tuple[str, str | None]] = set()

    @classmethod
    def of(cls, state: SchedulerState) -> _InUse:
        in_use = cls()
        for task in [*state.running.values(), *state.orphans.values()]:
            if task.executor_id is not None:
                in_use.executors.add(task.executor_id)
            else:
                job = state.jobs.get(task.task_id.job_name)
                in_use.unknown.add((task.task_id.agent_id, job.app_name if job is not None else None))
        return in_use

    def holds(self, executor: str, agent_id: str) -> bool:
        if executor in self.executors or (agent_id, None) in self.unknown:
            return True
        ref = ExecutorRef.parse(executor)
        return ref is None or (agent_id, ref.app_name) in self.unknown
