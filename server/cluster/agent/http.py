"""``POST /api/v1/executor``: the agent's executor API endpoint.

``SUBSCRIBE`` answers ``200`` with a RecordIO event stream; ``UPDATE``, ``MESSAGE`` and
``HEARTBEAT`` answer ``202``. Refusals, in the order they are checked: what
:mod:`server.mesos.calls` refuses in the envelope, the type and the ids (``405``, ``400``, ``415``,
``501``); ``400`` for an unknown framework or executor (command tasks' built-in executors do not
call); ``403`` for anything but SUBSCRIBE before the executor subscribed; ``406`` for a SUBSCRIBE
whose ``Accept`` excludes JSON; ``400`` for an invalid UPDATE or MESSAGE.
"""

from __future__ import annotations

import logging

from aiohttp import web

from server.cluster.agent.core import Agent
from server.cluster.agent.records import ExecutorState
from server.cluster.wire import CallRefused, read_call, refusal_response, serve_stream
from server.mesos.calls import (
    Refusal,
    accepts_json,
    executor_call_refusal,
    executor_message_refusal,
    executor_update_status,
)
from server.mesos.values import JsonObject

__all__ = ["EXECUTOR_API_PATH", "ExecutorApi"]

logger = logging.getLogger("server.cluster.agent")

EXECUTOR_API_PATH = "/api/v1/executor"


class ExecutorApi:
    """The aiohttp handler of the executor API of one agent."""

    def __init__(self, agent: Agent) -> None:
        self._agent = agent

    async def handle(self, request: web.Request) -> web.StreamResponse:
        try:
            call = await read_call(request, executor_call_refusal)
            return await self._call(request, call)
        except CallRefused as refusal:
            logger.info("executor call refused: %s %s", refusal.status, refusal.text)
            return refusal_response(refusal)

    async def _call(self, request: web.Request, call: JsonObject) -> web.StreamResponse:
        call_type = call["type"]
        if call_type == "HEARTBEAT":
            return web.Response(status=202)
        found = self._agent.executor_run(call["framework_id"]["value"], call["executor_id"]["value"])
        if isinstance(found, str):
            raise CallRefused(400, found)
        framework, run = found
        if call_type != "SUBSCRIBE" and run.state in (ExecutorState.LAUNCHING, ExecutorState.REGISTERING):
            raise CallRefused(403, "Executor is not subscribed")
        if call_type == "SUBSCRIBE":
            if not accepts_json(request.headers.get("Accept")):
                raise CallRefused(406, "Expecting 'Accept' to allow 'application/json'")
            subscribe = call.get("subscribe") or {}
            if not isinstance(subscribe, dict):
                raise CallRefused(400, "Expecting 'subscribe' to be an object")
            stream = self._agent.executor_subscribed(framework, run, subscribe)
            return await serve_stream(request, stream, {})
        if call_type == "UPDATE":
            status = executor_update_status(call)
            if isinstance(status, Refusal):
                raise CallRefused.of(status)
            self._agent.executor_update(framework, run, status)
            return web.Response(status=202)
        refusal = executor_message_refusal(call)
        if refusal is not None:
            raise CallRefused.of(refusal)
        self._agent.executor_message(framework, run, call["message"]["data"])
        return web.Response(status=202)
