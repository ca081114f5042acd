"""What the master's scheduler API and the agent's executor API share on the wire.

* Reading a call: ``POST`` only, ``Content-Type`` exactly ``application/json`` (the real master
  compares the string), a JSON object with a known ``type``. Refusals are :class:`CallRefused`
  with the HTTP status and text Mesos uses; the HTTP handlers turn them into responses in one place.
* Event streams: an :class:`EventStream` is an outbox of RecordIO-framed JSON events written to one
  chunked HTTP response by :func:`serve_stream`. Putting an event never blocks or fails, so domain
  code can emit events synchronously and in order; a stream that has ended drops them.
* Ids, durations and ``TaskStatus`` building, as the protos define them.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import math
import time
import uuid
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from server.mesos.recordio import encode_record

__all__ = [
    "APPLICATION_JSON",
    "CallRefused",
    "EventStream",
    "JsonObject",
    "duration_seconds",
    "encode_event",
    "id_problem",
    "id_value",
    "mesos_duration",
    "new_uuid",
    "read_call",
    "refusal_response",
    "serve_stream",
    "task_status",
    "wait_status",
]

logger = logging.getLogger("server.cluster")

JsonObject = dict[str, Any]

APPLICATION_JSON = "application/json"


class CallRefused(Exception):
    """A call answered with an HTTP error instead of being accepted."""

    def __init__(self, status: int, text: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(f"{status} {text}")
        self.status = status
        self.text = text
        self.headers = dict(headers or {})


def refusal_response(refusal: CallRefused) -> web.Response:
    """The HTTP response for a refused call (plain text, as Mesos answers)."""
    return web.Response(status=refusal.status, text=refusal.text, headers=refusal.headers)


async def read_call(request: web.Request, call_types: Collection[str]) -> JsonObject:
    """Read and check the envelope of a v1 API call; the body's own fields are the caller's job.

    Raises :class:`CallRefused`: 405 for a method other than POST, 400 without ``Content-Type``,
    415 for anything but ``application/json`` (protobuf bodies are not supported here), 400 for a
    body that is not a JSON object with a known ``type``, 501 for type ``UNKNOWN``.
    """
    if request.method != "POST":
        raise CallRefused(
            405, f"Expecting one of {{ 'POST' }}, but received '{request.method}'", {"Allow": "POST"}
        )
    content_type = request.headers.get("Content-Type")
    if content_type is None:
        raise CallRefused(400, "Expecting 'Content-Type' to be present")
    if content_type != APPLICATION_JSON:
        raise CallRefused(
            415, f"Expecting 'Content-Type' of {APPLICATION_JSON} (this cluster does not speak protobuf)"
        )
    raw = await request.read()
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise CallRefused(400, f"Failed to parse body into JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise CallRefused(400, "Failed to convert JSON into Call protobuf: expecting a JSON object")
    call_type = body.get("type")
    if not isinstance(call_type, str) or call_type not in call_types:
        raise CallRefused(
            400, f"Failed to convert JSON into Call protobuf: unknown or missing type {call_type!r}"
        )
    if call_type == "UNKNOWN":
        raise CallRefused(501, "Received 'UNKNOWN' call")
    return body


def accepts_json(request: web.Request) -> bool:
    """Whether the ``Accept`` header admits a JSON stream (absent means anything)."""
    accept = request.headers.get("Accept", "*/*")
    return any(kind in accept for kind in (APPLICATION_JSON, "*/*", "application/*"))


# --- ids, durations, statuses -------------------------------------------------------------------


def id_value(value: Any) -> str | None:
    """The ``value`` of an ``{"value": "..."}`` id object, or ``None`` if it is not one."""
    if isinstance(value, dict) and isinstance(value.get("value"), str):
        return str(value["value"])
    return None


def id_problem(value: str) -> str | None:
    """Why ``value`` cannot be a task / executor / framework id, or ``None`` if it can.

    Mesos refuses empty ids, ``.`` and ``..``, and ids with ``/`` or NUL (they name sandbox
    directories); control characters are refused here too for the same reason.
    """
    if not value:
        return "ID must not be empty"
    if value in (".", ".."):
        return f"'{value}' is disallowed"
    if "/" in value or any(ord(character) < 0x20 or ord(character) == 0x7F for character in value):
        return "ID must not contain '/' or control characters"
    return None


def duration_seconds(value: Any) -> float | None:
    """Seconds of a ``DurationInfo`` (``{"nanoseconds": n}``), ``None`` if absent or malformed."""
    if not isinstance(value, dict):
        return None
    nanoseconds = value.get("nanoseconds")
    if isinstance(nanoseconds, str) and nanoseconds.lstrip("-").isdigit():
        nanoseconds = int(nanoseconds)  # int64 fields may arrive as JSON strings
    if isinstance(nanoseconds, bool) or not isinstance(nanoseconds, int | float):
        return None
    seconds = float(nanoseconds) / 1e9
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return seconds


def mesos_duration(seconds: float) -> str:
    """A duration as Mesos prints it in environment variables (``5secs``, ``0.5secs``)."""
    return f"{seconds:g}secs"


def new_uuid() -> str:
    """A fresh 16-byte status update uuid, base64 as JSON carries ``bytes``."""
    return base64.b64encode(uuid.uuid4().bytes).decode("ascii")


def task_status(
    task_id: str,
    state: str,
    *,
    source: str,
    agent_id: str | None = None,
    executor_id: str | None = None,
    reason: str | None = None,
    message: str | None = None,
    reliable: bool = False,
) -> JsonObject:
    """A ``TaskStatus``; ``reliable`` gives it a uuid (it must then be acknowledged)."""
    status: JsonObject = {
        "task_id": {"value": task_id},
        "state": state,
        "source": source,
        "timestamp": time.time(),
    }
    if agent_id is not None:
        status["agent_id"] = {"value": agent_id}
    if executor_id is not None:
        status["executor_id"] = {"value": executor_id}
    if reason is not None:
        status["reason"] = reason
    if message is not None:
        status["message"] = message
    if reliable:
        status["uuid"] = new_uuid()
    return status


def wait_status(returncode: int | None) -> int | None:
    """The ``waitpid`` status Mesos reports in FAILURE events from a Python return code
    (``N`` exit → ``N << 8``; killed by signal ``S`` → ``S``)."""
    if returncode is None:
        return None
    if returncode < 0:
        return -returncode
    return (returncode & 0xFF) << 8


# --- event streams -------------------------------------------------------------------------------


def encode_event(event: JsonObject) -> bytes:
    """One event as a RecordIO record of compact UTF-8 JSON."""
    return encode_record(json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


@dataclass(eq=False)
class EventStream:
    """The outbox of one streaming response (a SUBSCRIBE of a framework or an executor).

    :meth:`send` queues an event; :meth:`close` ends the stream after what is queued. Once the
    stream has ended (closed here, or the peer went away) further events are dropped. ``on_end``
    runs once when the response is over, whichever side ended it.
    """

    stream_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    on_end: Callable[[EventStream], None] | None = None
    _outbox: asyncio.Queue[bytes | None] = field(default_factory=asyncio.Queue)
    _closing: bool = False
    _ended: bool = False

    @property
    def open(self) -> bool:
        """Whether events sent now can still reach the peer."""
        return not (self._closing or self._ended)

    def send(self, event: JsonObject) -> None:
        if self.open:
            self._outbox.put_nowait(encode_event(event))

    def close(self) -> None:
        """End the response (cleanly) once the queued events are written."""
        if self.open:
            self._closing = True
            self._outbox.put_nowait(None)

    def _finish(self) -> None:
        if self._ended:
            return
        self._ended = True
        if self.on_end is not None:
            self.on_end(self)


async def serve_stream(
    request: web.Request, stream: EventStream, headers: Mapping[str, str]
) -> web.StreamResponse:
    """Write ``stream``'s events to a chunked ``200`` response until it is closed or the peer goes."""
    response = web.StreamResponse(status=200, headers={"Content-Type": APPLICATION_JSON, **headers})
    response.enable_chunked_encoding()
    try:
        await response.prepare(request)
        while True:
            first = await stream._outbox.get()
            batch = [first]
            while first is not None and not stream._outbox.empty():
                item = stream._outbox.get_nowait()
                batch.append(item)
                if item is None:
                    break
            data = b"".join(item for item in batch if item is not None)
            if data:
                await response.write(data)
            if batch[-1] is None:
                break
        with contextlib.suppress(ConnectionError):
            await response.write_eof()
    except ConnectionError:
        logger.debug("stream %s: peer went away", stream.stream_id)
    finally:
        stream._finish()
    return response
