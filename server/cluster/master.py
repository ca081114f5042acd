"""The embedded master: the Mesos v1 scheduler API in front of the one embedded agent.

``POST /api/v1/scheduler`` behaves as the Mesos master documents it:

* ``SUBSCRIBE`` answers ``200`` with a RecordIO event stream and a ``Mesos-Stream-Id`` header;
  the first event is ``SUBSCRIBED`` (framework id, ``heartbeat_interval_seconds``, master info),
  then ``HEARTBEAT`` every ``heartbeat_interval``. Without ``framework_info.id`` a new framework
  id is assigned; with one, the framework (known or not, as after a master failover) resubscribes
  under that id, and the newest subscription wins: an older stream gets ``ERROR`` "Framework failed
  over" and ends. A removed framework (torn down, or its failover timeout passed) gets ``ERROR``
  "Framework has been removed". After every (re)subscription the agent resends the framework's
  unacknowledged status updates.
* Other calls answer ``202`` and act through events. Refusals: ``400`` for a malformed call,
  an unknown framework or a missing / stale ``Mesos-Stream-Id``; ``403`` for a known framework
  that is not subscribed; ``405`` / ``415`` / ``406`` / ``501`` as :func:`~server.cluster.wire.read_call`
  says. This master is always the leader (no ``307``).
* Offers: all free resources of the agent go to one (framework, role) at a time (see
  :mod:`~server.cluster.allocator`); an offer not used within ``offer_timeout`` is rescinded.
  An ``ACCEPT`` must name valid outstanding offers of the framework (else every task it launches
  gets ``TASK_DROPPED``, or ``TASK_LOST`` without PARTITION_AWARE, with ``REASON_INVALID_OFFERS``
  and no uuid); each task must be valid and fit what is left of the offers (else ``TASK_ERROR``
  with ``REASON_TASK_INVALID``); what the launches leave unused is refused for
  ``filters.refuse_seconds``. Resources of live tasks and executors are not offered again until
  they end.
* ``RECONCILE`` answers, without uuid and with ``REASON_RECONCILIATION``: for listed tasks the
  state of the update being delivered (else the latest), unknown ones ``TASK_UNKNOWN`` (or
  ``TASK_LOST``); with an empty list, every task the master still tracks.
* A framework whose stream ends stays registered for ``failover_timeout`` seconds (capped by
  ``failover_timeout_cap``); if it does not resubscribe by then it is removed and its tasks and
  executors are killed.

Not implemented: inverse offers, operation feedback, reservations and volumes (those ACCEPT
operations are ignored with a warning), ``LAUNCH_GROUP`` (its tasks get ``TASK_ERROR``), protobuf
bodies, authentication, quota and weights.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import itertools
import logging
import socket
import struct
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from server.cluster.agent import Agent
from server.cluster.allocator import Allocator, Candidate
from server.cluster.resources import ResourceError, Resources
from server.cluster.wire import (
    CallRefused,
    EventStream,
    JsonObject,
    accepts_json,
    id_problem,
    id_value,
    read_call,
    refusal_response,
    serve_stream,
    task_status,
)
from server.mesos.states import TERMINAL_STATES

__all__ = ["Master", "MasterSettings"]

logger = logging.getLogger("server.cluster.master")

SCHEDULER_API_PATH = "/api/v1/scheduler"
SCHEDULER_CALL_TYPES = frozenset(
    {
        "UNKNOWN",
        "SUBSCRIBE",
        "TEARDOWN",
        "ACCEPT",
        "DECLINE",
        "ACCEPT_INVERSE_OFFERS",
        "DECLINE_INVERSE_OFFERS",
        "REVIVE",
        "KILL",
        "SHUTDOWN",
        "ACKNOWLEDGE",
        "ACKNOWLEDGE_OPERATION_STATUS",
        "RECONCILE",
        "RECONCILE_OPERATIONS",
        "MESSAGE",
        "REQUEST",
        "SUPPRESS",
        "UPDATE_FRAMEWORK",
    }
)
_PAYLOAD_REQUIRED = frozenset(
    {"ACCEPT", "DECLINE", "KILL", "SHUTDOWN", "ACKNOWLEDGE", "RECONCILE", "MESSAGE"}
)


@dataclass(frozen=True, kw_only=True, slots=True)
class MasterSettings:
    """How the master behaves (durations in seconds)."""

    heartbeat_interval: float = 15.0
    #: Rescind offers not used within this long; ``None`` keeps them until used (Mesos' default).
    offer_timeout: float | None = 30.0
    #: Allocation also runs at least this often (it runs at once whenever resources free up).
    allocation_interval: float = 1.0
    #: Upper bound on every framework's ``failover_timeout``; ``None`` for no bound.
    failover_timeout_cap: float | None = None
    #: Finished tasks kept per framework, and removed frameworks kept, for ``/state``.
    history: int = 1000

    def __post_init__(self) -> None:
        if not self.heartbeat_interval > 0 or not self.allocation_interval > 0:
            raise ValueError("heartbeat_interval and allocation_interval must be positive")
        if self.offer_timeout is not None and not self.offer_timeout > 0:
            raise ValueError("offer_timeout must be positive (or None)")
        if self.failover_timeout_cap is not None and self.failover_timeout_cap < 0:
            raise ValueError("failover_timeout_cap must not be negative")


@dataclass(eq=False)
class MasterTask:
    """A task as the master knows it, from launch until its terminal update is acknowledged."""

    framework_id: str
    task_id: str
    name: str
    agent_id: str
    executor_id: str | None  # the custom executor; None for a command task
    info: JsonObject
    resources: Resources
    latest: JsonObject
    delivering: JsonObject | None = None  # the update being delivered (unacknowledged head)
    #: Every state the task went through: ``{"state", "timestamp", "source"}`` plus ``message`` and
    #: ``reason`` when the status had them.
    history: list[JsonObject] = field(default_factory=list)

    def record(self, status: JsonObject) -> None:
        """Make ``status`` the latest one and add it to the history."""
        self.latest = status
        entry: JsonObject = {
            "state": status["state"],
            "timestamp": float(status.get("timestamp") or time.time()),
            "source": status.get("source"),
        }
        for key in ("message", "reason"):
            if status.get(key):
                entry[key] = status[key]
        self.history.append(entry)

    @property
    def state(self) -> str:
        return str(self.latest["state"])

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL_STATES


@dataclass(eq=False)
class MasterExecutor:
    """A custom executor the master has launched tasks for, until the agent says it is gone."""

    executor_id: str
    info: JsonObject
    resources: Resources


@dataclass(eq=False)
class Offer:
    offer_id: str
    framework_id: str
    role: str
    resources: Resources
    created_at: float
    timer: asyncio.TimerHandle | None = None


@dataclass(eq=False)
class Framework:
    """A registered framework."""

    framework_id: str
    info: JsonObject
    order: int
    registered_at: float
    connection: EventStream | None = None
    heartbeats: asyncio.Task[None] | None = None
    reregistered_at: float | None = None
    disconnected_at: float | None = None
    removed_at: float | None = None
    removal_timer: asyncio.TimerHandle | None = None
    tasks: dict[str, MasterTask] = field(default_factory=dict)
    completed_tasks: deque[MasterTask] = field(default_factory=deque)
    executors: dict[str, MasterExecutor] = field(default_factory=dict)
    offers: dict[str, Offer] = field(default_factory=dict)

    @property
    def capabilities(self) -> set[str]:
        items = self.info.get("capabilities") or []
        return {
            str(item["type"])
            for item in items
            if isinstance(item, dict) and isinstance(item.get("type"), str)
        }

    @property
    def partition_aware(self) -> bool:
        return "PARTITION_AWARE" in self.capabilities

    @property
    def multi_role(self) -> bool:
        return "MULTI_ROLE" in self.capabilities

    @property
    def roles(self) -> tuple[str, ...]:
        if self.multi_role:
            return tuple(str(role) for role in self.info.get("roles") or [])
        return (str(self.info.get("role") or "*"),)

    @property
    def failover_timeout(self) -> float:
        value = self.info.get("failover_timeout", 0.0)
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0

    @property
    def connected(self) -> bool:
        return self.connection is not None


class Master:
    """The embedded master (see the module docstring)."""

    def __init__(self, settings: MasterSettings, agent: Agent, *, master_id: str | None = None) -> None:
        self.settings = settings
        self.agent = agent
        self.master_id = master_id or str(uuid.uuid4())
        self.started_at = time.time()
        self.host = "127.0.0.1"
        self.port = 0
        self._frameworks: dict[str, Framework] = {}
        self._completed: deque[Framework] = deque(maxlen=settings.history)
        self._removed_ids: set[str] = set()
        self._framework_counter = itertools.count()
        self._offer_counter = itertools.count(1)
        self._allocator = Allocator()
        self._allocation_pending = False
        self._expiry_timer: asyncio.TimerHandle | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._stopping = False
        agent.attach(self)

    # -- lifecycle ----------------------------------------------------------------------------

    def bind(self, host: str, port: int) -> None:
        self.host = host
        self.port = port

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._allocator = Allocator(clock=loop.time)
        self._ticker = asyncio.create_task(self._allocation_ticker(), name="master-allocation")
        logger.info("master %s started on %s:%d", self.master_id, self.host, self.port)

    async def stop(self) -> None:
        """End every subscription stream and stop timers (frameworks are not removed)."""
        self._stopping = True
        if self._ticker is not None:
            self._ticker.cancel()
        if self._expiry_timer is not None:
            self._expiry_timer.cancel()
        for framework in self._frameworks.values():
            if framework.removal_timer is not None:
                framework.removal_timer.cancel()
            self._drop_offers(framework, notify=False)
            if framework.connection is not None:
                framework.connection.close()
            if framework.heartbeats is not None:
                framework.heartbeats.cancel()
        logger.info("master %s stopped", self.master_id)

    # -- introspection (for /state and tests) ---------------------------------------------------

    def frameworks(self) -> list[Framework]:
        return list(self._frameworks.values())

    def completed_frameworks(self) -> list[Framework]:
        return list(self._completed)

    def framework(self, framework_id: str) -> Framework | None:
        return self._frameworks.get(framework_id)

    def suppressed_roles(self, framework_id: str) -> list[str]:
        return sorted(self._allocator.suppressed_roles(framework_id))

    def used_resources(self) -> Resources:
        used = Resources()
        for framework in self._frameworks.values():
            for task in framework.tasks.values():
                if not task.terminal:
                    used = used + task.resources
            for executor in framework.executors.values():
                used = used + executor.resources
        return used

    def offered_resources(self) -> Resources:
        offered = Resources()
        for framework in self._frameworks.values():
            for offer in framework.offers.values():
                offered = offered + offer.resources
        return offered

    def available_resources(self) -> Resources:
        return self.agent.settings.resources - self.used_resources() - self.offered_resources()

    def master_info(self) -> JsonObject:
        try:
            packed = struct.unpack("<I", socket.inet_aton(self.host))[0]
        except OSError:
            packed = 0
        return {
            "id": self.master_id,
            "ip": packed,
            "port": self.port,
            "hostname": self.host,
            "version": "1.11.0-embedded",
            "address": {"hostname": self.host, "ip": self.host, "port": self.port},
        }

    # -- HTTP ---------------------------------------------------------------------------------

    async def handle_scheduler_api(self, request: web.Request) -> web.StreamResponse:
        """``POST /api/v1/scheduler``."""
        try:
            if self._stopping:
                raise CallRefused(503, "Master is shutting down")
            call = await read_call(request, SCHEDULER_CALL_TYPES)
            problem = _call_problem(call)
            if problem is not None:
                raise CallRefused(400, f"Failed to validate scheduler::Call: {problem}")
            if call["type"] == "SUBSCRIBE":
                return await self._subscribe(request, call)
            framework = self._subscribed_framework(request, call)
            self._apply(framework, call)
            return web.Response(status=202)
        except CallRefused as refusal:
            logger.info("scheduler call refused: %s %s", refusal.status, refusal.text)
            return refusal_response(refusal)

    def _subscribed_framework(self, request: web.Request, call: JsonObject) -> Framework:
        framework_id = id_value(call.get("framework_id"))
        framework = self._frameworks.get(framework_id or "")
        if framework is None:
            raise CallRefused(400, "Framework cannot be found")
        if framework.connection is None:
            raise CallRefused(403, "Framework is not subscribed")
        stream_id = request.headers.get("Mesos-Stream-Id")
        if stream_id is None:
            raise CallRefused(400, "All non-subscribe calls should include the 'Mesos-Stream-Id' header")
        if stream_id != framework.connection.stream_id:
            raise CallRefused(
                400,
                f"The stream ID '{stream_id}' included in this request didn't match the stream ID "
                f"currently associated with framework ID {framework.framework_id}",
            )
        return framework

    async def _subscribe(self, request: web.Request, call: JsonObject) -> web.StreamResponse:
        if not accepts_json(request):
            raise CallRefused(406, "Expecting 'Accept' to allow 'application/json'")
        if "Mesos-Stream-Id" in request.headers:
            raise CallRefused(400, "Subscribe calls should not include the 'Mesos-Stream-Id' header")
        info = dict(call["subscribe"]["framework_info"])
        requested_id = id_value(info.get("id"))
        if requested_id != id_value(call.get("framework_id")):
            raise CallRefused(400, "'framework_id' differs from 'subscribe.framework_info.id'")
        stream = EventStream()
        problem = _framework_info_problem(info)
        if problem is None and requested_id in self._removed_ids:
            problem = "Framework has been removed"
        if problem is not None:
            logger.warning(
                "refusing subscription of framework %s: %s", requested_id or info.get("name"), problem
            )
            stream.send({"type": "ERROR", "error": {"message": problem}})
            stream.close()
            return await serve_stream(request, stream, {"Mesos-Stream-Id": stream.stream_id})
        self._register(info, requested_id, stream)
        return await serve_stream(request, stream, {"Mesos-Stream-Id": stream.stream_id})

    def _register(self, info: JsonObject, requested_id: str | None, stream: EventStream) -> Framework:
        now = time.time()
        framework_id = requested_id or f"{self.master_id}-{next(self._framework_counter):04d}"
        info["id"] = {"value": framework_id}
        framework = self._frameworks.get(framework_id)
        if framework is None:
            framework = Framework(
                framework_id, info, order=len(self._frameworks) + len(self._completed), registered_at=now
            )
            framework.completed_tasks = deque(maxlen=self.settings.history)
            self._frameworks[framework_id] = framework
            logger.info("framework %s (%s) registered", framework_id, info.get("name"))
        else:
            previous = framework.connection
            framework.connection = None
            if previous is not None:
                previous.send({"type": "ERROR", "error": {"message": "Framework failed over"}})
                previous.close()
            if framework.heartbeats is not None:
                framework.heartbeats.cancel()
            if framework.removal_timer is not None:
                framework.removal_timer.cancel()
                framework.removal_timer = None
            framework.info = info
            framework.reregistered_at = now
            framework.disconnected_at = None
            self.agent.update_framework(info)
            logger.info("framework %s (%s) resubscribed", framework_id, info.get("name"))
        framework.connection = stream
        stream.on_end = lambda ended: self._stream_ended(framework, ended)
        stream.send(
            {
                "type": "SUBSCRIBED",
                "subscribed": {
                    "framework_id": {"value": framework_id},
                    "heartbeat_interval_seconds": self.settings.heartbeat_interval,
                    "master_info": self.master_info(),
                },
            }
        )
        framework.heartbeats = asyncio.create_task(self._heartbeat(stream), name=f"heartbeats-{framework_id}")
        self.agent.resend_updates(framework_id)
        self._request_allocation()
        return framework

    async def _heartbeat(self, stream: EventStream) -> None:
        while stream.open:
            await asyncio.sleep(self.settings.heartbeat_interval)
            stream.send({"type": "HEARTBEAT"})

    def _stream_ended(self, framework: Framework, stream: EventStream) -> None:
        if framework.connection is not stream:
            return
        framework.connection = None
        framework.disconnected_at = time.time()
        if framework.heartbeats is not None:
            framework.heartbeats.cancel()
            framework.heartbeats = None
        self._drop_offers(framework, notify=False)
        if self._stopping or framework.framework_id not in self._frameworks:
            return
        timeout = framework.failover_timeout
        if self.settings.failover_timeout_cap is not None:
            timeout = min(timeout, self.settings.failover_timeout_cap)
        logger.warning(
            "framework %s disconnected; removing it unless it resubscribes within %g s",
            framework.framework_id,
            timeout,
        )
        if timeout <= 0:
            self._remove_framework(framework, "failover timeout elapsed")
        else:
            loop = asyncio.get_running_loop()
            framework.removal_timer = loop.call_later(
                timeout, self._remove_framework, framework, "failover timeout elapsed"
            )
        self._request_allocation()

    # -- calls --------------------------------------------------------------------------------

    def _apply(self, framework: Framework, call: JsonObject) -> None:
        call_type = call["type"]
        payload = call.get(call_type.lower())
        body: JsonObject = payload if isinstance(payload, dict) else {}
        if call_type == "ACCEPT":
            self._accept(framework, body)
        elif call_type == "DECLINE":
            for offer_id in _ids(body.get("offer_ids")):
                offer = framework.offers.pop(offer_id, None)
                if offer is None:
                    logger.info("ignoring DECLINE of unknown offer %s", offer_id)
                    continue
                _cancel(offer.timer)
                self._allocator.refuse(
                    framework.framework_id, offer.role, offer.resources, _refuse_seconds(body)
                )
            self._request_allocation()
        elif call_type == "REVIVE":
            self._allocator.revive(framework.framework_id, _roles(body) or framework.roles)
            self._request_allocation()
        elif call_type == "SUPPRESS":
            self._allocator.suppress(framework.framework_id, _roles(body) or framework.roles)
        elif call_type == "KILL":
            self._kill(framework, body)
        elif call_type == "SHUTDOWN":
            if id_value(body.get("agent_id")) == self.agent.settings.agent_id:
                self.agent.shutdown_executor(framework.framework_id, str(id_value(body.get("executor_id"))))
        elif call_type == "ACKNOWLEDGE":
            if id_value(body.get("agent_id")) == self.agent.settings.agent_id:
                task_id = str(id_value(body.get("task_id")))
                self.agent.acknowledge(framework.framework_id, task_id, str(body["uuid"]))
        elif call_type == "RECONCILE":
            self._reconcile(framework, body.get("tasks") or [])
        elif call_type == "MESSAGE":
            if id_value(body.get("agent_id")) == self.agent.settings.agent_id:
                self.agent.framework_message(
                    framework.framework_id, str(id_value(body.get("executor_id"))), body["data"]
                )
        elif call_type == "TEARDOWN":
            logger.info("framework %s asked to be torn down", framework.framework_id)
            self._remove_framework(framework, "torn down by the framework")
        elif call_type == "UPDATE_FRAMEWORK":
            info = dict(body.get("framework_info") or {})
            if id_value(info.get("id")) != framework.framework_id:
                raise CallRefused(400, "'update_framework.framework_info.id' must be the framework's id")
            problem = _framework_info_problem(info)
            if problem is not None:
                raise CallRefused(400, problem)
            framework.info = info
            self.agent.update_framework(info)
            self._request_allocation()
        else:
            logger.info(
                "%s from framework %s accepted; nothing to do here", call_type, framework.framework_id
            )

    def _accept(self, framework: Framework, accept: JsonObject) -> None:
        offer_ids = _ids(accept.get("offer_ids"))
        operations = [item for item in accept.get("operations") or [] if isinstance(item, dict)]
        problem: str | None = None
        if not offer_ids:
            problem = "No offers specified"
        elif len(set(offer_ids)) != len(offer_ids):
            problem = "Duplicate offer ids"
        else:
            unknown = [offer_id for offer_id in offer_ids if offer_id not in framework.offers]
            if unknown:
                problem = f"Offer {unknown[0]} is no longer valid"
        offers = [framework.offers.pop(offer_id) for offer_id in offer_ids if offer_id in framework.offers]
        for offer in offers:
            _cancel(offer.timer)
        if problem is not None:
            logger.warning(
                "ACCEPT from framework %s with invalid offers: %s", framework.framework_id, problem
            )
            state = "TASK_DROPPED" if framework.partition_aware else "TASK_LOST"
            for operation in operations:
                for task in _operation_tasks(operation):
                    self._master_update(
                        framework,
                        task,
                        state,
                        "REASON_INVALID_OFFERS",
                        f"Task launched with invalid offers: {problem}",
                    )
            self._request_allocation()
            return
        pool = Resources()
        for offer in offers:
            pool = pool + offer.resources
        role = offers[0].role
        for operation in operations:
            kind = operation.get("type")
            if kind == "LAUNCH":
                for task in _operation_tasks(operation):
                    pool = self._launch(framework, task, pool)
            elif kind == "LAUNCH_GROUP":
                for task in _operation_tasks(operation):
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
        self._allocator.refuse(framework.framework_id, role, pool, _refuse_seconds(accept))
        self._request_allocation()

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
                    executor_info = _normalized_executor(task["executor"], framework.framework_id)
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
        master_task = MasterTask(
            framework_id=framework.framework_id,
            task_id=task_id,
            name=str(task.get("name", "")),
            agent_id=self.agent.settings.agent_id,
            executor_id=str(executor_info["executor_id"]["value"]) if executor_info is not None else None,
            info=launched,
            resources=Resources.from_json(task.get("resources") or []),
            latest=task_status(
                task_id, "TASK_STAGING", source="SOURCE_MASTER", agent_id=self.agent.settings.agent_id
            ),
        )
        master_task.record(master_task.latest)
        framework.tasks[task_id] = master_task
        logger.info("launching task %s of framework %s with %s", task_id, framework.framework_id, needed)
        self.agent.launch_task(framework.info, launched)
        return pool - needed

    def _task_problem(self, framework: Framework, task: JsonObject) -> str | None:
        """What the master's task validation refuses (TASK_ERROR)."""
        task_id = str(task["task_id"]["value"])
        problem = id_problem(task_id)
        if problem is not None:
            return f"Task ID '{task_id}' is invalid: {problem}"
        if task_id in framework.tasks:
            return f"Task has duplicate ID: {task_id}"
        agent_id = id_value(task.get("agent_id"))
        if agent_id != self.agent.settings.agent_id:
            return f"Task uses agent {agent_id} but the offer is on agent {self.agent.settings.agent_id}"
        if ("command" in task) == ("executor" in task):
            return "Task should have at least one (but not both) of CommandInfo or ExecutorInfo present"
        if "command" in task:
            return _command_problem(task["command"], "command")
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
        if owner is not None and owner != framework.framework_id:
            return f"ExecutorInfo has an invalid FrameworkID (actual: {owner} vs expected: {framework.framework_id})"
        if executor.get("type", "CUSTOM") != "CUSTOM":
            return f"Executor type {executor.get('type')} is not supported by the embedded cluster"
        command_task = framework.tasks.get(executor_id)
        if command_task is not None and command_task.executor_id is None:
            return f"Executor ID '{executor_id}' is in use by a command task"
        existing = framework.executors.get(executor_id)
        if existing is not None and existing.info != _normalized_executor(executor, framework.framework_id):
            return f"ExecutorInfo is not compatible with the ExecutorInfo of running executor '{executor_id}'"
        return _command_problem(executor.get("command"), "executor.command")

    def _kill(self, framework: Framework, kill: JsonObject) -> None:
        task_id = str(id_value(kill.get("task_id")))
        task = framework.tasks.get(task_id)
        if task is None:
            state = "TASK_UNKNOWN" if framework.partition_aware else "TASK_LOST"
            logger.info("KILL of unknown task %s: answering %s", task_id, state)
            status = task_status(
                task_id,
                state,
                source="SOURCE_MASTER",
                agent_id=id_value(kill.get("agent_id")),
                reason="REASON_RECONCILIATION",
                message="Attempted to kill an unknown task",
            )
            self._send(framework, {"type": "UPDATE", "update": {"status": status}})
            return
        if task.terminal:
            logger.info("KILL of task %s ignored: it is already %s", task_id, task.state)
            return
        policy = kill.get("kill_policy")
        self.agent.kill_task(framework.framework_id, task_id, policy if isinstance(policy, dict) else None)

    def _reconcile(self, framework: Framework, entries: list[Any]) -> None:
        statuses: list[JsonObject] = []
        if not entries:
            statuses = [self._reconciliation_status(task) for task in framework.tasks.values()]
        for entry in entries:
            task_id = str(id_value(entry.get("task_id")))
            known = framework.tasks.get(task_id)
            if known is not None:
                statuses.append(self._reconciliation_status(known))
            else:
                state = "TASK_UNKNOWN" if framework.partition_aware else "TASK_LOST"
                statuses.append(
                    task_status(
                        task_id,
                        state,
                        source="SOURCE_MASTER",
                        agent_id=id_value(entry.get("agent_id")),
                        reason="REASON_RECONCILIATION",
                        message="Reconciliation: task is unknown",
                    )
                )
        for status in statuses:
            self._send(framework, {"type": "UPDATE", "update": {"status": status}})

    def _reconciliation_status(self, task: MasterTask) -> JsonObject:
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
        self._send(framework, {"type": "UPDATE", "update": {"status": status}})

    def _send(self, framework: Framework, event: JsonObject) -> None:
        if framework.connection is not None:
            framework.connection.send(event)

    # -- framework removal --------------------------------------------------------------------

    def _remove_framework(self, framework: Framework, why: str) -> None:
        if self._frameworks.get(framework.framework_id) is not framework:
            return
        logger.warning("removing framework %s: %s", framework.framework_id, why)
        _cancel(framework.removal_timer)
        framework.removal_timer = None
        self._drop_offers(framework, notify=False)
        del self._frameworks[framework.framework_id]
        self._removed_ids.add(framework.framework_id)
        framework.removed_at = time.time()
        for task in list(framework.tasks.values()):
            if not task.terminal:
                task.record(
                    task_status(
                        task.task_id,
                        "TASK_KILLED",
                        source="SOURCE_MASTER",
                        agent_id=task.agent_id,
                        executor_id=task.executor_id,
                        reason="REASON_FRAMEWORK_REMOVED",
                        message=f"Framework removed: {why}",
                    )
                )
            framework.completed_tasks.append(task)
        framework.tasks.clear()
        framework.executors.clear()
        connection, framework.connection = framework.connection, None
        if framework.heartbeats is not None:
            framework.heartbeats.cancel()
            framework.heartbeats = None
        if connection is not None:
            connection.close()
        self._allocator.remove_framework(framework.framework_id)
        self.agent.shutdown_framework(framework.framework_id)
        self._completed.append(framework)
        self._request_allocation()

    # -- offers -------------------------------------------------------------------------------

    def _request_allocation(self) -> None:
        if self._allocation_pending or self._stopping:
            return
        self._allocation_pending = True
        asyncio.get_running_loop().call_soon(self._allocate)

    def _allocate(self) -> None:
        self._allocation_pending = False
        if self._stopping:
            return
        available = self.available_resources()
        candidates = [
            Candidate(
                framework_id=framework.framework_id,
                roles=framework.roles,
                held=self._held(framework),
                order=framework.order,
            )
            for framework in self._frameworks.values()
            if framework.connected
        ]
        choice = (
            self._allocator.choose(available, self.agent.settings.resources, candidates)
            if candidates
            else None
        )
        if choice is not None:
            framework_id, role = choice
            self._offer(self._frameworks[framework_id], role, available)
        self._schedule_filter_expiry()

    def _held(self, framework: Framework) -> Resources:
        held = Resources()
        for task in framework.tasks.values():
            if not task.terminal:
                held = held + task.resources
        for executor in framework.executors.values():
            held = held + executor.resources
        for offer in framework.offers.values():
            held = held + offer.resources
        return held

    def _schedule_filter_expiry(self) -> None:
        expiry = self._allocator.next_expiry()
        if self._expiry_timer is not None:
            self._expiry_timer.cancel()
            self._expiry_timer = None
        if expiry is not None:
            loop = asyncio.get_running_loop()
            self._expiry_timer = loop.call_at(expiry + 0.001, self._request_allocation)

    async def _allocation_ticker(self) -> None:
        while True:
            await asyncio.sleep(self.settings.allocation_interval)
            self._request_allocation()

    def _offer(self, framework: Framework, role: str, resources: Resources) -> None:
        offer_id = f"{self.master_id}-O{next(self._offer_counter)}"
        offer = Offer(offer_id, framework.framework_id, role, resources, created_at=time.time())
        framework.offers[offer_id] = offer
        if self.settings.offer_timeout is not None:
            loop = asyncio.get_running_loop()
            offer.timer = loop.call_later(
                self.settings.offer_timeout, self._offer_timed_out, framework, offer_id
            )
        agent = self.agent
        body: JsonObject = {
            "id": {"value": offer_id},
            "framework_id": {"value": framework.framework_id},
            "agent_id": {"value": agent.settings.agent_id},
            "hostname": agent.settings.hostname,
            "url": {
                "scheme": "http",
                "address": {"hostname": agent.settings.hostname, "ip": self.host, "port": agent.port},
                "path": "/slave(1)",
            },
            "resources": resources.to_json(allocation_role=role if framework.multi_role else None),
            "attributes": [],
            "executor_ids": [{"value": executor_id} for executor_id in framework.executors],
        }
        if framework.multi_role:
            body["allocation_info"] = {"role": role}
        logger.debug("offering %s to framework %s (%s)", resources, framework.framework_id, offer_id)
        self._send(framework, {"type": "OFFERS", "offers": {"offers": [body]}})

    def _offer_timed_out(self, framework: Framework, offer_id: str) -> None:
        offer = framework.offers.pop(offer_id, None)
        if offer is None:
            return
        logger.info("rescinding offer %s of framework %s: not used in time", offer_id, framework.framework_id)
        self._send(framework, {"type": "RESCIND", "rescind": {"offer_id": {"value": offer_id}}})
        self._request_allocation()

    def _drop_offers(self, framework: Framework, *, notify: bool) -> None:
        for offer in framework.offers.values():
            _cancel(offer.timer)
            if notify:
                self._send(framework, {"type": "RESCIND", "rescind": {"offer_id": {"value": offer.offer_id}}})
        framework.offers.clear()

    # -- MasterLink: what the agent tells the master ------------------------------------------

    def task_updated(self, framework_id: str, status: JsonObject) -> None:
        framework = self._frameworks.get(framework_id)
        task = framework.tasks.get(str(status["task_id"]["value"])) if framework else None
        if task is None:
            return
        was_terminal = task.terminal
        task.record(status)
        if task.terminal and not was_terminal:
            self._request_allocation()

    def forward_update(self, framework_id: str, status: JsonObject) -> None:
        framework = self._frameworks.get(framework_id)
        if framework is None:
            return
        task = framework.tasks.get(str(status["task_id"]["value"]))
        if task is not None:
            task.delivering = status
        self._send(framework, {"type": "UPDATE", "update": {"status": status}})

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
        failure: JsonObject = {
            "agent_id": {"value": self.agent.settings.agent_id},
            "executor_id": {"value": executor_id},
        }
        if status is not None:
            failure["status"] = status
        self._send(framework, {"type": "FAILURE", "failure": failure})
        self._request_allocation()

    def executor_message(self, framework_id: str, executor_id: str, data: str) -> None:
        framework = self._frameworks.get(framework_id)
        if framework is None:
            return
        self._send(
            framework,
            {
                "type": "MESSAGE",
                "message": {
                    "agent_id": {"value": self.agent.settings.agent_id},
                    "executor_id": {"value": executor_id},
                    "data": data,
                },
            },
        )


# --- helpers ---------------------------------------------------------------------------------------


def _cancel(timer: asyncio.TimerHandle | None) -> None:
    if timer is not None:
        timer.cancel()


def _ids(values: Any) -> list[str]:
    return [value for value in (id_value(item) for item in values or []) if value is not None]


def _roles(body: JsonObject) -> tuple[str, ...]:
    return tuple(str(role) for role in body.get("roles") or [])


def _refuse_seconds(body: JsonObject) -> float | None:
    filters = body.get("filters")
    value = filters.get("refuse_seconds") if isinstance(filters, dict) else None
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _operation_tasks(operation: JsonObject) -> list[JsonObject]:
    if operation.get("type") == "LAUNCH_GROUP":
        group = (operation.get("launch_group") or {}).get("task_group") or {}
        return [task for task in group.get("tasks") or [] if isinstance(task, dict)]
    launch = operation.get("launch") or {}
    return [task for task in launch.get("task_infos") or [] if isinstance(task, dict)]


def _normalized_executor(executor: JsonObject, framework_id: str) -> JsonObject:
    normalized = dict(executor)
    normalized.setdefault("framework_id", {"value": framework_id})
    return normalized


def _command_problem(command: Any, where: str) -> str | None:
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


def _framework_info_problem(info: JsonObject) -> str | None:
    """What ``validation::framework::validate`` refuses (an ERROR event on SUBSCRIBE)."""
    framework_id = id_value(info.get("id"))
    if framework_id is not None:
        problem = id_problem(framework_id)
        if problem is not None:
            return f"Invalid framework id: {problem}"
    capabilities = {item.get("type") for item in info.get("capabilities") or [] if isinstance(item, dict)}
    if "MULTI_ROLE" in capabilities:
        if "role" in info:
            return "'FrameworkInfo.role' must not be set when the framework is MULTI_ROLE capable"
        roles = info.get("roles") or []
        if not isinstance(roles, list) or not all(isinstance(role, str) and role for role in roles):
            return "'FrameworkInfo.roles' must be a list of role names"
    elif "roles" in info:
        return "'FrameworkInfo.roles' must not be set when the framework is not MULTI_ROLE capable"
    return None


def _is_base64(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _is_id(value: Any) -> bool:
    return id_value(value) is not None


def _call_problem(call: JsonObject) -> str | None:
    """What converting the JSON to a ``Call`` proto and ``validation::scheduler::call::validate``
    refuse with ``400``."""
    call_type = call["type"]
    if call_type == "SUBSCRIBE":
        subscribe = call.get("subscribe")
        info = subscribe.get("framework_info") if isinstance(subscribe, dict) else None
        if not isinstance(info, dict):
            return "Expecting 'subscribe.framework_info' to be present"
        for required in ("user", "name"):
            if not isinstance(info.get(required), str):
                return f"Expecting 'subscribe.framework_info.{required}' to be present"
        if "id" in info and not _is_id(info["id"]):
            return "'subscribe.framework_info.id' must be {\"value\": ...}"
        if "framework_id" in call and not _is_id(call["framework_id"]):
            return "'framework_id' must be {\"value\": ...}"
        return None
    if not _is_id(call.get("framework_id")):
        return "Expecting 'framework_id' to be present"
    name = call_type.lower()
    payload = call.get(name)
    if call_type in _PAYLOAD_REQUIRED and not isinstance(payload, dict):
        return f"Expecting '{name}' to be present"
    if not isinstance(payload, dict):
        return None
    if call_type in ("ACCEPT", "DECLINE"):
        offer_ids = payload.get("offer_ids", [])
        if not isinstance(offer_ids, list) or not all(_is_id(item) for item in offer_ids):
            return f"'{name}.offer_ids' must be a list of ids"
    if call_type == "ACCEPT":
        operations = payload.get("operations", [])
        if not isinstance(operations, list):
            return "'accept.operations' must be a list"
        for operation in operations:
            if not isinstance(operation, dict) or not isinstance(operation.get("type"), str):
                return "Expecting 'accept.operations.type' to be present"
            for task in _operation_tasks(operation):
                for required in ("task_id", "agent_id"):
                    if not _is_id(task.get(required)):
                        return f"Expecting 'task_infos.{required}' to be present"
                if not isinstance(task.get("name"), str):
                    return "Expecting 'task_infos.name' to be present"
    elif call_type == "KILL":
        if not _is_id(payload.get("task_id")):
            return "Expecting 'kill.task_id' to be present"
    elif call_type == "SHUTDOWN":
        if not (_is_id(payload.get("executor_id")) and _is_id(payload.get("agent_id"))):
            return "Expecting 'shutdown.executor_id' and 'shutdown.agent_id' to be present"
    elif call_type == "ACKNOWLEDGE":
        if not (_is_id(payload.get("agent_id")) and _is_id(payload.get("task_id"))):
            return "Expecting 'acknowledge.agent_id' and 'acknowledge.task_id' to be present"
        if not _is_base64(payload.get("uuid")):
            return "Expecting 'acknowledge.uuid' to be present (base64 bytes)"
    elif call_type == "RECONCILE":
        tasks = payload.get("tasks", [])
        if not isinstance(tasks, list) or not all(
            isinstance(task, dict) and _is_id(task.get("task_id")) for task in tasks
        ):
            return "Expecting 'reconcile.tasks.task_id' to be present"
    elif call_type == "MESSAGE":
        if not (_is_id(payload.get("agent_id")) and _is_id(payload.get("executor_id"))):
            return "Expecting 'message.agent_id' and 'message.executor_id' to be present"
        if not _is_base64(payload.get("data")):
            return "Expecting 'message.data' to be present (base64 bytes)"
    elif call_type in ("REVIVE", "SUPPRESS"):
        roles = payload.get("roles", [])
        if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
            return f"'{name}.roles' must be a list of strings"
    return None
