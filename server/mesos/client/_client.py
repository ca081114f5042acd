"""Asyncio client for the Mesos v1 scheduler HTTP API (``/api/v1/scheduler``).

Lifecycle (:class:`ClientState`)::

    UNOPENED --run()--> CONNECTING <--> SUBSCRIBED --close() / ERROR event / teardown()--> CLOSED

* :meth:`MesosSchedulerClient.run` detects the leading master, sends ``SUBSCRIBE`` and reads the
  RecordIO event stream of the response until :meth:`~MesosSchedulerClient.close`. Events go to a
  :class:`SchedulerEventHandler`, one at a time, in stream order.
* The subscription stream and the calls never share a connection: calls (``ACCEPT``, ``DECLINE``,
  ``ACKNOWLEDGE``, ...) go through a second ``httpx.AsyncClient`` with the ``Mesos-Stream-Id``
  header and the top-level ``framework_id``, and must be answered ``202 Accepted``.

What the client guarantees across a lost connection:

* A stream that drops, ends, breaks the framing, or stays silent longer than
  ``heartbeat_misses`` heartbeat intervals ends the subscription: the handler gets
  ``on_disconnected()`` and the client resubscribes with exponential backoff (re-detecting the
  leader each time, following ``307`` redirects) using the same framework id, so the master keeps
  the framework's tasks (within ``failover_timeout``).
* After every ``SUBSCRIBED`` it reconciles: explicitly with ``handler.tasks_to_reconcile()`` (when
  non-empty), then implicitly; and again every ``reconcile_interval`` seconds while subscribed.
* A status update that carries a ``uuid`` is acknowledged only after ``handler.on_update``
  returned without raising (so the scheduler has recorded it first); one without ``uuid``
  (reconciliation answers, master-generated updates) is never acknowledged. An update that is not
  acknowledged is resent by Mesos, so a failed handler or a failed ACK loses nothing.
* Calls made while not subscribed raise :class:`~server.mesos.errors.SubscriptionLost` at once;
  nothing is queued for later.

An ``ERROR`` event is final: the proto says the scheduler "should abort on receiving this event"
(framework removed, failed over by another instance, not authorized), so the client calls
``on_error`` and closes instead of resubscribing. A ``SUBSCRIBE`` refused with a 4xx status (other
than 408 / 429) is final too and makes :meth:`~MesosSchedulerClient.run` raise
:class:`~server.mesos.errors.CallRejected`: retrying a bad FrameworkInfo cannot succeed.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import enum
import json
import logging
import random
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
import orjson

from server.mesos.detector import SCHEDULER_API_PATH, detect_leader, resolve_location
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
    "DEFAULT_FAILOVER_TIMEOUT",
    "Backoff",
    "ClientState",
    "FrameworkInfo",
    "JsonObject",
    "MesosSchedulerClient",
    "SchedulerEventHandler",
]

logger = logging.getLogger("server.mesos")

#: A decoded JSON object as Mesos sends it (snake_case proto field names, enums as strings).
JsonObject = dict[str, Any]

#: ElasticJob-Cloud's failover timeout: one week, in seconds.
DEFAULT_FAILOVER_TIMEOUT = 7 * 24 * 3600.0

_JSON = "application/json"
_MAX_REDIRECTS = 5
_RETRYABLE_CLIENT_ERRORS = frozenset({408, 429})


class ClientState(enum.Enum):
    """Where a :class:`MesosSchedulerClient` is in its lifecycle."""

    UNOPENED = "unopened"  # constructed, run() not called yet
    CONNECTING = "connecting"  # detecting the leader / subscribing / waiting to resubscribe
    SUBSCRIBED = "subscribed"  # SUBSCRIBED received on the current stream; calls may be sent
    CLOSED = "closed"  # run() has returned; the client cannot be reused


@dataclass(frozen=True, kw_only=True, slots=True)
class FrameworkInfo:
    """What the framework tells Mesos about itself on SUBSCRIBE (``mesos.v1.FrameworkInfo``).

    ``role``, when set, is sent as ``roles: [role]`` with the ``MULTI_ROLE`` capability; without
    it the framework subscribes in the default role ``*``. ``capabilities`` lists the other
    ``FrameworkInfo.Capability.Type`` names; ``PARTITION_AWARE`` (the default) makes the master
    report ``TASK_UNREACHABLE`` / ``TASK_DROPPED`` / ``TASK_GONE`` instead of ``TASK_LOST``.
    """

    user: str
    name: str
    hostname: str = field(default_factory=socket.gethostname)
    role: str | None = None
    failover_timeout: float = DEFAULT_FAILOVER_TIMEOUT
    checkpoint: bool = True
    principal: str | None = None
    webui_url: str | None = None
    capabilities: tuple[str, ...] = ("PARTITION_AWARE",)

    def __post_init__(self) -> None:
        if not self.user:
            raise ValueError("FrameworkInfo.user is required (the HTTP API does not fill it in)")
        if not self.name:
            raise ValueError("FrameworkInfo.name is required")
        if self.failover_timeout < 0:
            raise ValueError("FrameworkInfo.failover_timeout must not be negative")

    @property
    def partition_aware(self) -> bool:
        """Whether the framework declares the ``PARTITION_AWARE`` capability."""
        return "PARTITION_AWARE" in self.capabilities

    def to_json(self, framework_id: str | None = None) -> JsonObject:
        """The FrameworkInfo JSON for SUBSCRIBE; ``framework_id`` sets ``id`` (resubscription)."""
        capabilities = list(dict.fromkeys(self.capabilities))
        info: JsonObject = {
            "user": self.user,
            "name": self.name,
            "hostname": self.hostname,
            "failover_timeout": self.failover_timeout,
            "checkpoint": self.checkpoint,
        }
        if self.role is not None:
            info["roles"] = [self.role]
            if "MULTI_ROLE" not in capabilities:
                capabilities.insert(0, "MULTI_ROLE")
        if capabilities:
            info["capabilities"] = [{"type": name} for name in capabilities]
        if self.principal is not None:
            info["principal"] = self.principal
        if self.webui_url is not None:
            info["webui_url"] = self.webui_url
        if framework_id is not None:
            info["id"] = {"value": framework_id}
        return info


@dataclass(frozen=True, kw_only=True, slots=True)
class Backoff:
    """Exponential backoff between subscription attempts.

    Attempt ``n`` (0-based) waits ``min(maximum, initial * multiplier**n)`` seconds, reduced by a
    random fraction of at most ``jitter`` so that many schedulers do not retry in step. The attempt
    counter restarts after every successful subscription.
    """

    initial: float = 0.5
    maximum: float = 15.0
    multiplier: float = 2.0
    jitter: float = 0.2

    def __post_init__(self) -> None:
        if self.initial < 0 or self.maximum < self.initial or self.multiplier < 1:
            raise ValueError("Backoff needs 0 <= initial <= maximum and multiplier >= 1")
        if not 0 <= self.jitter < 1:
            raise ValueError("Backoff.jitter must be in [0, 1)")

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt`` (0 for the first retry)."""
        delay = min(self.maximum, self.initial * self.multiplier ** min(attempt, 64))
        if self.jitter:
            delay *= 1.0 - random.random() * self.jitter
        return delay


class SchedulerEventHandler(Protocol):
    """What the scheduler implements to receive Mesos events.

    Methods are awaited one at a time, in stream order; a slow handler delays later events but not
    heartbeat supervision. An exception raised by a handler is logged and the stream goes on; for
    ``on_update`` it also means the update is not acknowledged (Mesos will resend it).
    """

    async def on_subscribed(self, framework_id: str, heartbeat_interval: float) -> None:
        """A (re)subscription succeeded. Persist ``framework_id`` to survive a scheduler restart.

        ``heartbeat_interval`` is in seconds; 0 when the master does not send heartbeats.
        """

    async def on_offers(self, offers: list[JsonObject]) -> None:
        """New resource offers (``mesos.v1.Offer`` JSON objects; the id is ``offer["id"]["value"]``)."""

    async def on_rescind(self, offer_id: str) -> None:
        """An offer is no longer valid; do not ACCEPT or DECLINE it."""

    async def on_update(self, status: JsonObject) -> None:
        """A task status update (``mesos.v1.TaskStatus`` JSON). Return only once it is recorded:
        the client acknowledges it (when it carries a ``uuid``) right after this returns."""

    async def on_message(self, agent_id: str, executor_id: str, data: bytes) -> None:
        """A framework message from an executor (unreliable)."""

    async def on_failure(self, agent_id: str | None, executor_id: str | None, status: int | None) -> None:
        """An agent was removed (only ``agent_id``) or an executor terminated (with ``executor_id``)."""

    async def on_error(self, message: str) -> None:
        """The master sent an ERROR event. The client closes after this returns."""

    async def on_disconnected(self) -> None:
        """A live subscription was lost; the client is resubscribing. Outstanding offers are void."""

    async def tasks_to_reconcile(self) -> list[tuple[str, str | None]]:
        """The non-terminal tasks the scheduler knows, as ``(task_id, agent_id or None)`` pairs."""
        ...


# -- items passed from the stream reader to the dispatcher ---------------------------------------


@dataclass(frozen=True, slots=True)
class _StreamOpened:
    endpoint: str
    stream_id: str


@dataclass(frozen=True, slots=True)
class _StreamEvent:
    event: JsonObject


@dataclass(frozen=True, slots=True)
class _StreamEnded:
    error: MesosError
    fatal: bool = False


@dataclass(frozen=True, slots=True)
class _CloseRequested:
    pass


_QueueItem = _StreamOpened | _StreamEvent | _StreamEnded | _CloseRequested


@dataclass(slots=True)
class _SessionOutcome:
    subscribed: bool
    error: MesosError | None
    stop: bool


class MesosSchedulerClient:
    """A Mesos v1 scheduler HTTP API client (see the module docstring for its guarantees).

    :param master: ``http://host:port`` or ``zk://host:2181,.../mesos``.
    :param framework: the FrameworkInfo to subscribe with.
    :param handler: receives events.
    :param framework_id: a framework id stored from an earlier run, to fail over to (resubscribe
        as the same framework); ``None`` registers a new framework.
    :param reconcile_interval: seconds between periodic reconciliations while subscribed; ``None``
        disables the periodic part (reconciliation after each SUBSCRIBED still happens).
    :param heartbeat_misses: how many heartbeat intervals without any event mean a dead stream.
    :param backoff: delays between subscription attempts.
    :param subscribe_timeout: seconds allowed between sending SUBSCRIBE and the first event.
    :param call_timeout: timeout of each call (and of connecting), in seconds.
    :param detect: leader detection, ``url -> base URL``; defaults to
        :func:`~server.mesos.detector.detect_leader` (a test seam).
    :param verify: TLS verification for ``https`` masters, as ``httpx`` takes it.
    """

    def __init__(
        self,
        master: str,
        framework: FrameworkInfo,
        handler: SchedulerEventHandler,
        *,
        framework_id: str | None = None,
        reconcile_interval: float | None = 600.0,
        heartbeat_misses: float = 5.0,
        backoff: Backoff | None = None,
        subscribe_timeout: float = 30.0,
        call_timeout: float = 75.0,
        detect: Callable[[str], Awaitable[str]] = detect_leader,
        verify: Any = True,
    ) -> None:
        if heartbeat_misses <= 0:
            raise ValueError("heartbeat_misses must be positive")
        if reconcile_interval is not None and reconcile_interval <= 0:
            raise ValueError("reconcile_interval must be positive (or None)")
        self._master = master
        self._framework = framework
        self._handler = handler
        self._framework_id = framework_id
        self._reconcile_interval = reconcile_interval
        self._heartbeat_misses = heartbeat_misses
        self._backoff = backoff or Backoff()
        self._subscribe_timeout = subscribe_timeout
        self._call_timeout = call_timeout
        self._detect = detect
        self._verify = verify

        self._state = ClientState.UNOPENED
        self._stream_id: str | None = None
        self._endpoint: str | None = None
        self._closing = asyncio.Event()
        self._closed = asyncio.Event()
        self._run_task: asyncio.Task[Any] | None = None
        self._queue: asyncio.Queue[_QueueItem] | None = None
        self._reconcile_task: asyncio.Task[None] | None = None
        self._stream_http: httpx.AsyncClient | None = None
        self._call_http: httpx.AsyncClient | None = None

    # -- introspection --------------------------------------------------------------------------

    @property
    def state(self) -> ClientState:
        """The lifecycle state."""
        return self._state

    @property
    def framework_id(self) -> str | None:
        """The framework id: the one given, or the one the master assigned on first SUBSCRIBED."""
        return self._framework_id

    @property
    def stream_id(self) -> str | None:
        """``Mesos-Stream-Id`` of the live subscription; ``None`` when not subscribed."""
        return self._stream_id

    @property
    def endpoint(self) -> str | None:
        """Scheduler endpoint URL of the master of the live (or last) subscription."""
        return self._endpoint

    @property
    def framework(self) -> FrameworkInfo:
        """The FrameworkInfo this client subscribes with."""
        return self._framework

    # -- lifecycle ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Subscribe and process events until :meth:`close`, an ERROR event, or :meth:`teardown`.

        Resubscribes by itself after any loss of the stream. Raises
        :class:`~server.mesos.errors.CallRejected` if the master refuses SUBSCRIBE with a 4xx
        status (a configuration error that retrying cannot fix). Can be called once.
        """
        if self._state is ClientState.CLOSED:
            return
        if self._state is not ClientState.UNOPENED:
            raise RuntimeError("MesosSchedulerClient.run() can only be called once")
        self._run_task = asyncio.current_task()
        self._state = ClientState.CONNECTING
        connect_timeout = min(self._call_timeout, self._subscribe_timeout)
        self._stream_http = httpx.AsyncClient(
            timeout=httpx.Timeout(connect_timeout, read=None),
            follow_redirects=False,
            trust_env=False,
            verify=self._verify,
        )
        self._call_http = httpx.AsyncClient(
            timeout=httpx.Timeout(self._call_timeout, connect=connect_timeout),
            follow_redirects=False,
            trust_env=False,
            verify=self._verify,
        )
        attempt = 0
        try:
            while not self._closing.is_set():
                outcome = await self._run_session()
                if outcome.stop:
                    if outcome.error is not None:
                        raise outcome.error
                    break
                if self._closing.is_set():
                    break
                cause = outcome.error or SubscriptionLost("subscription ended")
                if outcome.subscribed:
                    attempt = 0
                    logger.warning("disconnected from Mesos master %s: %s", self._endpoint, cause)
                    await self._call_handler("on_disconnected", self._handler.on_disconnected())
                else:
                    logger.warning("subscribing to Mesos master %s failed: %s", self._master, cause)
                delay = self._backoff.delay(attempt)
                attempt += 1
                logger.info("resubscribing in %.2f s (framework %s)", delay, self._framework_id or "new")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closing.wait(), delay)
        finally:
            self._state = ClientState.CLOSED
            self._stream_id = None
            stream_http, call_http = self._stream_http, self._call_http
            self._stream_http = self._call_http = None
            try:
                if stream_http is not None:
                    await stream_http.aclose()
            finally:
                if call_http is not None:
                    await call_http.aclose()
                self._closed.set()
                logger.info("Mesos scheduler client closed (framework %s)", self._framework_id)

    async def close(self) -> None:
        """Stop the client: end the subscription stream and close every connection.

        Waits until :meth:`run` has finished, except when called from inside the client (from a
        handler method), where it only requests the stop: ``run`` returns once the handler does.
        Idempotent. Does not call ``on_disconnected``.
        """
        if self._state is ClientState.CLOSED:
            return
        if self._run_task is None:
            self._state = ClientState.CLOSED
            self._closed.set()
            return
        self._closing.set()
        if self._queue is not None:
            self._queue.put_nowait(_CloseRequested())
        current = asyncio.current_task()
        if current is self._run_task or (current is not None and current is self._reconcile_task):
            return
        await self._closed.wait()

    # -- calls ----------------------------------------------------------------------------------

    async def accept(
        self,
        offer_ids: Sequence[str],
        operations: Sequence[JsonObject],
        refuse_seconds: float | None = None,
    ) -> None:
        """ACCEPT offers with operations (``{"type": "LAUNCH", "launch": {"task_infos": [...]}}``).

        Unused resources of the offers are declined for ``refuse_seconds`` (Mesos' default 5 s
        when ``None``). An offer id can be used in one ACCEPT only.
        """
        accept: JsonObject = {
            "offer_ids": [_id(offer_id) for offer_id in offer_ids],
            "operations": [dict(operation) for operation in operations],
        }
        if refuse_seconds is not None:
            accept["filters"] = {"refuse_seconds": refuse_seconds}
        await self._send_call("ACCEPT", "accept", accept)

    async def decline(self, offer_ids: Sequence[str], refuse_seconds: float | None = None) -> None:
        """DECLINE offers; the master will not re-offer those resources for ``refuse_seconds``."""
        decline: JsonObject = {"offer_ids": [_id(offer_id) for offer_id in offer_ids]}
        if refuse_seconds is not None:
            decline["filters"] = {"refuse_seconds": refuse_seconds}
        await self._send_call("DECLINE", "decline", decline)

    async def revive(self, roles: Sequence[str] | None = None) -> None:
        """REVIVE: drop offer filters and resume offers (for ``roles``, or all the framework's)."""
        await self._send_call("REVIVE", "revive", {"roles": list(roles)} if roles else None)

    async def suppress(self, roles: Sequence[str] | None = None) -> None:
        """SUPPRESS: stop receiving offers (for ``roles``, or all) until REVIVE."""
        await self._send_call("SUPPRESS", "suppress", {"roles": list(roles)} if roles else None)

    async def kill(self, task_id: str, agent_id: str | None = None) -> None:
        """KILL a task. Unknown tasks get a TASK_LOST update from the master."""
        kill: JsonObject = {"task_id": _id(task_id)}
        if agent_id is not None:
            kill["agent_id"] = _id(agent_id)
        await self._send_call("KILL", "kill", kill)

    async def shutdown(self, executor_id: str, agent_id: str) -> None:
        """SHUTDOWN a custom executor (it kills its tasks and exits)."""
        await self._send_call(
            "SHUTDOWN", "shutdown", {"executor_id": _id(executor_id), "agent_id": _id(agent_id)}
        )

    async def acknowledge(self, agent_id: str, task_id: str, uuid: str) -> None:
        """ACKNOWLEDGE a status update. ``uuid`` is the base64 text exactly as received.

        The client already acknowledges every update that carries a ``uuid`` after
        ``on_update``; call this only for updates handled outside the event handler.
        """
        await self._send_call(
            "ACKNOWLEDGE",
            "acknowledge",
            {"agent_id": _id(agent_id), "task_id": _id(task_id), "uuid": uuid},
        )

    async def reconcile(self, tasks: Sequence[tuple[str, str | None]]) -> None:
        """RECONCILE ``(task_id, agent_id or None)`` pairs; an empty list asks for every task."""
        entries: list[JsonObject] = []
        for task_id, agent_id in tasks:
            entry: JsonObject = {"task_id": _id(task_id)}
            if agent_id is not None:
                entry["agent_id"] = _id(agent_id)
            entries.append(entry)
        await self._send_call("RECONCILE", "reconcile", {"tasks": entries})

    async def message(self, agent_id: str, executor_id: str, data: bytes) -> None:
        """MESSAGE: send opaque bytes to an executor (no delivery guarantee)."""
        await self._send_call(
            "MESSAGE",
            "message",
            {
                "agent_id": _id(agent_id),
                "executor_id": _id(executor_id),
                "data": base64.b64encode(data).decode("ascii"),
            },
        )

    async def teardown(self) -> None:
        """TEARDOWN: remove the framework from Mesos (kills all its tasks), then close the client."""
        await self._send_call("TEARDOWN")
        logger.warning("framework %s torn down", self._framework_id)
        await self.close()

    # -- internals: sessions --------------------------------------------------------------------

    async def _run_session(self) -> _SessionOutcome:
        """One subscription: open the stream, dispatch its events, report how it ended."""
        queue: asyncio.Queue[_QueueItem] = asyncio.Queue()
        self._queue = queue
        reader = asyncio.create_task(self._read_stream(queue), name="mesos-client-stream-reader")
        subscribed = False
        pending_stream: _StreamOpened | None = None
        try:
            while True:
                item = await queue.get()
                if isinstance(item, _CloseRequested):
                    return _SessionOutcome(subscribed, None, stop=True)
                if isinstance(item, _StreamEnded):
                    return _SessionOutcome(subscribed, item.error, stop=item.fatal)
                if isinstance(item, _StreamOpened):
                    pending_stream = item
                    self._endpoint = item.endpoint
                    continue
                assert pending_stream is not None, "events come after the stream is opened"
                try:
                    stop = await self._dispatch(item.event, pending_stream)
                except ProtocolError as exc:
                    return _SessionOutcome(subscribed, exc, stop=False)
                subscribed = subscribed or self._state is ClientState.SUBSCRIBED
                if stop:
                    return _SessionOutcome(subscribed, None, stop=True)
                if self._closing.is_set():
                    return _SessionOutcome(subscribed, None, stop=True)
        finally:
            self._queue = None
            self._stream_id = None
            if self._state is ClientState.SUBSCRIBED:
                self._state = ClientState.CONNECTING
            tasks = [reader]
            if self._reconcile_task is not None:
                tasks.append(self._reconcile_task)
                self._reconcile_task = None
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks)

    async def _read_stream(self, queue: asyncio.Queue[_QueueItem]) -> None:
        """Reader task: subscribe, then turn stream bytes into queue items (no handler calls)."""
        try:
            await self._subscribe_and_read(queue)
        except CallRejected as exc:
            queue.put_nowait(_StreamEnded(exc, fatal=True))
        except MesosError as exc:
            queue.put_nowait(_StreamEnded(exc))
        except Exception as exc:  # a bug or an unexpected library error: still resubscribe
            logger.exception("unexpected error on the subscription stream")
            error = TransportError(f"unexpected error on the subscription stream: {exc!r}")
            error.__cause__ = exc
            queue.put_nowait(_StreamEnded(error))

    async def _subscribe_and_read(self, queue: asyncio.Queue[_QueueItem]) -> None:
        try:
            # The stream client has no read timeout (the watchdog below supervises the stream),
            # so bound the wait for the response headers here.
            async with asyncio.timeout(self._subscribe_timeout):
                response, endpoint = await self._open_subscription()
        except TimeoutError as exc:
            raise TransportError(f"no answer to SUBSCRIBE within {self._subscribe_timeout} s") from exc
        loop = asyncio.get_running_loop()
        window: float | None = self._subscribe_timeout
        try:
            stream_id = response.headers.get("Mesos-Stream-Id")
            if not stream_id:
                raise ProtocolError(f"SUBSCRIBE response from {endpoint} has no Mesos-Stream-Id header")
            queue.put_nowait(_StreamOpened(endpoint, stream_id))
            parser = RecordIOParser()
            async with asyncio.timeout_at(loop.time() + self._subscribe_timeout) as watchdog:
                async for chunk in response.aiter_bytes():
                    parser.feed(chunk)
                    while (record := parser.next_record()) is not None:
                        if not record:
                            continue  # valid framing, no event: nothing to do
                        event = _decode_event(record)
                        if event["type"] == "SUBSCRIBED":
                            interval = _heartbeat_interval(event)
                            window = interval * self._heartbeat_misses if interval > 0 else None
                        watchdog.reschedule(None if window is None else loop.time() + window)
                        queue.put_nowait(_StreamEvent(event))
                parser.eof()
        except TimeoutError as exc:
            silence = f"{window:.2f} s" if window is not None else "too long"
            raise SubscriptionLost(f"no event from {endpoint} for {silence} (heartbeats lost)") from exc
        except httpx.HTTPError as exc:
            raise TransportError(f"subscription stream from {endpoint} broke: {exc!r}") from exc
        finally:
            await response.aclose()
        raise SubscriptionLost(f"master {endpoint} ended the subscription stream")

    async def _open_subscription(self) -> tuple[httpx.Response, str]:
        """Detect the leader and POST SUBSCRIBE, following redirects; return the 200 response."""
        assert self._stream_http is not None
        try:
            base_url = await self._detect(self._master)
        except ValueError as exc:
            raise NoLeader(f"cannot use master address {self._master!r}: {exc}") from exc
        endpoint = base_url.rstrip("/") + SCHEDULER_API_PATH
        body = json.dumps(self._subscribe_call(), separators=(",", ":")).encode()
        headers = {"Content-Type": _JSON, "Accept": _JSON}
        for _ in range(_MAX_REDIRECTS + 1):
            request = self._stream_http.build_request("POST", endpoint, content=body, headers=headers)
            try:
                response = await self._stream_http.send(request, stream=True)
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
            location = response.headers.get("Location")
            if response.status_code in (301, 302, 303, 307, 308) and location:
                target = resolve_location(endpoint, location)
                logger.info("Mesos master %s is not the leader; redirected to %s", endpoint, target)
                endpoint = target
                continue
            if response.status_code == 503:
                raise NoLeader(f"{endpoint} has no leading master: {text.strip()}")
            status = response.status_code
            if 400 <= status < 500 and status not in _RETRYABLE_CLIENT_ERRORS:
                raise CallRejected("SUBSCRIBE", status, text)
            raise TransportError(f"SUBSCRIBE to {endpoint} answered HTTP {status}: {text.strip()[:200]}")
        raise NoLeader(f"more than {_MAX_REDIRECTS} redirects while subscribing via {self._master}")

    def _subscribe_call(self) -> JsonObject:
        call: JsonObject = {
            "type": "SUBSCRIBE",
            "subscribe": {"framework_info": self._framework.to_json(self._framework_id)},
        }
        if self._framework_id is not None:
            call["framework_id"] = {"value": self._framework_id}
        return call

    # -- internals: events ----------------------------------------------------------------------

    async def _dispatch(self, event: JsonObject, stream: _StreamOpened) -> bool:
        """Hand one event to the handler. Returns True when the client must stop."""
        kind = event["type"]
        if kind == "SUBSCRIBED":
            await self._on_subscribed(event, stream)
        elif kind == "HEARTBEAT":
            logger.debug("heartbeat from %s", stream.endpoint)
        elif kind == "OFFERS":
            offers = event.get("offers")
            # scheduler.proto nests the list (Event.Offers.offers); early docs showed it bare.
            offer_list = offers.get("offers") if isinstance(offers, dict) else offers
            if not isinstance(offer_list, list):
                raise ProtocolError(f"OFFERS event without offers: {event!r}")
            await self._call_handler("on_offers", self._handler.on_offers(offer_list))
        elif kind == "RESCIND":
            offer_id = _id_value(_field(event, "rescind").get("offer_id"), "rescind.offer_id")
            await self._call_handler("on_rescind", self._handler.on_rescind(offer_id))
        elif kind == "UPDATE":
            await self._on_update(event)
        elif kind == "MESSAGE":
            message = _field(event, "message")
            await self._call_handler(
                "on_message",
                self._handler.on_message(
                    _id_value(message.get("agent_id"), "message.agent_id"),
                    _id_value(message.get("executor_id"), "message.executor_id"),
                    _b64decode(message.get("data", ""), "message.data"),
                ),
            )
        elif kind == "FAILURE":
            failure = _field(event, "failure")
            status = failure.get("status")
            await self._call_handler(
                "on_failure",
                self._handler.on_failure(
                    _optional_id_value(failure.get("agent_id")),
                    _optional_id_value(failure.get("executor_id")),
                    status if isinstance(status, int) else None,
                ),
            )
        elif kind == "ERROR":
            error = event.get("error")
            # scheduler.proto nests it (Event.Error.message); early docs showed it top-level.
            error_message = error.get("message") if isinstance(error, dict) else event.get("message")
            text = str(error_message) if error_message is not None else "unspecified error"
            logger.error("Mesos master sent ERROR for framework %s: %s", self._framework_id, text)
            await self._call_handler("on_error", self._handler.on_error(text))
            return True
        else:
            logger.debug("ignoring Mesos event of type %s", kind)
        return False

    async def _on_subscribed(self, event: JsonObject, stream: _StreamOpened) -> None:
        subscribed = _field(event, "subscribed")
        framework_id = _id_value(subscribed.get("framework_id"), "subscribed.framework_id")
        interval = _heartbeat_interval(event)
        if self._framework_id is not None and framework_id != self._framework_id:
            logger.warning("master assigned framework id %s instead of %s", framework_id, self._framework_id)
        self._framework_id = framework_id
        self._stream_id = stream.stream_id
        self._endpoint = stream.endpoint
        self._state = ClientState.SUBSCRIBED
        logger.info(
            "subscribed to Mesos master %s as framework %s (heartbeat %.1f s, stream %s)",
            stream.endpoint,
            framework_id,
            interval,
            stream.stream_id,
        )
        await self._call_handler("on_subscribed", self._handler.on_subscribed(framework_id, interval))
        if self._state is ClientState.SUBSCRIBED and not self._closing.is_set():
            if self._reconcile_task is not None:  # a second SUBSCRIBED on one stream: start over
                self._reconcile_task.cancel()
            self._reconcile_task = asyncio.create_task(self._reconcile_loop(), name="mesos-client-reconcile")

    async def _on_update(self, event: JsonObject) -> None:
        status = _field(event, "update").get("status")
        if not isinstance(status, dict):
            raise ProtocolError(f"UPDATE event without status: {event!r}")
        handled = await self._call_handler("on_update", self._handler.on_update(status))
        uuid = status.get("uuid")
        if not uuid:
            return  # not reliably delivered: must not be acknowledged
        task_id = _optional_id_value(status.get("task_id"))
        agent_id = _optional_id_value(status.get("agent_id"))
        if not handled:
            logger.warning("update %s of task %s not acknowledged; Mesos will resend it", uuid, task_id)
            return
        if task_id is None or agent_id is None:
            logger.warning("cannot acknowledge update %s: it names no task or agent: %r", uuid, status)
            return
        try:
            await self.acknowledge(agent_id, task_id, uuid)
        except MesosError as exc:
            logger.warning("ACK of update %s of task %s failed (Mesos resends it): %s", uuid, task_id, exc)

    async def _reconcile_loop(self) -> None:
        """After SUBSCRIBED: explicit then implicit reconciliation, then again periodically."""
        while True:
            await self._reconcile_once()
            if self._reconcile_interval is None:
                return
            await asyncio.sleep(self._reconcile_interval)

    async def _reconcile_once(self) -> None:
        tasks: list[tuple[str, str | None]] = []
        try:
            tasks = list(await self._handler.tasks_to_reconcile())
        except Exception:
            logger.exception("tasks_to_reconcile() failed; reconciling implicitly only")
        try:
            if tasks:
                logger.info("reconciling %d tasks explicitly", len(tasks))
                await self.reconcile(tasks)
            await self.reconcile([])
        except MesosError as exc:
            logger.warning("reconciliation failed: %s", exc)

    async def _call_handler(self, name: str, call: Awaitable[None]) -> bool:
        try:
            await call
        except Exception:
            logger.exception("scheduler event handler %s raised", name)
            return False
        return True

    # -- internals: calls -----------------------------------------------------------------------

    async def _send_call(
        self, call_type: str, field_name: str | None = None, body: JsonObject | None = None
    ) -> None:
        framework_id, stream_id, endpoint, http = (
            self._framework_id,
            self._stream_id,
            self._endpoint,
            self._call_http,
        )
        if (
            self._state is not ClientState.SUBSCRIBED
            or framework_id is None
            or stream_id is None
            or endpoint is None
            or http is None
        ):
            raise SubscriptionLost(f"cannot send {call_type}: client is {self._state.value}, not subscribed")
        call: JsonObject = {"type": call_type, "framework_id": {"value": framework_id}}
        if field_name is not None and body is not None:
            call[field_name] = body
        content = orjson.dumps(call)  # compact UTF-8 JSON; ACCEPTs of many tasks are large
        headers = {"Content-Type": _JSON, "Accept": _JSON, "Mesos-Stream-Id": stream_id}
        try:
            response = await http.post(endpoint, content=content, headers=headers)
        except httpx.HTTPError as exc:
            raise TransportError(f"{call_type} to {endpoint} failed: {exc!r}") from exc
        if response.status_code != 202:
            raise CallRejected(call_type, response.status_code, response.text)
        logger.debug("%s accepted by %s", call_type, endpoint)


# -- JSON helpers ---------------------------------------------------------------------------------


def _id(value: str) -> JsonObject:
    return {"value": value}


def _decode_event(record: bytes) -> JsonObject:
    try:
        event = json.loads(record)
    except ValueError as exc:
        raise ProtocolError(f"event is not JSON: {record[:200]!r}") from exc
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        raise ProtocolError(f"event has no type: {record[:200]!r}")
    return event


def _field(event: JsonObject, name: str) -> JsonObject:
    value = event.get(name)
    if not isinstance(value, dict):
        raise ProtocolError(f"{event['type']} event without '{name}': {event!r}")
    return value


def _id_value(value: Any, where: str) -> str:
    if isinstance(value, dict) and isinstance(value.get("value"), str):
        return str(value["value"])
    raise ProtocolError(f"expected {{'value': ...}} at {where}, got {value!r}")


def _optional_id_value(value: Any) -> str | None:
    if isinstance(value, dict) and isinstance(value.get("value"), str):
        return str(value["value"])
    return None


def _b64decode(value: Any, where: str) -> bytes:
    try:
        return base64.b64decode(str(value), validate=True)
    except ValueError as exc:
        raise ProtocolError(f"{where} is not base64") from exc


def _heartbeat_interval(event: JsonObject) -> float:
    subscribed = event.get("subscribed")
    interval = subscribed.get("heartbeat_interval_seconds") if isinstance(subscribed, dict) else None
    return float(interval) if isinstance(interval, int | float) else 0.0
