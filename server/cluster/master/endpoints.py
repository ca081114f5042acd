"""The master's read-only HTTP endpoints, in the JSON shapes of a Mesos 1.x master.

``/master/state`` (``/state``), ``/master/slaves`` (``/slaves``, query ``slave_id``),
``/master/frameworks`` (``/frameworks``, query ``framework_id``), ``/master/tasks`` (``/tasks``:
``framework_id``, ``task_id``, ``order`` ``asc`` | ``des`` (the default, by the first status'
time), ``limit`` (default 100; a negative one means all) and ``offset``; values that are not
integers fall back to the default, as in Mesos), ``/master/state-summary``, ``/master/health``
(``/health``), ``/master/redirect`` (``307`` to this master: it is always the leader),
``/version`` and ``/metrics/snapshot``.

Times are seconds since the epoch. Terminal task counts in the metrics are the tasks the master
still remembers (``MasterSettings.history`` finished tasks per framework), not lifetime counters.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from aiohttp import web

from server.cluster.endpoints import add_get
from server.cluster.master.core import Master
from server.cluster.master.records import Framework, MasterExecutor, MasterTask, Offer
from server.cluster.resources import Resources
from server.cluster.state import VERSION, resources_json, task_json, version_json
from server.mesos.values import JsonObject

__all__ = [
    "DEFAULT_TASK_LIMIT",
    "MasterEndpoints",
    "agent_pid",
    "framework_json",
    "master_flags",
    "master_pid",
    "master_state",
    "master_tasks",
]

#: ``/tasks`` answers this many tasks when ``limit`` is not given (Mesos' ``TASK_LIMIT``).
DEFAULT_TASK_LIMIT = 100

_TASK_STATES = (
    "TASK_STAGING",
    "TASK_STARTING",
    "TASK_RUNNING",
    "TASK_KILLING",
    "TASK_FINISHED",
    "TASK_KILLED",
    "TASK_FAILED",
    "TASK_LOST",
    "TASK_ERROR",
    "TASK_DROPPED",
    "TASK_UNREACHABLE",
    "TASK_GONE",
    "TASK_GONE_BY_OPERATOR",
    "TASK_UNKNOWN",
)


def master_pid(master: Master) -> str:
    """The master's libprocess pid, ``master@ip:port``."""
    return f"master@{master.host}:{master.port}"


def agent_pid(master: Master) -> str:
    """The agent's libprocess pid, ``slave(1)@ip:port``: where its endpoints are."""
    return f"slave(1)@{master.agent.endpoint}"


def _master_task_json(task: MasterTask, role: str) -> JsonObject:
    return task_json(
        task_id=task.task_id,
        name=task.name,
        framework_id=task.framework_id,
        executor_id=task.executor_id,
        agent_id=task.agent_id,
        state=task.state,
        resources=list(task.info.get("resources") or []),
        statuses=task.history,
        role=role,
    )


def _offer_json(offer: Offer, agent_id: str) -> JsonObject:
    return {
        "id": offer.offer_id,
        "framework_id": offer.framework_id,
        "slave_id": agent_id,
        "resources": resources_json(offer.resources.to_json()),
    }


def _executor_json(executor: MasterExecutor, framework_id: str, agent_id: str) -> JsonObject:
    info = executor.info
    return {
        "executor_id": executor.executor_id,
        "name": str(info.get("name", "")),
        "framework_id": framework_id,
        "command": info.get("command") or {},
        "resources": resources_json(info.get("resources") or []),
        "slave_id": agent_id,
    }


def _framework_summary(framework: Framework, *, active: bool) -> JsonObject:
    info = framework.info
    return {
        "id": framework.framework_id,
        "name": str(info.get("name", "")),
        "used_resources": resources_json(framework.used_resources().to_json()),
        "offered_resources": resources_json(framework.offered_resources().to_json()),
        "capabilities": list(info.get("capabilities") or []),
        "hostname": str(info.get("hostname", "")),
        "webui_url": str(info.get("webui_url", "")),
        "active": active,
        "connected": active and framework.connected,
        "recovered": False,
    }


def framework_json(framework: Framework, agent_id: str, *, active: bool) -> JsonObject:
    """A framework as ``/master/state`` and ``/master/frameworks`` show it; ``active`` is false for
    a removed framework."""
    info = framework.info
    role = framework.roles[0] if framework.roles else "*"
    document = _framework_summary(framework, active=active and framework.connected)
    document.update(
        {
            "user": str(info.get("user", "")),
            "failover_timeout": framework.failover_timeout,
            "checkpoint": bool(info.get("checkpoint", False)),
            "registered_time": framework.registered_at,
            "unregistered_time": framework.disconnected_at or framework.removed_at or 0.0,
            "resources": resources_json(
                (framework.used_resources() + framework.offered_resources()).to_json()
            ),
        }
    )
    if info.get("principal"):
        document["principal"] = info["principal"]
    if framework.reregistered_at is not None:
        document["reregistered_time"] = framework.reregistered_at
    if framework.multi_role:
        document["roles"] = list(framework.roles)
    else:
        document["role"] = role
    document["tasks"] = [_master_task_json(task, role) for task in framework.tasks.values()]
    document["unreachable_tasks"] = []
    document["completed_tasks"] = [_master_task_json(task, role) for task in framework.completed_tasks]
    document["offers"] = [_offer_json(offer, agent_id) for offer in framework.offers.values()]
    document["executors"] = [
        _executor_json(executor, framework.framework_id, agent_id)
        for executor in framework.executors.values()
    ]
    if info.get("labels"):
        document["labels"] = info["labels"]
    return document


def _slave_json(master: Master) -> JsonObject:
    agent = master.agent
    total = agent.resources.to_json()
    return {
        "id": agent.agent_id,
        "hostname": agent.hostname,
        "port": agent.port,
        "attributes": {},
        "pid": agent_pid(master),
        "registered_time": master.started_at,
        "resources": resources_json(total),
        "used_resources": resources_json(master.used_resources().to_json()),
        "offered_resources": resources_json(master.offered_resources().to_json()),
        "reserved_resources": {},
        "unreserved_resources": resources_json(total),
        "active": True,
        "version": VERSION,
        "capabilities": ["MULTI_ROLE"],
    }


def _full_slave_json(master: Master) -> JsonObject:
    document = _slave_json(master)
    document["reserved_resources_full"] = {}
    document["unreserved_resources_full"] = master.agent.resources.to_json()
    document["used_resources_full"] = master.used_resources().to_json()
    document["offered_resources_full"] = master.offered_resources().to_json()
    return document


def _frameworks(master: Master, selected: Callable[[str], bool]) -> tuple[list[JsonObject], list[JsonObject]]:
    agent_id = master.agent.agent_id
    registered = [
        framework_json(framework, agent_id, active=True)
        for framework in master.frameworks()
        if selected(framework.framework_id)
    ]
    completed = [
        framework_json(framework, agent_id, active=False)
        for framework in master.completed_frameworks()
        if selected(framework.framework_id)
    ]
    return registered, completed


def master_flags(master: Master) -> dict[str, str]:
    """The master's flags as ``/master/state`` and ``GET_FLAGS`` show them."""
    settings = master.settings
    flags = {
        "hostname": master.host,
        "ip": master.host,
        "port": str(master.port),
        "max_completed_tasks_per_framework": str(settings.history),
        "max_completed_frameworks": str(settings.history),
        "allocation_interval": f"{settings.allocation_interval}secs",
    }
    if settings.offer_timeout is not None:
        flags["offer_timeout"] = f"{settings.offer_timeout}secs"
    return flags


def master_state(master: Master) -> JsonObject:
    """The ``/master/state`` document."""
    registered, completed = _frameworks(master, lambda _: True)
    pid = master_pid(master)
    return {
        **version_json(),
        "start_time": master.started_at,
        "elected_time": master.started_at,
        "id": master.master_id,
        "pid": pid,
        "hostname": master.host,
        "capabilities": [],
        "activated_slaves": 1,
        "deactivated_slaves": 0,
        "unreachable_slaves": 0,
        "leader": pid,
        "leader_info": master.master_info(),
        "flags": master_flags(master),
        "slaves": [_slave_json(master)],
        "recovered_slaves": [],
        "frameworks": registered,
        "completed_frameworks": completed,
        "orphan_tasks": [],
        "unregistered_frameworks": [],
    }


def _all_tasks(master: Master) -> Iterable[tuple[Framework, MasterTask]]:
    for framework in [*master.frameworks(), *master.completed_frameworks()]:
        for task in [*framework.tasks.values(), *framework.completed_tasks]:
            yield framework, task


def _integer(text: str | None, default: int) -> int:
    try:
        return int(text) if text is not None else default
    except ValueError:
        return default


def master_tasks(master: Master, query: dict[str, str]) -> JsonObject:
    """The ``/master/tasks`` document for a query (see the module docstring)."""
    framework_id = query.get("framework_id")
    task_id = query.get("task_id")
    found = [
        (framework, task)
        for framework, task in _all_tasks(master)
        if (framework_id is None or framework.framework_id == framework_id)
        and (task_id is None or task.task_id == task_id)
    ]

    def first_time(item: tuple[Framework, MasterTask]) -> float:
        history = item[1].history
        return float(history[0]["timestamp"]) if history else 0.0

    found.sort(key=first_time, reverse=query.get("order") != "asc")
    limit = _integer(query.get("limit"), DEFAULT_TASK_LIMIT)
    offset = _integer(query.get("offset"), 0)
    # Mesos reads negative numbers as huge unsigned ones: a negative offset finds nothing, a
    # negative limit takes every task from the offset on.
    end = len(found) if limit < 0 else offset + limit
    found = [] if offset < 0 else found[offset:end]
    return {
        "tasks": [
            _master_task_json(task, framework.roles[0] if framework.roles else "*")
            for framework, task in found
        ]
    }


def _state_counts(tasks: Iterable[MasterTask]) -> dict[str, int]:
    counts = dict.fromkeys(_TASK_STATES[:11], 0)
    for task in tasks:
        if task.state in counts:
            counts[task.state] += 1
    return counts


def state_summary(master: Master) -> JsonObject:
    """The ``/master/state-summary`` document: agents and frameworks with per-state task counts."""
    frameworks = master.frameworks()
    tasks_of = {f.framework_id: [*f.tasks.values(), *f.completed_tasks] for f in frameworks}
    slave = _slave_json(master)
    slave.update(_state_counts(task for tasks in tasks_of.values() for task in tasks))
    slave["framework_ids"] = [framework_id for framework_id, tasks in tasks_of.items() if tasks]
    summaries = []
    for framework in frameworks:
        summary = _framework_summary(framework, active=framework.connected)
        summary.update(_state_counts(tasks_of[framework.framework_id]))
        summary["slave_ids"] = [master.agent.agent_id] if tasks_of[framework.framework_id] else []
        summaries.append(summary)
    return {"hostname": master.host, "slaves": [slave], "frameworks": summaries}


def _percent(used: float, total: float) -> float:
    return used / total if total else 0.0


def master_metrics(master: Master) -> dict[str, float]:
    """``/metrics/snapshot``: the ``master/*`` metrics of Mesos that apply to this master."""
    frameworks = master.frameworks()
    total: Resources = master.agent.resources
    used = master.used_resources()
    connected = float(sum(1 for f in frameworks if f.connected))
    disconnected = len(frameworks) - connected
    metrics: dict[str, float] = {
        "master/elected": 1.0,
        "master/uptime_secs": time.time() - master.started_at,
        "master/slaves_active": 1.0,
        "master/slaves_inactive": 0.0,
        "master/slaves_connected": 1.0,
        "master/slaves_disconnected": 0.0,
        "master/slaves_unreachable": 0.0,
        "master/frameworks_active": connected,
        "master/frameworks_inactive": disconnected,
        "master/frameworks_connected": connected,
        "master/frameworks_disconnected": disconnected,
        "master/outstanding_offers": float(sum(len(f.offers) for f in frameworks)),
    }
    for name in ("cpus", "mem", "disk", "gpus"):
        metrics[f"master/{name}_total"] = total.get(name)
        metrics[f"master/{name}_used"] = used.get(name)
        metrics[f"master/{name}_percent"] = _percent(used.get(name), total.get(name))
    counts = dict.fromkeys(_TASK_STATES, 0)
    for _, task in _all_tasks(master):
        counts[task.state] = counts.get(task.state, 0) + 1
    for state, count in counts.items():
        if state != "TASK_UNKNOWN":  # a state the master answers, never one a task is in
            metrics["master/tasks_" + state.removeprefix("TASK_").lower()] = float(count)
    return metrics


class MasterEndpoints:
    """The aiohttp handlers of the master's read-only endpoints."""

    def __init__(self, master: Master) -> None:
        self._master = master

    def routes(self, app: web.Application) -> None:
        """Add every route of the module docstring to ``app`` (each also with a trailing ``/``,
        which Mesos accepts and clients such as ``avmesos-cli`` send)."""
        handlers = {
            "/state": self.state,
            "/state.json": self.state,
            "/slaves": self.slaves,
            "/frameworks": self.frameworks,
            "/tasks": self.tasks,
            "/state-summary": self.summary,
            "/health": self.health,
        }
        for prefix in ("", "/master"):
            for path, handler in handlers.items():
                add_get(app, prefix + path, handler)
        add_get(app, "/master/redirect", self.redirect)
        app.router.add_get("/master/redirect/{rest:.*}", self.redirect)
        add_get(app, "/version", self.version)
        add_get(app, "/metrics/snapshot", self.metrics)

    async def state(self, request: web.Request) -> web.Response:
        return web.json_response(master_state(self._master))

    async def slaves(self, request: web.Request) -> web.Response:
        wanted = request.query.get("slave_id")
        slaves = [] if wanted not in (None, self._master.agent.agent_id) else [_full_slave_json(self._master)]
        return web.json_response({"slaves": slaves, "recovered_slaves": []})

    async def frameworks(self, request: web.Request) -> web.Response:
        wanted = request.query.get("framework_id")
        registered, completed = _frameworks(self._master, lambda fid: wanted is None or fid == wanted)
        return web.json_response(
            {"frameworks": registered, "completed_frameworks": completed, "unregistered_frameworks": []}
        )

    async def tasks(self, request: web.Request) -> web.Response:
        return web.json_response(master_tasks(self._master, dict(request.query)))

    async def summary(self, request: web.Request) -> web.Response:
        return web.json_response(state_summary(self._master))

    async def health(self, request: web.Request) -> web.Response:
        return web.Response(status=200)

    async def redirect(self, request: web.Request) -> web.Response:
        rest = request.match_info.get("rest")
        location = f"//{self._master.host}:{self._master.port}" + (f"/{rest}" if rest else "")
        return web.Response(status=307, headers={"Location": location})

    async def version(self, request: web.Request) -> web.Response:
        return web.json_response(version_json())

    async def metrics(self, request: web.Request) -> web.Response:
        return web.json_response(master_metrics(self._master))
