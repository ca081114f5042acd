"""What a master checks in the tasks of an ``ACCEPT``'s ``LAUNCH`` operations.

A task that fails these checks is not launched: the master answers it with ``TASK_ERROR`` and
``REASON_TASK_INVALID`` (the call itself was accepted). The checks follow Mesos'
``validation::task::internal::validateTask`` and ``validateExecutor`` in the order Mesos makes
them; what needs the master's state beyond the framework's task ids (executors already running,
resources left in the offers) is the master's own business.
"""

from __future__ import annotations

from collections.abc import Container
from typing import Any

from server.mesos.values import JsonObject, id_problem, id_value

__all__ = ["command_problem", "executor_conflict", "normalized_executor", "operation_tasks", "task_problem"]


def operation_tasks(operation: JsonObject) -> list[JsonObject]:
    """The ``TaskInfo`` objects of a ``LAUNCH`` (``launch.task_infos``) or ``LAUNCH_GROUP``
    (``launch_group.task_group.tasks``) operation; entries that are not objects are skipped."""
    if operation.get("type") == "LAUNCH_GROUP":
        group = (operation.get("launch_group") or {}).get("task_group") or {}
        return [task for task in group.get("tasks") or [] if isinstance(task, dict)]
    launch = operation.get("launch") or {}
    return [task for task in launch.get("task_infos") or [] if isinstance(task, dict)]


def normalized_executor(executor: JsonObject, framework_id: str) -> JsonObject:
    """``ExecutorInfo`` with ``framework_id`` filled in (as the master stores it)."""
    normalized = dict(executor)
    normalized.setdefault("framework_id", {"value": framework_id})
    return normalized


def executor_conflict(executor: JsonObject, running: JsonObject | None, framework_id: str) -> str | None:
    """Why a task naming ``executor`` cannot join ``running``, the ``ExecutorInfo`` (as stored by
    :func:`normalized_executor`) of the agent's live executor of that id, or ``None``.

    Mesos' ``validateCompatibleExecutorInfo``: an executor id names one ExecutorInfo while the
    executor lives; a task with another ExecutorInfo under that id is refused (TASK_ERROR)."""
    if running is None or running == normalized_executor(executor, framework_id):
        return None
    executor_id = id_value(executor.get("executor_id"))
    return f"ExecutorInfo is not compatible with the ExecutorInfo of running executor '{executor_id}'"


def command_problem(command: Any, where: str) -> str | None:
    """Why ``command`` (found at ``where``) is not a usable ``CommandInfo``, or ``None``.

    With ``shell`` (the default) ``value`` is the shell command and must be set; without it
    ``value`` (or the first of ``arguments``) is the program. Each of ``uris`` needs a ``value``.
    """
    if not isinstance(command, dict):
        return f"{where} is required"
    if command.get("shell", True) is not False and not (
        isinstance(command.get("value"), str) and command["value"]
    ):
        return f"{where}.value is required when {where}.shell is true"
    if command.get("shell", True) is False and not (command.get("value") or command.get("arguments")):
        return f"{where}.value is required"
    for uri in command.get("uris") or []:
        if not isinstance(uri, dict) or not isinstance(uri.get("value"), str):
            return f"{where}.uris entries need a 'value'"
    return None


def task_problem(
    task: JsonObject, *, agent_id: str, framework_id: str, task_ids: Container[str] = ()
) -> str | None:
    """Why ``task`` cannot be launched on agent ``agent_id`` by framework ``framework_id``, or
    ``None``.

    ``task_ids`` are the ids of the framework's live tasks (a duplicate is refused). Only
    ``CUSTOM`` executors are accepted. ``task`` has passed call validation (its ``task_id`` and
    ``agent_id`` are id objects).
    """
    task_id = str(task["task_id"]["value"])
    problem = id_problem(task_id)
    if problem is not None:
        return f"Task ID '{task_id}' is invalid: {problem}"
    if task_id in task_ids:
        return f"Task has duplicate ID: {task_id}"
    task_agent = id_value(task.get("agent_id"))
    if task_agent != agent_id:
        return f"Task uses agent {task_agent} but the offer is on agent {agent_id}"
    if ("command" in task) == ("executor" in task):
        return "Task should have at least one (but not both) of CommandInfo or ExecutorInfo present"
    if "command" in task:
        return command_problem(task["command"], "command")
    executor = task["executor"]
    if not isinstance(executor, dict):
        return "TaskInfo.executor must be an object"
    executor_id = id_value(executor.get("executor_id"))
    if executor_id is None:
        return "ExecutorInfo.executor_id is required"
    problem = id_problem(executor_id)
    if problem is not None:
        return f"Executor ID '{executor_id}' is invalid: {problem}"
    owner = id_value(executor.get("framework_id"))
    if owner is not None and owner != framework_id:
        return f"ExecutorInfo has an invalid FrameworkID (actual: {owner} vs expected: {framework_id})"
    if executor.get("type", "CUSTOM") != "CUSTOM":
        return f"Executor type {executor.get('type')} is not supported"
    return command_problem(executor.get("command"), "executor.command")
