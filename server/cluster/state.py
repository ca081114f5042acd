"""The ``GET /state`` document: what the embedded cluster is running, as one JSON object.

Shaped after the Mesos master's ``/state`` (frameworks with their tasks and executors), with the
agent's view merged in so that one request answers "where is my task's output?"::

    {
      "master": {"id", "hostname", "port", "scheduler_api", "version", "start_time"},
      "agents": [{"id", "hostname", "port", "executor_api", "work_dir",
                  "resources", "used_resources", "offered_resources", "available_resources",
                  "reaped_orphans"}],
      "frameworks": [<framework>],            # registered (connected or within failover timeout)
      "completed_frameworks": [<framework>]   # removed (torn down, failover timeout passed)
    }

    <framework> = {"id", "name", "user", "roles", "capabilities", "connected", "active",
                   "failover_timeout", "registered_time", "reregistered_time",
                   "unregistered_time", "removed_time", "suppressed_roles",
                   "offers": [{"id", "role", "resources"}],
                   "tasks": [<task>], "completed_tasks": [<task>],
                   "executors": [<executor>], "completed_executors": [<executor>]}
    <task> = {"id", "name", "framework_id", "agent_id", "executor_id", "state", "resources",
              "sandbox", "unacknowledged_updates",
              "statuses": [{"state", "timestamp", "source", "message"?, "reason"?}]}
    <executor> = {"id", "framework_id", "type": "CUSTOM" | "COMMAND", "state", "run_id", "sandbox",
                  "pid", "exit_status", "tasks": [ids], "queued_tasks": [ids],
                  "completed_tasks": [ids]}

Resources are ``{name: value}``; times are seconds since the epoch. ``tasks`` holds tasks until
their terminal update is acknowledged; ``completed_tasks`` the most recent finished ones.
"""

from __future__ import annotations

from typing import Any

from server.cluster.agent.core import Agent
from server.cluster.agent.records import ExecutorRun, ExecutorState
from server.cluster.master.core import VERSION, Master
from server.cluster.master.records import Framework, MasterTask
from server.mesos.values import JsonObject

__all__ = ["cluster_state"]


def cluster_state(master: Master, agent: Agent) -> JsonObject:
    """Build the ``/state`` document (see the module docstring)."""
    runs = agent.executors()
    sandbox_of_task: dict[tuple[str, str], str] = {}
    for run in reversed(runs):  # live runs last, so they win over finished runs of the same id
        for task_id in [*run.tasks, *(task.task_id for task in run.completed_tasks)]:
            sandbox_of_task[(run.framework_id, task_id)] = str(run.sandbox)
    runs_of: dict[str, list[ExecutorRun]] = {}
    for run in runs:
        runs_of.setdefault(run.framework_id, []).append(run)

    def task_json(task: MasterTask) -> JsonObject:
        return {
            "id": task.task_id,
            "name": task.name,
            "framework_id": task.framework_id,
            "agent_id": task.agent_id,
            "executor_id": task.executor_id or task.task_id,
            "state": task.state,
            "resources": task.resources.quantities(),
            "sandbox": sandbox_of_task.get((task.framework_id, task.task_id)),
            "statuses": [dict(entry) for entry in task.history],
            "unacknowledged_updates": len(agent.pending_updates(task.framework_id, task.task_id)),
        }

    def framework_json(framework: Framework, *, active: bool) -> JsonObject:
        framework_runs = runs_of.get(framework.framework_id, [])
        info = framework.info
        return {
            "id": framework.framework_id,
            "name": info.get("name"),
            "user": info.get("user"),
            "roles": list(framework.roles),
            "capabilities": sorted(framework.capabilities),
            "connected": framework.connected,
            "active": active,
            "failover_timeout": framework.failover_timeout,
            "registered_time": framework.registered_at,
            "reregistered_time": framework.reregistered_at,
            "unregistered_time": framework.disconnected_at,
            "removed_time": framework.removed_at,
            "suppressed_roles": master.suppressed_roles(framework.framework_id) if active else [],
            "offers": [
                {"id": offer.offer_id, "role": offer.role, "resources": offer.resources.quantities()}
                for offer in framework.offers.values()
            ],
            "tasks": [task_json(task) for task in framework.tasks.values()],
            "completed_tasks": [task_json(task) for task in reversed(framework.completed_tasks)],
            "executors": [
                _executor_json(run) for run in framework_runs if run.state is not ExecutorState.TERMINATED
            ],
            "completed_executors": [
                _executor_json(run) for run in framework_runs if run.state is ExecutorState.TERMINATED
            ],
        }

    return {
        "master": {
            "id": master.master_id,
            "hostname": master.host,
            "port": master.port,
            "scheduler_api": f"http://{master.host}:{master.port}/api/v1/scheduler",
            "version": VERSION,
            "start_time": master.started_at,
        },
        "agents": [
            {
                "id": agent.agent_id,
                "hostname": agent.hostname,
                "port": agent.port,
                "executor_api": f"http://{agent.endpoint}/api/v1/executor",
                "work_dir": str(agent.work_dir),
                "resources": agent.resources.quantities(),
                "used_resources": master.used_resources().quantities(),
                "offered_resources": master.offered_resources().quantities(),
                "available_resources": master.available_resources().quantities(),
                "reaped_orphans": list(agent.reaped_orphans),
            }
        ],
        "frameworks": [framework_json(framework, active=True) for framework in master.frameworks()],
        "completed_frameworks": [
            framework_json(framework, active=False) for framework in reversed(master.completed_frameworks())
        ],
    }


def _executor_json(run: ExecutorRun) -> dict[str, Any]:
    return {
        "id": run.executor_id,
        "framework_id": run.framework_id,
        "type": "COMMAND" if run.command_task else "CUSTOM",
        "state": run.state.value,
        "run_id": run.run_id,
        "sandbox": str(run.sandbox),
        "pid": run.process.pid if run.process is not None else None,
        "exit_status": run.exit_status,
        "tasks": list(run.tasks),
        "queued_tasks": list(run.queued),
        "completed_tasks": [task.task_id for task in run.completed_tasks],
    }
