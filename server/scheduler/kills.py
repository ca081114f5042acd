"""Killing tasks: one task, every task of a job (updated or disabled), the tasks of a job removed.

A kill that cannot be sent (no subscription, a failed call) is not retried here: reconciliation
after the next subscribe, or the task's next status update, finds the task still active, and the
kill is sent again then (see ``task_updates``).
"""

from __future__ import annotations

import logging

from server.domain.task import TaskId
from server.mesos.errors import MesosError
from server.scheduler.state import SchedulerState

log = logging.getLogger("server.scheduler")


class Kills:
    def __init__(self, state: SchedulerState) -> None:
        self._state = state

    async def send(self, task_id: TaskId) -> None:
        mesos = self._state.mesos
        if mesos is None:
            return  # reconciliation after subscribing finds it; the kill is sent then
        try:
            await mesos.kill(str(task_id), task_id.agent_id)
            log.info("kill sent for task %s", task_id)
        except MesosError as exc:
            log.warning("kill of %s failed (%s); it will be retried after reconciliation", task_id, exc)

    async def kill_job_tasks(self, job_name: str) -> None:
        """Kill the job's running tasks; their ends are recorded as they come, none requeued."""
        running = self._state.running
        self._state.killing_jobs.add(job_name)
        for shard, task in running.items():
            if shard.job_name == job_name and not task.killing:
                task.killing = True
                await self.send(task.task_id)
        if not any(shard.job_name == job_name for shard in running):
            self._state.killing_jobs.discard(job_name)

    async def drop_job(self, job_name: str) -> None:
        """Forget a job that is gone (the registry dropped its nodes) and kill its tasks, which are
        followed as orphans until they end."""
        state = self._state
        state.touch(job_name)
        state.forget_job(job_name)
        for task in state.end_runs(job_name):
            await self.send(task.task_id)
