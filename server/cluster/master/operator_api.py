"""``POST /api/v1`` on the master: the v1 operator API's read calls, in ``master.proto``'s shapes.

Served: ``GET_HEALTH``, ``GET_VERSION``, ``GET_FLAGS``, ``GET_METRICS``, ``GET_MASTER``,
``GET_STATE``, ``GET_AGENTS``, ``GET_FRAMEWORKS``, ``GET_EXECUTORS`` and ``GET_TASKS``. Other calls
of ``master.proto`` answer ``501``; anything else ``400`` (see
:mod:`server.cluster.endpoints`). Ids are ``{"value"}`` objects, resources ``Resource`` lists
and times ``TimeInfo`` (``{"nanoseconds"}``), as the protobuf JSON mapping gives them.
"""

from __future__ import annotations

from aiohttp import web

from server.cluster.endpoints import OperatorHandler, serve_operator_call
from server.cluster.master.core import Master
from server.cluster.master.endpoints import agent_pid, master_flags, master_metrics
from server.cluster.master.records import Framework, MasterTask
from server.cluster.state import VERSION, seconds_time, version_json
from server.mesos.values import JsonObject, id_object

__all__ = ["MASTER_CALL_TYPES", "MasterOperatorApi"]

#: Every call type of ``mesos.v1.master.Call``.
MASTER_CALL_TYPES = frozenset(
    {
        "UNKNOWN", "GET_HEALTH", "GET_FLAGS", "GET_VERSION", "GET_METRICS", "GET_LOGGING_LEVEL",
        "SET_LOGGING_LEVEL", "LIST_FILES", "READ_FILE", "GET_STATE", "GET_AGENTS", "GET_FRAMEWORKS",
        "GET_EXECUTORS", "GET_OPERATIONS", "GET_TASKS", "GET_ROLES", "GET_WEIGHTS", "UPDATE_WEIGHTS",
        "GET_MASTER", "SUBSCRIBE", "RESERVE_RESOURCES", "UNRESERVE_RESOURCES", "CREATE_VOLUMES",
        "DESTROY_VOLUMES", "GROW_VOLUME", "SHRINK_VOLUME", "GET_MAINTENANCE_STATUS",
        "GET_MAINTENANCE_SCHEDULE", "UPDATE_MAINTENANCE_SCHEDULE", "START_MAINTENANCE",
        "STOP_MAINTENANCE", "DRAIN_AGENT", "DEACTIVATE_AGENT", "REACTIVATE_AGENT", "GET_QUOTA",
        "UPDATE_QUOTA", "SET_QUOTA", "REMOVE_QUOTA", "TEARDOWN", "MARK_AGENT_GONE",
    }
)  # fmt: skip


def task_message(task: MasterTask) -> JsonObject:
    """A ``Task`` message: the task, its latest state and every status it went through."""
    message: JsonObject = {
        "name": task.name,
        "task_id": id_object(task.task_id),
        "framework_id": id_object(task.framework_id),
        "agent_id": id_object(task.agent_id),
        "state": task.state,
        "resources": list(task.info.get("resources") or []),
        "statuses": [
            {
                "task_id": id_object(task.task_id),
                "agent_id": id_object(task.agent_id),
                **{
                    key: entry[key]
                    for key in ("state", "timestamp", "source", "message", "reason")
                    if entry.get(key)
                },
            }
            for entry in task.history
        ],
    }
    if task.executor_id:
        message["executor_id"] = id_object(task.executor_id)
    for key in ("labels", "discovery", "container"):
        if task.info.get(key):
            message[key] = task.info[key]
    return message


class MasterOperatorApi:
    """The aiohttp handler of the master's operator API."""

    def __init__(self, master: Master) -> None:
        self._master = master
        self._handlers: dict[str, OperatorHandler] = {
            "GET_HEALTH": lambda _: {"healthy": True},
            "GET_VERSION": lambda _: {"version_info": version_json()},
            "GET_FLAGS": lambda _: {
                "flags": [{"name": name, "value": value} for name, value in master_flags(master).items()]
            },
            "GET_METRICS": lambda _: {
                "metrics": [{"name": name, "value": value} for name, value in master_metrics(master).items()]
            },
            "GET_MASTER": lambda _: {
                "master_info": master.master_info(),
                "start_time": master.started_at,
                "elected_time": master.started_at,
            },
            "GET_STATE": lambda _: self.get_state(),
            "GET_AGENTS": lambda _: self.get_agents(),
            "GET_FRAMEWORKS": lambda _: self.get_frameworks(),
            "GET_EXECUTORS": lambda _: self.get_executors(),
            "GET_TASKS": lambda _: self.get_tasks(),
        }

    async def handle(self, request: web.Request) -> web.Response:
        return await serve_operator_call(request, MASTER_CALL_TYPES, self._handlers)

    def _all_frameworks(self) -> tuple[list[Framework], list[Framework]]:
        return self._master.frameworks(), self._master.completed_frameworks()

    def get_agents(self) -> JsonObject:
        master = self._master
        return {
            "agents": [
                {
                    "agent_info": master.agent.agent_info(),
                    "active": True,
                    "deactivated": False,
                    "version": VERSION,
                    "pid": agent_pid(master),
                    "registered_time": seconds_time(master.started_at),
                    "total_resources": master.agent.resources.to_json(),
                    "allocated_resources": master.used_resources().to_json(),
                    "offered_resources": master.offered_resources().to_json(),
                    "capabilities": [{"type": "MULTI_ROLE"}],
                }
            ],
            "recovered_agents": [],
        }

    def _framework(self, framework: Framework, *, active: bool) -> JsonObject:
        message: JsonObject = {
            "framework_info": framework.info,
            "active": active and framework.connected,
            "connected": active and framework.connected,
            "recovered": False,
            "registered_time": seconds_time(framework.registered_at),
            "offers": [
                {
                    "id": id_object(offer.offer_id),
                    "framework_id": id_object(offer.framework_id),
                    "agent_id": id_object(self._master.agent.agent_id),
                    "hostname": self._master.agent.hostname,
                    "resources": offer.resources.to_json(),
                }
                for offer in framework.offers.values()
            ],
            "allocated_resources": framework.used_resources().to_json(),
            "offered_resources": framework.offered_resources().to_json(),
        }
        if framework.reregistered_at is not None:
            message["reregistered_time"] = seconds_time(framework.reregistered_at)
        if framework.disconnected_at is not None:
            message["unregistered_time"] = seconds_time(framework.disconnected_at)
        return message

    def get_frameworks(self) -> JsonObject:
        registered, completed = self._all_frameworks()
        return {
            "frameworks": [self._framework(framework, active=True) for framework in registered],
            "completed_frameworks": [self._framework(framework, active=False) for framework in completed],
        }

    def get_executors(self) -> JsonObject:
        registered, completed = self._all_frameworks()
        agent_id = id_object(self._master.agent.agent_id)
        return {
            "executors": [
                {"executor_info": executor.info, "agent_id": agent_id}
                for framework in [*registered, *completed]
                for executor in framework.executors.values()
            ],
            "orphan_executors": [],
        }

    def get_tasks(self) -> JsonObject:
        registered, completed = self._all_frameworks()
        frameworks = [*registered, *completed]
        return {
            "pending_tasks": [],
            "tasks": [task_message(task) for f in frameworks for task in f.tasks.values()],
            "unreachable_tasks": [],
            "completed_tasks": [task_message(task) for f in frameworks for task in f.completed_tasks],
            "orphan_tasks": [],
        }

    def get_state(self) -> JsonObject:
        return {
            "get_tasks": self.get_tasks(),
            "get_executors": self.get_executors(),
            "get_frameworks": self.get_frameworks(),
            "get_agents": self.get_agents(),
        }
