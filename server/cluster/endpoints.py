"""What the master's and the agent's HTTP endpoints share.

:func:`add_get` routes a ``GET`` with and without a trailing ``/`` (Mesos accepts both, and
clients such as ``avmesos-cli`` send the slash). :func:`serve_operator_call` reads and answers a
v1 operator API call (``POST /api/v1``): the envelope is the scheduler API's (``405`` for another
method, ``400`` without ``Content-Type``, ``415`` for anything but JSON, ``400`` for a body that
is not a JSON object), plus ``406`` when ``Accept`` excludes JSON. A ``type`` that is not one of
the side's call types (``master.proto`` / ``agent.proto``) is a ``400``; ``UNKNOWN`` and known
calls this cluster does not serve are ``501``. Answers are ``200`` with ``{"type": <call type>,
"<call type in lower case>": {...}}``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping

from aiohttp import web

from server.cluster.wire import CallRefused, read_call, refusal_response
from server.mesos.calls import Refusal, accepts_json
from server.mesos.values import JsonObject

__all__ = ["OPERATOR_API_PATH", "Handler", "OperatorHandler", "add_get", "answer", "serve_operator_call"]

OPERATOR_API_PATH = "/api/v1"

#: An aiohttp request handler.
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: A served call: the call in, the response's payload out (or a :class:`CallRefused`).
OperatorHandler = Callable[[JsonObject], JsonObject | None]


def add_get(app: web.Application, path: str, handler: Handler) -> None:
    """Route ``GET path`` and ``GET path/`` to ``handler``."""
    app.router.add_get(path, handler)
    app.router.add_get(path + "/", handler)


def answer(call_type: str, payload: JsonObject | None) -> JsonObject:
    """The response of a call: its type and, when there is one, its payload."""
    response: JsonObject = {"type": call_type}
    if payload is not None:
        response[call_type.lower()] = payload
    return response


def _type_check(call_types: Collection[str]) -> Callable[[JsonObject], Refusal | None]:
    def check(call: JsonObject) -> Refusal | None:
        call_type = call.get("type")
        if not isinstance(call_type, str) or call_type not in call_types:
            return Refusal(
                400, f"Failed to convert JSON into Call protobuf: unknown or missing type {call_type!r}"
            )
        return None

    return check


async def serve_operator_call(
    request: web.Request,
    call_types: Collection[str],
    handlers: Mapping[str, OperatorHandler],
) -> web.Response:
    """Answer one operator call with the handler of its type (see the module docstring)."""
    try:
        if not accepts_json(request.headers.get("Accept")):
            raise CallRefused(406, "Expecting 'Accept' to allow 'application/json'")
        call = await read_call(request, _type_check(call_types))
        call_type = str(call["type"])
        handler = handlers.get(call_type)
        if handler is None:
            raise CallRefused(501, f"'{call_type}' is not served by this cluster")
        return web.json_response(answer(call_type, handler(call)))
    except CallRefused as refusal:
        return refusal_response(refusal)
