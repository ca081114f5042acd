"""The agent's read-only HTTP endpoints, in the JSON shapes of a Mesos 1.x agent.

``/slave(1)/state`` (``/state``): the agent, ``flags.work_dir``, and its frameworks with their
executors (``directory`` is the executor's sandbox, ``container`` its container id) and tasks;
``/slave(1)/health`` (``/health``), ``/version`` and ``/metrics/snapshot`` (the ``slave/*``
metrics that apply). The agent keeps a task's latest status only, so its ``statuses`` hold one
entry (the master's ``/tasks`` has the whole history).
"""

from __future__ import annotations

import time

from aiohttp import web

from server.cluster.agent.core import Agent
from server.cluster.agent.records import AgentFramework, AgentTask, ExecutorRun, ExecutorState
from server.cluster.endpoints import add_get
from server.cluster.resources import Resources
from server.cluster.state import resources_json, task_json, version_json
from server.mesos.values import JsonObject

__all__ = ["AgentEndpoints", "agent_flags", "agent_state", "agent_task_json", "executor_resources"]


def _framework_role(framework: AgentFramework) -> str:
    info = framework.info
    roles = info.get("roles") or []
    if framework.has_capability("MULTI_ROLE") and roles:
        return str(roles[0])
    return str(info.get("role") or "*")


def agent_task_json(task: AgentTask, run: ExecutorRun, agent_id: str, role: str) -> JsonObject:
    """A task as the agent's ``/state`` shows it (``executor_id`` empty for a command task)."""
    latest = [task.latest] if task.latest is not None else []
    return task_json(
        task_id=task.task_id,
        name=str(task.info.get("name", "")),
        framework_id=run.framework_id,
        executor_id=None if run.command_task else run.executor_id,
        agent_id=agent_id,
        state=task.state,
        resources=list(task.info.get("resources") or []),
        statuses=latest,
        role=role,
    )


def _held(run: ExecutorRun) -> Resources:
    """What the executor and its live tasks hold."""
    total = Resources.from_json(run.info.get("resources") or [])
    for task in run.live_tasks:
        total = total + Resources.from_json(task.info.get("resources") or [])
    return total


def executor_resources(run: ExecutorRun) -> list[JsonObject]:
    """What the executor and its live tasks hold, as a ``Resource`` list."""
    return _held(run).to_json()


def _executor_json(run: ExecutorRun, agent_id: str, role: str) -> JsonObject:
    queued = set(run.queued)
    tasks = [task for task in run.tasks.values() if task.task_id not in queued]
    return {
        "id": run.executor_id,
        "name": str(run.info.get("name", "")),
        "source": str(run.info.get("source", run.executor_id if run.command_task else "")),
        "container": run.run_id,
        "directory": str(run.sandbox),
        "resources": resources_json(executor_resources(run)),
        "role": role,
        "type": "DEFAULT" if run.command_task else "CUSTOM",
        "tasks": [agent_task_json(task, run, agent_id, role) for task in tasks if not task.terminal],
        "queued_tasks": [
            agent_task_json(run.tasks[task_id], run, agent_id, role)
            for task_id in run.queued
            if task_id in run.tasks
        ],
        "completed_tasks": [
            agent_task_json(task, run, agent_id, role)
            for task in [*(t for t in tasks if t.terminal), *run.completed_tasks]
        ],
    }


def _framework_json(framework: AgentFramework, agent_id: str) -> JsonObject:
    info = framework.info
    role = _framework_role(framework)
    document: JsonObject = {
        "id": framework.framework_id,
        "name": str(info.get("name", "")),
        "user": str(info.get("user", "")),
        "failover_timeout": float(info.get("failover_timeout") or 0.0),
        "checkpoint": framework.checkpoint,
        "hostname": str(info.get("hostname", "")),
    }
    if framework.has_capability("MULTI_ROLE"):
        document["roles"] = list(info.get("roles") or [])
    else:
        document["role"] = role
    live, done = framework.runs()
    document["executors"] = [_executor_json(run, agent_id, role) for run in live]
    document["completed_executors"] = [_executor_json(run, agent_id, role) for run in done]
    return document


def agent_flags(agent: Agent) -> dict[str, str]:
    """The agent's flags as ``/state`` and ``GET_FLAGS`` show them."""
    return {
        "work_dir": str(agent.work_dir),
        "hostname": agent.hostname,
        "ip": agent.host,
        "port": str(agent.port),
        "executor_registration_timeout": f"{agent.settings.executor_registration_timeout}secs",
        "executor_shutdown_grace_period": f"{agent.settings.executor_shutdown_grace_period}secs",
    }


def agent_state(agent: Agent, *, master_hostname: str, started_at: float) -> JsonObject:
    """The agent's ``/state`` document."""
    frameworks = agent.frameworks()
    total = agent.resources.to_json()
    return {
        **version_json(),
        "start_time": started_at,
        "id": agent.agent_id,
        "pid": f"slave(1)@{agent.endpoint}",
        "hostname": agent.hostname,
        "capabilities": ["MULTI_ROLE"],
        "resources": resources_json(total),
        "reserved_resources": {},
        "unreserved_resources": resources_json(total),
        "reserved_resources_full": {},
        "unreserved_resources_full": total,
        "reserved_resources_allocated": {},
        "attributes": {},
        "master_hostname": master_hostname,
        "flags": agent_flags(agent),
        "frameworks": [_framework_json(f, agent.agent_id) for f in frameworks if not f.removed],
        "completed_frameworks": [_framework_json(f, agent.agent_id) for f in frameworks if f.removed],
    }


def agent_metrics(agent: Agent, started_at: float) -> dict[str, float]:
    """``/metrics/snapshot``: the ``slave/*`` metrics of Mesos that apply to this agent."""
    runs = agent.executors()
    live = [run for run in runs if run.state is not ExecutorState.TERMINATED]
    used = Resources()
    for run in live:
        used = used + _held(run)
    metrics: dict[str, float] = {
        "slave/registered": 1.0,
        "slave/uptime_secs": time.time() - started_at,
        "slave/executors_registering": float(sum(1 for r in live if r.state is ExecutorState.REGISTERING)),
        "slave/executors_running": float(sum(1 for r in live if r.state is ExecutorState.RUNNING)),
        "slave/executors_terminating": float(sum(1 for r in live if r.state is ExecutorState.TERMINATING)),
        "slave/executors_terminated": float(len(runs) - len(live)),
        "slave/frameworks_active": float(sum(1 for f in agent.frameworks() if not f.removed)),
    }
    tasks = [task for run in runs for task in [*run.tasks.values(), *run.completed_tasks]]
    for state in ("STAGING", "STARTING", "RUNNING", "KILLING", "FINISHED", "FAILED", "KILLED", "LOST"):
        metrics[f"slave/tasks_{state.lower()}"] = float(sum(1 for t in tasks if t.state == f"TASK_{state}"))
    for name in ("cpus", "mem", "disk", "gpus"):
        total = agent.resources.get(name)
        metrics[f"slave/{name}_total"] = total
        metrics[f"slave/{name}_used"] = used.get(name)
        metrics[f"slave/{name}_percent"] = used.get(name) / total if total else 0.0
    return metrics


class AgentEndpoints:
    """The aiohttp handlers of the agent's read-only endpoints."""

    def __init__(self, agent: Agent, *, master_hostname: str) -> None:
        self._agent = agent
        self._master_hostname = master_hostname
        self.started_at = time.time()

    def routes(self, app: web.Application) -> None:
        """Add every route of the module docstring to ``app``."""
        for prefix in ("", "/slave(1)"):
            add_get(app, prefix + "/state", self.state)
            add_get(app, prefix + "/state.json", self.state)
            add_get(app, prefix + "/health", self.health)
        add_get(app, "/version", self.version)
        add_get(app, "/metrics/snapshot", self.metrics)

    def document(self) -> JsonObject:
        return agent_state(self._agent, master_hostname=self._master_hostname, started_at=self.started_at)

    async def state(self, request: web.Request) -> web.Response:
        return web.json_response(self.document())

    async def health(self, request: web.Request) -> web.Response:
        return web.Response(status=200)

    async def version(self, request: web.Request) -> web.Response:
        return web.json_response(version_json())

    async def metrics(self, request: web.Request) -> web.Response:
        return web.json_response(agent_metrics(self._agent, self.started_at))
