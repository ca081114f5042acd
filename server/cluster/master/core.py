"""The embedded master: frameworks, their subscriptions, and the calls they make.

* ``SUBSCRIBE`` (see :mod:`~server.cluster.master.http` for the endpoint): the first event is
  ``SUBSCRIBED`` (framework id, ``heartbeat_interval_seconds``, master info), then ``HEARTBEAT``
  every ``heartbeat_interval``. Without ``framework_info.id`` a new framework id is assigned; with
  one, the framework (known or not, as after a master failover) resubscribes under that id, and
  the newest subscription wins: an older stream gets ``ERROR`` "Framework failed over" and ends. A
  removed framework (torn down, or its failover timeout passed) gets ``ERROR`` "Framework has been
  removed". After every (re)subscription the agent resends the framework's unacknowledged status
  updates.
* Other calls act through events: offers and filters in :mod:`~server.cluster.master.offers`,
  tasks in :mod:`~server.cluster.master.tasks`.
* A framework whose stream ends stays registered for ``failover_timeout`` seconds (capped by
  ``failover_timeout_cap``); if it does not resubscribe by then it is removed and its tasks and
  executors are killed.

Not implemented: inverse offers, operation feedback, reservations and volumes, ``LAUNCH_GROUP``,
protobuf bodies, authentication, quota and weights.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
import uuid
from collections import deque

from server.cluster.agent.core import Agent
from server.cluster.master.offers import OfferBook
from server.cluster.master.records import Framework
from server.cluster.master.tasks import TaskBook
from server.cluster.resources import Resources
from server.cluster.settings import MasterSettings
from server.cluster.wire import CallRefused, EventStream
from server.mesos.calls import framework_info_problem, refuse_seconds
from server.mesos.events import HEARTBEAT, error_event, master_info, subscribed_event
from server.mesos.status import task_status
from server.mesos.values import JsonObject, id_value, id_values

__all__ = ["VERSION", "Master"]

logger = logging.getLogger("server.cluster.master")

#: The Mesos version the master reports.
VERSION = "1.11.0-embedded"


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
        self._offers = OfferBook(settings, agent, self._frameworks, self.master_id)
        self._tasks = TaskBook(agent, self._offers, self._frameworks)
        self.stopping = False
        agent.attach(self._tasks)

    def bind(self, host: str, port: int) -> None:
        self.host = host
        self.port = port

    async def start(self) -> None:
        self._offers.start()
        logger.info("master %s started on %s:%d", self.master_id, self.host, self.port)

    async def stop(self) -> None:
        """End every subscription stream and stop timers (frameworks are not removed)."""
        self.stopping = True
        self._offers.stop()
        for framework in self._frameworks.values():
            if framework.removal_timer is not None:
                framework.removal_timer.cancel()
            self._offers.drop(framework, notify=False)
            if framework.connection is not None:
                framework.connection.close()
            if framework.heartbeats is not None:
                framework.heartbeats.cancel()
        logger.info("master %s stopped", self.master_id)

    def frameworks(self) -> list[Framework]:
        return list(self._frameworks.values())

    def completed_frameworks(self) -> list[Framework]:
        return list(self._completed)

    def framework(self, framework_id: str) -> Framework | None:
        return self._frameworks.get(framework_id)

    def suppressed_roles(self, framework_id: str) -> list[str]:
        return self._offers.suppressed_roles(framework_id)

    def used_resources(self) -> Resources:
        return self._offers.used_resources()

    def offered_resources(self) -> Resources:
        return self._offers.offered_resources()

    def available_resources(self) -> Resources:
        return self._offers.available_resources()

    def master_info(self) -> JsonObject:
        return master_info(master_id=self.master_id, host=self.host, port=self.port, version=VERSION)

    def subscribe(self, call: JsonObject) -> EventStream:
        """The event stream of a (validated) SUBSCRIBE call: the framework's new connection, or a
        stream holding only the ``ERROR`` that refuses it."""
        info = dict(call["subscribe"]["framework_info"])
        requested_id = id_value(info.get("id"))
        stream = EventStream()
        problem = framework_info_problem(info)
        if problem is None and requested_id in self._removed_ids:
            problem = "Framework has been removed"
        if problem is not None:
            logger.warning(
                "refusing subscription of framework %s: %s", requested_id or info.get("name"), problem
            )
            stream.send(error_event(problem))
            stream.close()
            return stream
        self._register(info, requested_id, stream)
        return stream

    def subscribed_framework(self, framework_id: str | None, stream_id: str | None) -> Framework:
        """The subscribed framework a non-SUBSCRIBE call comes from; raises :class:`CallRefused`."""
        framework = self._frameworks.get(framework_id or "")
        if framework is None:
            raise CallRefused(400, "Framework cannot be found")
        if framework.connection is None:
            raise CallRefused(403, "Framework is not subscribed")
        if stream_id is None:
            raise CallRefused(400, "All non-subscribe calls should include the 'Mesos-Stream-Id' header")
        if stream_id != framework.connection.stream_id:
            raise CallRefused(
                400,
                f"The stream ID '{stream_id}' included in this request didn't match the stream ID "
                f"currently associated with framework ID {framework.framework_id}",
            )
        return framework

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
                previous.send(error_event("Framework failed over"))
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
        stream.send(subscribed_event(framework_id, self.settings.heartbeat_interval, self.master_info()))
        framework.heartbeats = asyncio.create_task(self._heartbeat(stream), name=f"heartbeats-{framework_id}")
        self.agent.resend_updates(framework_id)
        self._offers.request_allocation()
        return framework

    async def _heartbeat(self, stream: EventStream) -> None:
        while stream.open:
            await asyncio.sleep(self.settings.heartbeat_interval)
            stream.send(HEARTBEAT)

    def _stream_ended(self, framework: Framework, stream: EventStream) -> None:
        if framework.connection is not stream:
            return
        framework.connection = None
        framework.disconnected_at = time.time()
        if framework.heartbeats is not None:
            framework.heartbeats.cancel()
            framework.heartbeats = None
        self._offers.drop(framework, notify=False)
        if self.stopping or framework.framework_id not in self._frameworks:
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
        self._offers.request_allocation()

    def _remove_framework(self, framework: Framework, why: str) -> None:
        if self._frameworks.get(framework.framework_id) is not framework:
            return
        logger.warning("removing framework %s: %s", framework.framework_id, why)
        if framework.removal_timer is not None:
            framework.removal_timer.cancel()
        framework.removal_timer = None
        self._offers.drop(framework, notify=False)
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
        self._offers.forget(framework.framework_id)
        self.agent.shutdown_framework(framework.framework_id)
        self._completed.append(framework)
        self._offers.request_allocation()

    def apply(self, framework: Framework, call: JsonObject) -> int:
        """Act on a validated call of a subscribed framework and return the HTTP status to answer:
        ``200`` for ``UPDATE_FRAMEWORK`` (Mesos answers it synchronously), ``202`` for the rest.
        Raises :class:`CallRefused` for an ``UPDATE_FRAMEWORK`` the master refuses."""
        call_type = call["type"]
        payload = call.get(call_type.lower())
        body: JsonObject = payload if isinstance(payload, dict) else {}
        agent_id = self.agent.agent_id
        if call_type == "ACCEPT":
            self._tasks.accept(framework, body)
        elif call_type == "DECLINE":
            self._offers.decline(framework, id_values(body.get("offer_ids")), refuse_seconds(body))
        elif call_type == "REVIVE":
            self._offers.revive(framework, _roles(body))
        elif call_type == "SUPPRESS":
            self._offers.suppress(framework, _roles(body))
        elif call_type == "KILL":
            self._tasks.kill(framework, body)
        elif call_type == "SHUTDOWN":
            if id_value(body.get("agent_id")) == agent_id:
                self.agent.shutdown_executor(framework.framework_id, str(id_value(body.get("executor_id"))))
        elif call_type == "ACKNOWLEDGE":
            if id_value(body.get("agent_id")) == agent_id:
                task_id = str(id_value(body.get("task_id")))
                self.agent.acknowledge(framework.framework_id, task_id, str(body["uuid"]))
        elif call_type == "RECONCILE":
            self._tasks.reconcile(framework, body.get("tasks") or [])
        elif call_type == "MESSAGE":
            if id_value(body.get("agent_id")) == agent_id:
                self.agent.framework_message(
                    framework.framework_id, str(id_value(body.get("executor_id"))), body["data"]
                )
        elif call_type == "TEARDOWN":
            logger.info("framework %s asked to be torn down", framework.framework_id)
            self._remove_framework(framework, "torn down by the framework")
        elif call_type == "UPDATE_FRAMEWORK":
            self._update_framework(framework, dict(body.get("framework_info") or {}))
            return 200
        else:
            logger.info(
                "%s from framework %s accepted; nothing to do here", call_type, framework.framework_id
            )
        return 202

    def _update_framework(self, framework: Framework, info: JsonObject) -> None:
        if id_value(info.get("id")) != framework.framework_id:
            raise CallRefused(400, "'update_framework.framework_info.id' must be the framework's id")
        problem = framework_info_problem(info)
        if problem is not None:
            raise CallRefused(400, problem)
        framework.info = info
        self.agent.update_framework(info)
        self._offers.request_allocation()


def _roles(body: JsonObject) -> tuple[str, ...]:
    return tuple(str(role) for role in body.get("roles") or [])
