"""A subscription to a Mesos v1 HTTP API event stream, kept up across lost connections.

The scheduler API (``/api/v1/scheduler``) and the executor API (``/api/v1/executor``) have the
same shape: ``POST`` a ``SUBSCRIBE`` call, receive ``200 OK`` whose chunked body is a RecordIO
stream of JSON events, and send every other call on another connection. :class:`SubscriptionLoop`
is that shape; what to send, what the events mean and when to give up belong to the hooks its
owner passes in. The loop knows no framework and makes no calls.

Lifecycle (:class:`SubscriptionState`)::

    UNOPENED --run()--> CONNECTING <--> SUBSCRIBED --close() / a hook ends it--> CLOSED

One stream, step by step:

* ``subscribe`` (a :data:`SubscribeHook`) says where to ``POST`` and what, anew for every attempt
  (leader detection and the call body belong there).
* ``SUBSCRIBE`` goes on the loop's own connection. A redirect (``301``/``302``/``303``/``307``/
  ``308`` with ``Location``, what a standby master answers) is followed, up to five times,
  relative to the redirected request (:func:`resolve_location`). Any status but ``200`` ends the
  attempt: ``503`` as :class:`~server.mesos.errors.NoLeader`, a 4xx other than 408 / 429 as
  :class:`~server.mesos.errors.CallRejected`, anything else as
  :class:`~server.mesos.errors.TransportError`.
* On ``200``, ``on_open`` gets the endpoint after redirects and the ``Mesos-Stream-Id`` header;
  then ``on_event`` gets every event, decoded, one at a time and in stream order. Bytes are read
  in a task of their own, so a slow hook delays later events but not the heartbeat watchdog.
* A ``SUBSCRIBED`` event makes the state ``SUBSCRIBED`` before ``on_event`` sees it; the attempt
  counts as subscribed once ``on_event`` took it without raising. From then on, a stream silent for
  ``heartbeat_misses`` times its ``subscribed.heartbeat_interval_seconds`` is lost (no watchdog
  when it names no interval); before that event, ``first_event_timeout`` bounds the silence.

A stream ends with a :class:`~server.mesos.errors.MesosError`: ``SubscriptionLost`` for the end
of the body or missed heartbeats, ``ProtocolError`` for broken framing or an event that is not a
JSON object with a ``type``, ``TransportError`` for the network, or the ``MesosError`` a hook
raised (causes chained with ``from``). ``on_stream_end`` runs after every attempt however it
ended; then ``on_lost`` returns the seconds to wait before the next ``SUBSCRIBE``, or ``None`` to
give up, and :meth:`SubscriptionLoop.run` raises that error. :meth:`~SubscriptionLoop.close` (or
``on_event`` returning ``False``) drops the stream at once and makes ``run()`` return without
calling ``on_lost``. Hooks run in ``run()``'s task, except ``subscribe``, which runs in the reader's;
an exception other than ``MesosError`` propagates out of ``run()`` (from ``subscribe``: it is
logged and ends the attempt as a ``TransportError``).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from server.mesos.errors import (
    CallRejected,
    MesosError,
    NoLeader,
    ProtocolError,
    SubscriptionLost,
    TransportError,
)
from server.mesos.recordio import RecordIOParser

__all__ = [
    "EventHook",
    "JsonObject",
    "LostHook",
    "OpenHook",
    "OpenedStream",
    "StreamEndHook",
    "SubscribeHook",
    "SubscribeRequest",
    "SubscriptionLoop",
    "SubscriptionState",
    "heartbeat_interval",
    "resolve_location",
]

logger = logging.getLogger("server.mesos.subscription")

#: A decoded JSON object as Mesos sends it (snake_case proto field names, enums as strings).
JsonObject = dict[str, Any]

_JSON = "application/json"
_MAX_REDIRECTS = 5
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_RETRYABLE_CLIENT_ERRORS = frozenset({408, 429})


class SubscriptionState(enum.Enum):
    """Where a :class:`SubscriptionLoop` is in its lifecycle."""

    UNOPENED = "unopened"  # constructed, run() not called yet
    CONNECTING = "connecting"  # subscribing, or waiting to subscribe again
    SUBSCRIBED = "subscribed"  # a SUBSCRIBED event arrived on the current stream
    CLOSED = "closed"  # run() has returned; the loop cannot be reused


@dataclass(frozen=True, kw_only=True, slots=True)
class SubscribeRequest:
    """One ``SUBSCRIBE`` to send: the API endpoint's URL and the call as JSON bytes."""

    endpoint: str
    body: bytes


@dataclass(frozen=True, kw_only=True, slots=True)
class OpenedStream:
    """A ``SUBSCRIBE`` answered ``200``: where (after redirects), and its ``Mesos-Stream-Id``."""

    endpoint: str
    stream_id: str | None


#: Returns the next ``SUBSCRIBE`` to send; called before every attempt.
SubscribeHook = Callable[[], Awaitable[SubscribeRequest]]
#: Told that ``SUBSCRIBE`` was answered ``200``; events follow.
OpenHook = Callable[[OpenedStream], Awaitable[None]]
#: Gets one event (a JSON object with a string ``type``); returning ``False`` ends the loop.
EventHook = Callable[[JsonObject], Awaitable[bool]]
#: Told that the current attempt is over, however it ended (``close()`` included).
StreamEndHook = Callable[[], Awaitable[None]]
#: Told how a stream ended without ``close()`` (``subscribed``: whether it had reached
#: SUBSCRIBED); returns the seconds to wait before subscribing again, or ``None`` to give up.
LostHook = Callable[[bool, MesosError], Awaitable[float | None]]


@dataclass(frozen=True, slots=True)
class _Ended:
    error: MesosError


class _CloseRequested:
    pass


_CLOSE = _CloseRequested()

_QueueItem = OpenedStream | JsonObject | _Ended | _CloseRequested


class SubscriptionLoop:
    """Subscribes, hands events to its hooks, resubscribes (see the module docstring).

    :param subscribe: the next ``SUBSCRIBE`` (endpoint and body), before every attempt.
    :param on_event: one event; ``False`` ends the loop.
    :param on_lost: the delay before the next attempt after a lost stream, or ``None`` to give up.
    :param on_open: the stream was opened (endpoint, stream id); optional.
    :param on_stream_end: an attempt is over, however it ended; optional.
    :param headers: sent with every ``SUBSCRIBE`` besides ``Content-Type`` and ``Accept``
        (an ``Authorization`` header, say).
    :param connect_timeout: seconds allowed to connect and send; reading the stream has no
        timeout (the watchdog supervises it).
    :param open_timeout: seconds allowed from calling ``subscribe`` to the response headers;
        ``None`` for no bound.
    :param first_event_timeout: seconds of silence allowed between the response headers and the
        first ``SUBSCRIBED`` event; ``None`` for no bound.
    :param heartbeat_misses: how many heartbeat intervals without any event mean a dead stream.
    :param transport: the ``httpx`` transport of the stream connection (``httpx.MockTransport``
        in tests); ``None`` for the default.
    :param verify: TLS verification for ``https`` endpoints, as ``httpx`` takes it.
    :param task_name: name of the task that reads the stream.
    """

    def __init__(
        self,
        *,
        subscribe: SubscribeHook,
        on_event: EventHook,
        on_lost: LostHook,
        on_open: OpenHook | None = None,
        on_stream_end: StreamEndHook | None = None,
        headers: Mapping[str, str] | None = None,
        connect_timeout: float = 10.0,
        open_timeout: float | None = None,
        first_event_timeout: float | None = None,
        heartbeat_misses: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
        verify: Any = True,
        task_name: str = "mesos-subscription-reader",
    ) -> None:
        if heartbeat_misses <= 0:
            raise ValueError("heartbeat_misses must be positive")
        self._subscribe = subscribe
        self._on_event = on_event
        self._on_lost = on_lost
        self._on_open = on_open
        self._on_stream_end = on_stream_end
        self._headers = {"Content-Type": _JSON, "Accept": _JSON, **(headers or {})}
        self._connect_timeout = connect_timeout
        self._open_timeout = open_timeout
        self._first_event_timeout = first_event_timeout
        self._heartbeat_misses = heartbeat_misses
        self._transport = transport
        self._verify = verify
        self._task_name = task_name
        self._state = SubscriptionState.UNOPENED
        self._closing = asyncio.Event()
        self._closed = asyncio.Event()
        self._run_task: asyncio.Task[Any] | None = None
        self._queue: asyncio.Queue[_QueueItem] | None = None

    @property
    def state(self) -> SubscriptionState:
        """The lifecycle state."""
        return self._state

    @property
    def closing(self) -> bool:
        """Whether :meth:`close` (or :meth:`request_close`) was called."""
        return self._closing.is_set()

    async def run(self) -> None:
        """Subscribe and deliver events until :meth:`close`, ``on_event`` returning ``False``,
        or ``on_lost`` giving up (then the error that ended the last stream is raised).

        Can be called once; after :meth:`close` it returns at once.
        """
        if self._state is SubscriptionState.CLOSED:
            return
        if self._state is not SubscriptionState.UNOPENED:
            raise RuntimeError("SubscriptionLoop.run() can only be called once")
        self._run_task = asyncio.current_task()
        self._state = SubscriptionState.CONNECTING
        http = httpx.AsyncClient(
            timeout=httpx.Timeout(self._connect_timeout, read=None),
            headers=self._headers,
            follow_redirects=False,
            trust_env=False,
            verify=self._verify,
            transport=self._transport,
        )
        try:
            while not self._closing.is_set():
                subscribed, error = await self._session(http)
                if error is None or self._closing.is_set():
                    break
                delay = await self._on_lost(subscribed, error)
                if delay is None:
                    raise error
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closing.wait(), delay)
        finally:
            self._state = SubscriptionState.CLOSED
            try:
                await http.aclose()
            finally:
                self._closed.set()

    def request_close(self) -> None:
        """Ask :meth:`run` to drop the stream and return, without waiting. Idempotent."""
        if self._state is SubscriptionState.CLOSED:
            return
        if self._run_task is None:
            self._state = SubscriptionState.CLOSED
            self._closed.set()
            return
        self._closing.set()
        if self._queue is not None:
            self._queue.put_nowait(_CLOSE)

    async def close(self) -> None:
        """Stop: drop the stream and wait until :meth:`run` has returned. Called from inside
        ``run()`` (from a hook) it only requests the stop. Idempotent."""
        self.request_close()
        if asyncio.current_task() is not self._run_task:
            await self._closed.wait()

    async def _session(self, http: httpx.AsyncClient) -> tuple[bool, MesosError | None]:
        """One attempt: returns whether it reached SUBSCRIBED, and the error that ended it
        (``None`` when the loop is closing)."""
        queue: asyncio.Queue[_QueueItem] = asyncio.Queue()
        self._queue = queue
        reader = asyncio.create_task(self._read(http, queue), name=self._task_name)
        subscribed = False
        on_event = self._on_event
        try:
            while True:
                item = await queue.get()
                if isinstance(item, dict):
                    is_subscribed = item["type"] == "SUBSCRIBED"
                    if is_subscribed:
                        self._state = SubscriptionState.SUBSCRIBED
                    try:
                        go_on = await on_event(item)
                    except MesosError as exc:
                        return subscribed, exc
                    subscribed = subscribed or is_subscribed
                    if not go_on:
                        self._closing.set()
                    if self._closing.is_set():
                        return subscribed, None
                elif isinstance(item, OpenedStream):
                    if self._on_open is not None:
                        try:
                            await self._on_open(item)
                        except MesosError as exc:
                            return subscribed, exc
                elif isinstance(item, _Ended):
                    return subscribed, item.error
                else:
                    return subscribed, None
        finally:
            self._queue = None
            if self._state is SubscriptionState.SUBSCRIBED:
                self._state = SubscriptionState.CONNECTING
            reader.cancel()
            await asyncio.wait([reader])
            if self._on_stream_end is not None:
                await self._on_stream_end()

    async def _read(self, http: httpx.AsyncClient, queue: asyncio.Queue[_QueueItem]) -> None:
        """Reader task: subscribe, then turn stream bytes into queue items (no hook but
        ``subscribe`` runs here)."""
        try:
            await self._subscribe_and_read(http, queue)
        except MesosError as exc:
            queue.put_nowait(_Ended(exc))
        except Exception as exc:  # a bug or an unexpected library error: the stream is over
            logger.exception("unexpected error on the subscription stream")
            error = TransportError(f"unexpected error on the subscription stream: {exc!r}")
            error.__cause__ = exc
            queue.put_nowait(_Ended(error))

    async def _subscribe_and_read(self, http: httpx.AsyncClient, queue: asyncio.Queue[_QueueItem]) -> None:
        try:
            async with asyncio.timeout(self._open_timeout):
                request = await self._subscribe()
                response, endpoint = await self._open(http, request)
        except TimeoutError as exc:
            raise TransportError(f"no answer to SUBSCRIBE within {self._open_timeout} s") from exc
        loop = asyncio.get_running_loop()
        window = self._first_event_timeout
        try:
            queue.put_nowait(
                OpenedStream(endpoint=endpoint, stream_id=response.headers.get("Mesos-Stream-Id"))
            )
            parser = RecordIOParser()
            async with asyncio.timeout_at(None if window is None else loop.time() + window) as watchdog:
                async for chunk in response.aiter_bytes():
                    parser.feed(chunk)
                    while (record := parser.next_record()) is not None:
                        if not record:
                            continue  # valid framing, no event: nothing to do
                        event = _decode_event(record)
                        if event["type"] == "SUBSCRIBED":
                            interval = heartbeat_interval(event)
                            window = interval * self._heartbeat_misses if interval > 0 else None
                        watchdog.reschedule(None if window is None else loop.time() + window)
                        queue.put_nowait(event)
                parser.eof()
        except TimeoutError as exc:
            silence = f"{window:.2f} s" if window is not None else "too long"
            raise SubscriptionLost(f"no event from {endpoint} for {silence} (heartbeats lost)") from exc
        except httpx.HTTPError as exc:
            raise TransportError(f"subscription stream from {endpoint} broke: {exc!r}") from exc
        finally:
            await response.aclose()
        raise SubscriptionLost(f"{endpoint} ended the subscription stream")

    async def _open(self, http: httpx.AsyncClient, request: SubscribeRequest) -> tuple[httpx.Response, str]:
        """POST SUBSCRIBE, following redirects; return the ``200`` response and its endpoint."""
        endpoint = request.endpoint
        for _ in range(_MAX_REDIRECTS + 1):
            try:
                response = await http.send(
                    http.build_request("POST", endpoint, content=request.body), stream=True
                )
            except httpx.HTTPError as exc:
                raise TransportError(f"SUBSCRIBE to {endpoint} failed: {exc!r}") from exc
            if response.status_code == 200:
                return response, endpoint
            try:
                text = (await response.aread()).decode("utf-8", errors="replace")
            except httpx.HTTPError:
                text = ""
            finally:
                await response.aclose()
            status = response.status_code
            location = response.headers.get("Location")
            if status in _REDIRECTS and location:
                try:
                    target = resolve_location(endpoint, location)
                except ValueError as exc:
                    raise ProtocolError(f"{endpoint} redirected to {location!r}: {exc}") from exc
                logger.info("%s is not the leader; redirected to %s", endpoint, target)
                endpoint = target
                continue
            if status == 503:
                raise NoLeader(f"{endpoint} has no leading master: {text.strip()}")
            if 400 <= status < 500 and status not in _RETRYABLE_CLIENT_ERRORS:
                raise CallRejected("SUBSCRIBE", status, text)
            raise TransportError(f"SUBSCRIBE to {endpoint} answered HTTP {status}: {text.strip()[:200]}")
        raise NoLeader(f"more than {_MAX_REDIRECTS} redirects while subscribing via {request.endpoint}")


def resolve_location(current_endpoint: str, location: str) -> str:
    """Return the endpoint URL a redirect of a request to ``current_endpoint`` points to.

    Masters answer with a scheme-relative ``Location: //host:port/api/v1/scheduler``; older ones
    sent ``//host:port`` or a bare ``host:port``. The scheme of the redirected request is kept,
    and its API path (``/api/v1/...``) is appended when the location's path does not end with it.
    Raises ``ValueError`` for an empty location.
    """
    current = urlsplit(current_endpoint)
    scheme = current.scheme or "http"
    target = location.strip()
    if not target:
        raise ValueError("empty Location header")
    if target.startswith("//"):
        target = f"{scheme}:{target}"
    elif "://" not in target:
        target = f"{scheme}://{current.netloc}{target}" if target.startswith("/") else f"{scheme}://{target}"
    parts = urlsplit(target)
    path = parts.path.rstrip("/")
    api_start = current.path.find("/api/")
    api_path = current.path[api_start:].rstrip("/") if api_start >= 0 else ""
    if api_path and not path.endswith(api_path):
        path += api_path
    return f"{parts.scheme}://{parts.netloc}{path}"


def heartbeat_interval(event: JsonObject) -> float:
    """``subscribed.heartbeat_interval_seconds`` of a SUBSCRIBED event; 0 when it has none."""
    subscribed = event.get("subscribed")
    interval = subscribed.get("heartbeat_interval_seconds") if isinstance(subscribed, dict) else None
    return float(interval) if isinstance(interval, int | float) else 0.0


def _decode_event(record: bytes) -> JsonObject:
    try:
        event = json.loads(record)
    except ValueError as exc:
        raise ProtocolError(f"event is not JSON: {record[:200]!r}") from exc
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        raise ProtocolError(f"event has no type: {record[:200]!r}")
    return event
