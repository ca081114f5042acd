"""``POST /api/v1/scheduler``: the master's scheduler API endpoint.

``SUBSCRIBE`` answers ``200`` with a RecordIO event stream and a ``Mesos-Stream-Id`` header,
``UPDATE_FRAMEWORK`` ``200``; other calls answer ``202``. Refusals, in the order they are
checked: ``503`` while the master shuts down; what :mod:`server.mesos.calls` refuses (``405``,
``400``, ``415``, ``501``); for SUBSCRIBE ``406`` when ``Accept`` excludes JSON and ``400`` when
it carries a ``Mesos-Stream-Id``; for other calls ``400`` for an unknown framework, ``403`` for
one that is not subscribed, ``400`` for a missing or stale ``Mesos-Stream-Id``. This master is
always the leader (no ``307``).
"""

from __future__ import annotations

import logging

from aiohttp import web

from server.cluster.master.core import Master
from server.cluster.wire import CallRefused, read_call, refusal_response, serve_stream
from server.mesos.calls import accepts_json, scheduler_call_refusal
from server.mesos.values import id_value

__all__ = ["SCHEDULER_API_PATH", "SchedulerApi"]

logger = logging.getLogger("server.cluster.master")

SCHEDULER_API_PATH = "/api/v1/scheduler"


class SchedulerApi:
    """The aiohttp handler of the scheduler API of one master."""

    def __init__(self, master: Master) -> None:
        self._master = master

    async def handle(self, request: web.Request) -> web.StreamResponse:
        master = self._master
        try:
            if master.stopping:
                raise CallRefused(503, "Master is shutting down")
            call = await read_call(request, scheduler_call_refusal)
            if call["type"] == "SUBSCRIBE":
                if not accepts_json(request.headers.get("Accept")):
                    raise CallRefused(406, "Expecting 'Accept' to allow 'application/json'")
                if "Mesos-Stream-Id" in request.headers:
                    raise CallRefused(400, "Subscribe calls should not include the 'Mesos-Stream-Id' header")
                stream = master.subscribe(call)
                return await serve_stream(request, stream, {"Mesos-Stream-Id": stream.stream_id})
            framework = master.subscribed_framework(
                id_value(call.get("framework_id")), request.headers.get("Mesos-Stream-Id")
            )
            return web.Response(status=master.apply(framework, call))
        except CallRefused as refusal:
            logger.info("scheduler call refused: %s %s", refusal.status, refusal.text)
            return refusal_response(refusal)
