"""The HTTP side of the master's scheduler API and the agent's executor API.

* Reading a call: :func:`read_call` applies the envelope checks and the call validation of
  :mod:`server.mesos.calls` to an aiohttp request; a refused call raises :class:`CallRefused`,
  which the endpoint turns into a plain-text answer with :func:`refusal_response`.
* Event streams: an :class:`EventStream` is an outbox of RecordIO-framed JSON events written to one
  chunked HTTP response by :func:`serve_stream`, one HTTP chunk per event (as Mesos writes them:
  some clients read one record per chunk). Putting an event never blocks or fails, so the
  master and the agent can emit events synchronously and in order; a stream that has ended drops
  them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from server.mesos.calls import APPLICATION_JSON, Refusal, decode_call, envelope_refusal
from server.mesos.events import encode_event
from server.mesos.values import JsonObject, new_stream_id

__all__ = ["CallRefused", "EventStream", "read_call", "refusal_response", "serve_stream"]

logger = logging.getLogger("server.cluster")


class CallRefused(Exception):
    """A call answered with an HTTP error instead of being accepted."""

    def __init__(self, status: int, text: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(f"{status} {text}")
        self.status = status
        self.text = text
        self.headers = dict(headers or {})

    @classmethod
    def of(cls, refusal: Refusal) -> CallRefused:
        return cls(refusal.status, refusal.text, refusal.headers)


def refusal_response(refusal: CallRefused) -> web.Response:
    """The HTTP response for a refused call (plain text, as Mesos answers)."""
    return web.Response(status=refusal.status, text=refusal.text, headers=refusal.headers)


async def read_call(request: web.Request, validate: Callable[[JsonObject], Refusal | None]) -> JsonObject:
    """Read a v1 API call from ``request`` and check it with ``validate`` (one of
    :func:`~server.mesos.calls.scheduler_call_refusal` and
    :func:`~server.mesos.calls.executor_call_refusal`); raises :class:`CallRefused`."""
    refusal = envelope_refusal(request.method, request.headers.get("Content-Type"))
    if refusal is not None:
        raise CallRefused.of(refusal)
    call = decode_call(await request.read())
    if isinstance(call, Refusal):
        raise CallRefused.of(call)
    refusal = validate(call)
    if refusal is not None:
        raise CallRefused.of(refusal)
    return call


@dataclass(eq=False)
class EventStream:
    """The outbox of one streaming response (a SUBSCRIBE of a framework or an executor).

    :meth:`send` queues an event; :meth:`close` ends the stream after what is queued. Once the
    stream has ended (closed here, or the peer went away) further events are dropped. ``on_end``
    runs once when the response is over, whichever side ended it.
    """

    stream_id: str = field(default_factory=new_stream_id)
    on_end: Callable[[EventStream], None] | None = None
    _outbox: asyncio.Queue[bytes | None] = field(default_factory=asyncio.Queue)
    _closing: bool = False
    _ended: bool = False

    @property
    def open(self) -> bool:
        """Whether events sent now can still reach the peer."""
        return not (self._closing or self._ended)

    def send(self, event: Mapping[str, Any]) -> None:
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
        while (record := await stream._outbox.get()) is not None:
            await response.write(record)  # one HTTP chunk per event, as Mesos writes them
        with contextlib.suppress(ConnectionError):
            await response.write_eof()
    except ConnectionError:
        logger.debug("stream %s: peer went away", stream.stream_id)
    finally:
        stream._finish()
    return response
