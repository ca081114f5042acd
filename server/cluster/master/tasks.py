"""The master's side of the task lifecycle: launching, killing, reconciling, and what the agent
reports about tasks and executors.

* ``ACCEPT`` must name valid outstanding offers of the framework, else every task it launches gets
  ``TASK_DROPPED`` (``TASK_LOST`` without PARTITION_AWARE) with ``REASON_INVALID_OFFERS`` and no
  uuid. Each task must pass :func:`~server.mesos.launch.task_problem`, agree with the executors
  already running, and fit what is left of the offers, else it gets ``TASK_ERROR`` with
  ``REASON_TASK_INVALID``. What the launches leave unused is refused for ``filters.refuse_seconds``.
  ``LAUNCH_GROUP`` tasks get ``TASK_ERROR``; other operations (reservations, volumes) are ignored.
* ``RECONCILE`` answers, without uuid and with ``REASON_RECONCILIATION``: for listed tasks the
  state of the update being delivered (else the latest); for a task the master does not know,
  ``TASK_GONE`` when it names this agent (the agent is registered, so the task is not on it) and
  ``TASK_UNKNOWN`` when it names no agent or another one, both ``TASK_LOST`` for a framework that
  is not PARTITION_AWARE (``Master::_reconcileTasks`` in Mesos' ``src/master/master.cpp``); with
  an empty list, every task the master still tracks.
* ``KILL`` of a task the master does not know is answered as the reconciliation of that task.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from server.cluster.agent.core import Agent
from server.cluster.master.offers import OfferBook
from server.cluster.master.records import Framework, MasterExecutor, MasterTask
from server.cluster.resources import ResourceError, Resources
from server.mesos.calls import refuse_seconds
from server.mesos.events import failure_event, message_event, update_event
from server.mesos.launch import executor_conflict, normalized_executor, operation_tasks, task_problem
from server.mesos.status import task_status
from server.mesos.values import JsonObject, id_value, id_values

__all__ = ["TaskBook"]

logger = logging.getLogger("server.cluster.master")


class TaskBook:
    """Launches, kills and reconciles the tasks of the master's frameworks; it is also the
    agent's :class:`~server.cluster.agent.core.MasterLink` (what the agent tells the master)."""

    def __init__(self, agent: Agent, offers: OfferBook, frameworks: Mapping[str, Framework]) -> None:
        self._agent = agent
        self._offers = offers
        self._frameworks = frameworks

    def accept(self, framework: Framework, accept: JsonObject) -> None:
        offers, problem = self._offers.take(framework, id_values(accept.get("offer_ids")))
        operations = [item for item in accept.get("operations") or [] if isinstance(item, dict)]
        if problem is not None:
            logger.warning(
                "ACCEPT from framework %s with invalid offers: %s", framework.framework_id, problem
            )
            for operation in operations:
                for task in operation_tasks(operation):
                    self._master_update(
                        framework,
                        task,
                        framework.dropped_task_state,
                        "REASON_INVALID_OFFERS",
                        f"Task launched with invalid offers: {problem}",
                    )
            self._offers.request_allocation()
            return
        pool = Resources()
        for taken in offers:
            pool = pool + taken.resources
        role = offers[0].role
        for operation in operations:
            kind = operation.get("type")
            if kind == "LAUNCH":
                for task in operation_tasks(operation):
                    pool = self._launch(framework, task, pool)
            elif kind == "LAUNCH_GROUP":
                for task in operation_tasks(operation):
                    self._master_update(
                        framework,
                        task,
                        "TASK_ERROR",
                        "REASON_TASK_INVALID",
                        "LAUNCH_GROUP is not supported by the embedded cluster",
                    )
            else:
                logger.warning(
                    "ignoring unsupported %s operation from framework %s", kind, framework.framework_id
                )
        self._offers.refuse(framework, role, pool, refuse_seconds(accept))
        self._offers.request_allocation()

    def kill(self, framework: Framework, kill: JsonObject) -> None:
        task_id = str(id_value(kill.get("task_id")))
        task = framework.tasks.get(task_id)
        if task is None:
            status = self._unknown_task_status(framework, task_id, id_value(kill.get("agent_id")))
            logger.info("KILL of unknown task %s: answering %s", task_id, status["state"])
            framework.send(update_event(status))
            return
        if task.terminal:
            logger.info("KILL of task %s ignored: it is already %s", task_id, task.state)
            return
        policy = kill.get("kill_policy")
        self._agent.kill_task(framework.framework_id, task_id, policy if isinstance(policy, dict) else None)

    def reconcile(self, framework: Framework, entries: list[Any]) -> None:
        statuses: list[JsonObject] = []
        if not entries:
            statuses = [_reconciliation_status(task) for task in framework.tasks.values()]
        for entry in entries:
            task_id = str(id_value(entry.get("task_id")))
            known = framework.tasks.get(task_id)
            if known is not None:
                statuses.append(_reconciliation_status(known))
            else:
                statuses.append(
                    self._unknown_task_status(framework, task_id, id_value(entry.get("agent_id")))
                )
        for status in statuses:
            framework.send(update_event(status))

    def _unknown_task_status(self, framework: Framework, task_id: str, agent_id: str | None) -> JsonObject:
        """The reconciliation answer for a task the master does not know (see the module docstring)."""
        if agent_id is not None and agent_id == self._agent.agent_id:
            state = "TASK_GONE" if framework.partition_aware else "TASK_LOST"
            message = "Reconciliation: Task is unknown to the agent"
        else:
            state = framework.unknown_task_state
            message = "Reconciliation: Task is unknown"
        return task_status(
            task_id,
            state,
            source="SOURCE_MASTER",
            agent_id=agent_id,
            reason="REASON_RECONCILIATION",
            message=message,
        )

    def _launch(self, framework: Framework, task: JsonObject, pool: Resources) -> Resources:
        """Validate one task against the framework and what is left of the offers; launch it.
        Returns the resources still unused."""
        problem = self._task_problem(framework, task)
        needed = Resources()
        executor_info: JsonObject | None = None
        new_executor: MasterExecutor | None = None
        if problem is None:
            try:
                needed = Resources.from_json(task.get("resources") or [])
                if "executor" in task:
                    executor_info = normalized_executor(task["executor"], framework.framework_id)
                    executor_id = str(executor_info["executor_id"]["value"])
                    if executor_id not in framework.executors:
                        executor_resources = Resources.from_json(executor_info.get("resources") or [])
                        new_executor = MasterExecutor(executor_id, executor_info, executor_resources)
                        needed = needed + executor_resources
            except ResourceError as exc:
                problem = f"Task uses invalid resources: {exc}"
        if problem is None and not pool.contains(needed):
            problem = f"Task uses more resources {needed} than available {pool}"
        if problem is not None:
            logger.warning("task %s refused: %s", id_value(task.get("task_id")), problem)
            self._master_update(framework, task, "TASK_ERROR", "REASON_TASK_INVALID", problem)
            return pool
        task_id = str(task["task_id"]["value"])
        launched = dict(task)
        if executor_info is not None:
            launched["executor"] = executor_info
        if new_executor is not None:
            framework.executors[new_executor.executor_id] = new_executor
        agent_id = self._agent.agent_id
        master_task = MasterTask(
            framework_id=framework.framework_id,
            task_id=task_id,
            name=str(task.get("name", "")),
            agent_id=agent_id,
            executor_id=str(executor_info["executor_id"]["value"]) if executor_info is not None else None,
            info=launched,
            resources=Resources.from_json(task.get("resources") or []),
            latest=task_status(task_id, "TASK_STAGING", source="SOURCE_MASTER", agent_id=agent_id),
        )
        master_task.record(master_task.latest)
        framework.tasks[task_id] = master_task
        logger.info("launching task %s of framework %s with %s", task_id, framework.framework_id, needed)
        self._agent.launch_task(framework.info, launched)
        return pool - needed

    def _task_problem(self, framework: Framework, task: JsonObject) -> str | None:
        """What the master's task validation refuses (TASK_ERROR)."""
        problem = task_problem(
            task,
            agent_id=self._agent.agent_id,
            framework_id=framework.framework_id,
            task_ids=framework.tasks,
        )
        if problem is not None or "executor" not in task:
            return problem
        executor_id = str(task["executor"]["executor_id"]["value"])
        command_task = framework.tasks.get(executor_id)
        if command_task is not None and command_task.executor_id is None:
            return f"Executor ID '{executor_id}' is in use by a command task"
        existing = framework.executors.get(executor_id)
        return executor_conflict(
            task["executor"], existing.info if existing is not None else None, framework.framework_id
        )

    def _master_update(
        self, framework: Framework, task: JsonObject, state: str, reason: str, message: str
    ) -> None:
        """An update the master generates for a task it did not launch (no uuid: not acknowledged)."""
        status = task_status(
            str(id_value(task.get("task_id"))),
            state,
            source="SOURCE_MASTER",
            agent_id=id_value(task.get("agent_id")),
            reason=reason,
            message=message,
        )
        framework.send(update_event(status))

    def task_updated(self, framework_id: str, status: JsonObject) -> None:
        framework = self._frameworks.get(framework_id)
        task = framework.tasks.get(str(status["task_id"]["value"])) if framework else None
        if task is None:
            return
        was_terminal = task.terminal
        task.record(status)
        if task.terminal and not was_terminal:
            self._offers.request_allocation()

    def forward_update(self, framework_id: str, status: JsonObject) -> None:
        framework = self._frameworks.get(framework_id)
        if framework is None:
            return
        task = framework.tasks.get(str(status["task_id"]["value"]))
        if task is not None:
            task.delivering = status
        framework.send(update_event(status))

    def task_removed(self, framework_id: str, task_id: str) -> None:
        framework = self._frameworks.get(framework_id)
        task = framework.tasks.pop(task_id, None) if framework else None
        if framework is not None and task is not None:
            task.delivering = None
            framework.completed_tasks.append(task)

    def executor_terminated(self, framework_id: str, executor_id: str, status: int | None) -> None:
        framework = self._frameworks.get(framework_id)
        if framework is None:
            return
        framework.executors.pop(executor_id, None)
        framework.send(failure_event(agent_id=self._agent.agent_id, executor_id=executor_id, status=status))
        self._offers.request_allocation()

    def executor_message(self, framework_id: str, executor_id: str, data: str) -> None:
        framework = self._frameworks.get(framework_id)
        if framework is not None:
            framework.send(message_event(self._agent.agent_id, executor_id, data))


def _reconciliation_status(task: MasterTask) -> JsonObject:
    state = task.delivering["state"] if task.delivering is not None else task.state
    return task_status(
        task.task_id,
        str(state),
        source="SOURCE_MASTER",
        agent_id=task.agent_id,
        executor_id=task.executor_id,
        reason="REASON_RECONCILIATION",
        message="Reconciliation: Latest task state",
    )
