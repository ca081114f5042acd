"""Task status updates: what each state means for the shard's task and its job.

An update is recorded before it is acknowledged (the Mesos client acknowledges after
``on_update`` returns), so a crash in between makes Mesos resend it.

- FINISHED ends the shard's task. FAILED / ERROR / LOST / DROPPED / GONE / GONE_BY_OPERATOR
  queue the shard for failover when the job has ``failover`` on or is DAEMON, and always when
  the task never started (its offer was invalid, it was dropped before running, or the master
  refused the ACCEPT or it could not be sent): a run that never ran is not lost. Each re-queue
  waits out the shard's backoff (``failover_backoff``: about 1 s doubling to 5 minutes, counted
  over failures in a row, restarted by a FINISHED task), kept with the failover node so that a
  successor keeps it too.
- KILLED of a DAEMON task brings the job back to the ready queue (unless it was disabled or
  deregistered); of one shard killed from outside while others run, just that shard is re-run.
- UNKNOWN (the master does not know the task, as after a restarted agent), and no answer at all
  to reconciliation resent with backoff (``unanswered``), end the task as LOST at once: failover
  or a DAEMON relaunch follow as for any lost task. UNREACHABLE keeps the task (its agent may
  come back), which the Mesos client's reconciliation (after every subscribe, then
  periodically) asks about again; after ``unknown_limit`` such answers in a row it is treated as
  LOST.
- A task of a removed job, or one being killed, that still reports itself active is killed
  again; so is any active task the core does not track (say, a second task of a shard).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from server.domain.task import TaskId, TaskIdError
from server.mesos.states import ACTIVE_STATES, FAILURE_STATES, STARTED_STATES, UNCERTAIN_STATES
from server.registry.failover import FailoverEntry
from server.registry.running import RunningTasks
from server.registry.state_transactions import StateTransactions
from server.scheduler.kills import Kills
from server.scheduler.ready_runs import ReadyRuns
from server.scheduler.state import TRANSACTION_ATTEMPTS, SchedulerState, TrackedTask

log = logging.getLogger("server.scheduler")

NEVER_STARTED_REASONS = frozenset({"REASON_INVALID_OFFERS"})
#: Answers of a master that does not know the task at all.
MASTER_FORGOT_STATES = frozenset({"TASK_UNKNOWN"})


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """The parts of a Mesos ``TaskStatus`` the core reads."""

    task_id: TaskId
    text: str  # the task id as sent
    state: str
    reason: str
    message: str

    @classmethod
    def from_json(cls, status: dict[str, Any]) -> StatusUpdate | None:
        """The update, or None (logged) when the task id is not one of ours."""
        text = str(status.get("task_id", {}).get("value", ""))
        state = str(status.get("state", ""))
        try:
            task_id = TaskId.parse(text)
        except TaskIdError:
            log.warning("update for a task id not ours: %s (%s)", text, state)
            return None
        return cls(task_id, text, state, str(status.get("reason", "")), str(status.get("message", "")))


class TaskUpdates:
    def __init__(
        self,
        state: SchedulerState,
        transactions: StateTransactions,
        running: RunningTasks,
        ready_runs: ReadyRuns,
        kills: Kills,
        *,
        on_decided: Callable[[TrackedTask, str, str, str], None] | None = None,
    ) -> None:
        self._state = state
        #: Hears each end recorded without a status update saying so (task, state, reason, message).
        self._on_decided = on_decided
        self._transactions = transactions
        self._running = running
        self._ready_runs = ready_runs
        self._kills = kills

    async def handle(self, update: StatusUpdate) -> bool:
        """Record ``update``; returns whether it ended a tracked task (work may launch now)."""
        state = self._state
        task_text, task_id, task_state = update.text, update.task_id, update.state
        orphan = state.orphans.get(task_text)
        if orphan is not None:
            if task_state not in ACTIVE_STATES and task_state not in UNCERTAIN_STATES:
                del state.orphans[task_text]
                log.info("task %s of a removed job ended: %s", task_text, task_state)
            elif task_state in ACTIVE_STATES and task_state != "TASK_KILLING":
                await self._kills.send(task_id)  # still alive: the kill was lost, send it again
            return False
        task = state.running.get(task_id.shard)
        if task is None or str(task.task_id) != task_text:
            if task_state in ACTIVE_STATES and task_state != "TASK_KILLING":
                # Every task we want is tracked (recorded before its launch): one we do not
                # track (its job is gone, or another task now runs the shard) must stop.
                log.warning("task %s is %s but not tracked: killing it", task_text, task_state)
                await self._kills.send(task_id)
            else:
                log.debug("update for untracked task %s: %s", task_text, task_state)
            return False
        if task_state in ACTIVE_STATES:
            task.unknown_answers = 0
            if task_state in STARTED_STATES:
                task.started = True
            if task.killing and task_state != "TASK_KILLING":
                await self._kills.send(task_id)
            return False
        if task_state in MASTER_FORGOT_STATES:
            # The master does not know the task (say, its agent was restarted under a new id):
            # it will never report on it again, so it is lost now (Mesos reconciliation guidance).
            log.warning("task %s is %s (%s); treating it as lost", task_text, task_state, update.reason)
            task_state = "TASK_LOST"
        elif task_state in UNCERTAIN_STATES:
            task.unknown_answers += 1
            if task.unknown_answers < state.settings.unknown_limit:
                log.warning(
                    "task %s is %s (%s); keeping it and reconciling", task_text, task_state, update.reason
                )
                return False
            log.warning("task %s stayed %s; treating it as lost", task_text, task_state)
            task_state = "TASK_LOST"
        await self.task_ended(
            task, task_state, update.reason, update.message, reported=task_state == update.state
        )
        return True

    async def unanswered(self, task_texts: list[str]) -> bool:
        """Reconciliation got no answer for these tasks: the tracked ones end as LOST. Returns
        whether one did."""
        state = self._state
        ended = False
        for text in task_texts:
            state.orphans.pop(text, None)  # of a removed job: nothing is left to kill
            try:
                shard = TaskId.parse(text).shard
            except TaskIdError:
                continue
            task = state.running.get(shard)
            if task is not None and str(task.task_id) == text:
                await self.task_ended(
                    task, "TASK_LOST", "REASON_RECONCILIATION", "no answer to reconciliation"
                )
                ended = True
        return ended

    async def task_ended(
        self, task: TrackedTask, task_state: str, reason: str, message: str, *, reported: bool = False
    ) -> None:
        """Record the end of ``task`` and queue again what must run again. ``reported``: a status
        update said so (else the end is the scheduler's own decision, and ``on_decided`` hears it)."""
        if not reported and self._on_decided is not None:
            self._on_decided(task, task_state, reason, message)
        state = self._state
        shard = task.task_id.shard
        job = state.jobs.get(shard.job_name)
        never_started = not task.started and (reason in NEVER_STARTED_REASONS or task_state == "TASK_DROPPED")
        requeue_failover = False
        requeue_ready = False
        if job is not None and task_state in FAILURE_STATES and not task.killing:
            requeue_failover = job.failover or job.is_daemon or never_started
        if job is not None and job.is_daemon and task_state == "TASK_KILLED" and state.enabled(job):
            last_of_job = not any(s.job_name == shard.job_name and s != shard for s in state.running)
            if last_of_job:
                requeue_ready = shard.job_name not in state.ready
            elif shard.job_name not in state.killing_jobs:
                requeue_failover = True  # one shard killed from outside: re-run just that shard

        attempts = state.failover_attempts.pop(shard, 0)
        entry = ""
        if requeue_failover:
            delay = state.settings.failover_backoff.delay(attempts)
            entry = FailoverEntry(str(task.task_id), attempts + 1, state.epoch() + delay).encode()
        elif task_state in FAILURE_STATES and attempts:
            state.failover_attempts[shard] = attempts  # not requeued: a later failure goes on counting
        parents = state.parents({shard.job_name})
        for _ in range(TRANSACTION_ATTEMPTS):
            ops = self._transactions.end_ops(
                shard,
                parents,
                failover_entry=entry,
                requeue_failover=requeue_failover,
                requeue_ready=requeue_ready,
            )
            if (await self._transactions.commit([ops])).committed:
                break
            # A node was already gone (deregistered meanwhile), a ready node appeared, or the
            # parent nodes are not as memory says: re-read.
            if requeue_ready:
                await self._ready_runs.reload([shard.job_name])
                requeue_ready = shard.job_name not in state.ready
            if not await self._running.exists(shard):
                state.running.pop(shard, None)
                return
            parents = await self._transactions.parents({shard.job_name})
        else:
            log.error("could not record the end of task %s", task.task_id)
            return
        state.touch(shard.job_name)
        del state.running[shard]
        if requeue_failover:
            state.failover[shard] = entry
        if requeue_ready:
            state.ready[shard.job_name] = (1, 0)
        if not any(s.job_name == shard.job_name for s in state.running):
            state.killing_jobs.discard(shard.job_name)
        outcome = "requeued" if requeue_ready else "done"
        if requeue_failover:
            retry = FailoverEntry.decode(entry)
            outcome = (
                f"queued for failover (attempt {retry.attempts}, in {retry.retry_at - state.epoch():.1f} s)"
            )
        level = logging.INFO if task_state == "TASK_FINISHED" else logging.WARNING
        log.log(
            level,
            "task %s %s %s%s; %s",
            task.task_id,
            task_state,
            reason,
            f" ({message})" if message else "",
            outcome,
        )
