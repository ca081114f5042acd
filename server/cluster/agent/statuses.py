"""The status updates of the agent's tasks, from where they are made to the master.

Updates the agent makes (for command tasks, failed launches, ended executors) and updates its
executors send are recorded in the :class:`~server.cluster.agent.updates.StatusUpdateManager`
(ordered, resent until acknowledged); each recorded update becomes the task's latest state and is
reported to the master (:class:`MasterLink`), which delivers it to the framework. Once a task's
terminal update is acknowledged the agent forgets the task. Updates of a removed framework only
change the task's latest state.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Protocol

from server.cluster.agent.records import AgentFramework, AgentTask, ExecutorRun
from server.cluster.agent.updates import AddOutcome, StatusUpdateManager
from server.cluster.settings import AgentSettings
from server.mesos.status import task_status
from server.mesos.values import JsonObject

__all__ = ["MasterLink", "TaskStatuses"]

logger = logging.getLogger("server.cluster.agent")


class MasterLink(Protocol):
    """What the agent tells the master (in Mesos: messages from agent to master)."""

    def task_updated(self, framework_id: str, status: JsonObject) -> None:
        """A task has a new latest state (recorded, not necessarily delivered yet)."""

    def forward_update(self, framework_id: str, status: JsonObject) -> None:
        """Deliver this (reliable) update to the framework."""

    def task_removed(self, framework_id: str, task_id: str) -> None:
        """The task's terminal update was acknowledged: the agent has forgotten it."""

    def executor_terminated(self, framework_id: str, executor_id: str, status: int | None) -> None:
        """A custom executor is gone (``status``: its wait status, ``None`` if it never ran)."""

    def executor_message(self, framework_id: str, executor_id: str, data: str) -> None:
        """An executor sent a framework message (``data`` base64)."""


class TaskStatuses:
    """Records task status updates and reports them to the master (see the module docstring)."""

    def __init__(
        self,
        settings: AgentSettings,
        *,
        agent_id: str,
        frameworks: Mapping[str, AgentFramework],
        forget_if_done: Callable[[AgentFramework], None],
    ) -> None:
        self._agent_id = agent_id
        self._frameworks = frameworks
        self._forget_if_done = forget_if_done
        #: Where recorded updates are reported; ``None`` until a master is attached.
        self.link: MasterLink | None = None
        self._updates = StatusUpdateManager(
            recorded=self._recorded,
            forward=self._forward,
            closed=self._closed,
            retry_interval=settings.update_retry_interval,
            retry_interval_max=settings.update_retry_interval_max,
        )

    def start(self) -> None:
        self._updates.start()

    async def stop(self) -> None:
        await self._updates.stop()

    def agent_update(
        self,
        run: ExecutorRun,
        task: AgentTask,
        state: str,
        reason: str | None,
        message: str,
        *,
        source: str = "SOURCE_AGENT",
    ) -> None:
        """Record an update the agent (or its built-in command executor) generates."""
        status = task_status(
            task.task_id,
            state,
            source=source,
            agent_id=self._agent_id,
            executor_id=run.executor_id,
            reason=reason,
            message=message,
            reliable=True,
        )
        framework = self._frameworks.get(run.framework_id)
        if framework is None or framework.removed:
            task.latest = status
            return
        self._updates.add(run.framework_id, status)

    def executor_update(
        self, framework: AgentFramework, run: ExecutorRun, status: JsonObject
    ) -> JsonObject | None:
        """Record a (validated) update an executor sent; returns it as recorded (with the agent's
        and the executor's ids), ``None`` for a task the executor does not run."""
        task_id = str(status["task_id"]["value"])
        task = run.tasks.get(task_id)
        if task is None:
            logger.warning(
                "executor %s sent an update for unknown task %s; dropped", run.executor_id, task_id
            )
            return None
        status = dict(status)
        status["agent_id"] = {"value": self._agent_id}
        status["executor_id"] = {"value": run.executor_id}
        status.setdefault("timestamp", time.time())
        if framework.removed:
            task.latest = status
        else:
            outcome = self._updates.add(run.framework_id, status)
            if outcome != AddOutcome.ACCEPTED:
                logger.info("update %s of task %s not recorded again: %s", status["state"], task_id, outcome)
        return status

    def acknowledge(self, framework_id: str, task_id: str, uuid_text: str) -> bool:
        acknowledged = self._updates.acknowledge(framework_id, task_id, uuid_text)
        if not acknowledged:
            logger.info("ignoring acknowledgement %s of task %s: not the pending update", uuid_text, task_id)
        return acknowledged

    def resend(self, framework_id: str) -> None:
        self._updates.resend(framework_id)

    def drop_framework(self, framework_id: str) -> None:
        self._updates.drop_framework(framework_id)

    def pending(self, framework_id: str, task_id: str) -> list[JsonObject]:
        return self._updates.pending(framework_id, task_id)

    def _recorded(self, framework_id: str, status: JsonObject) -> None:
        framework = self._frameworks.get(framework_id)
        task_id = str(status["task_id"]["value"])
        run = framework.task_owner.get(task_id) if framework else None
        task = run.tasks.get(task_id) if run else None
        if task is not None:
            task.latest = status
        logger.info(
            "task %s is %s%s",
            task_id,
            status["state"],
            f": {status['message']}" if status.get("message") else "",
        )
        if self.link is not None:
            self.link.task_updated(framework_id, status)

    def _forward(self, framework_id: str, status: JsonObject) -> None:
        if self.link is not None:
            self.link.forward_update(framework_id, status)

    def _closed(self, framework_id: str, task_id: str) -> None:
        framework = self._frameworks.get(framework_id)
        run = framework.task_owner.pop(task_id, None) if framework else None
        task = run.tasks.pop(task_id, None) if run else None
        if run is not None and task is not None:
            run.completed_tasks.append(task)
        if self.link is not None:
            self.link.task_removed(framework_id, task_id)
        if framework is not None:
            self._forget_if_done(framework)
