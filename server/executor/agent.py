"""The executor's connection to its agent: the v1 executor HTTP API (``/api/v1/executor``).

Lifecycle (:class:`ConnectionState`)::

    UNOPENED --run()--> SUBSCRIBING <--> SUBSCRIBED --close()--> CLOSED
                             \\--(agent lost)--> CLOSED

* ``SUBSCRIBE`` (top-level ``framework_id`` and ``executor_id``, plus the ledger's
  ``unacknowledged_tasks`` and ``unacknowledged_updates``) opens a long-lived response whose body
  is RecordIO-framed JSON events; the first must be ``SUBSCRIBED``. Events reach the
  :class:`AgentEventHandler` one at a time, in stream order; a handler must not block (long work
  goes into tasks of its own).
* Calls (``UPDATE``) go on a separate client, one at a time and in the order they were made (the
  agent must see a task's updates in order), each answered ``202 Accepted``.

What survives a lost connection:

* Every update stays in the :class:`~server.executor.updates.UpdateLedger` until ``ACKNOWLEDGED``.
  Updates made while disconnected are only recorded; the next ``SUBSCRIBE`` carries all pending
  ones, and those made while that SUBSCRIBE was in flight are POSTed after ``SUBSCRIBED``. An
  UPDATE that failed on the network is retried while the subscription lives, else it rides on
  the next SUBSCRIBE. The agent drops repeats by uuid.
* With checkpointing (``MESOS_CHECKPOINT``) the connection resubscribes, waiting at most
  ``MESOS_SUBSCRIPTION_BACKOFF_MAX`` between attempts, for up to ``MESOS_RECOVERY_TIMEOUT`` after
  the loss; then (or at once, without checkpointing) :meth:`AgentConnection.run` returns
  :attr:`ConnectionEnd.AGENT_LOST`. The first subscription is retried the same way.
* An ``ERROR`` event ends the stream like a drop ("abort and retry subscription", say the docs).

Nothing here raises to the caller: failures are logged and become reconnects or ``AGENT_LOST``.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import logging
import random
import time
from typing import Any, Protocol

import httpx

from server.executor.settings import ExecutorSettings
from server.executor.updates import JsonObject, StatusUpdate, UpdateLedger, new_status
from server.mesos.errors import ProtocolError
from server.mesos.recordio import RecordIOParser

__all__ = ["AgentConnection", "AgentEventHandler", "ConnectionEnd", "ConnectionState"]

log = logging.getLogger("server.executor.agent")

_JSON = "application/json"
#: First delay between subscription attempts; doubled each time up to the backoff maximum.
_INITIAL_BACKOFF = 0.05
#: Wait before retrying an UPDATE that failed on the network while the stream is still up.
_UPDATE_RETRY_DELAY = 0.5


class ConnectionState(enum.Enum):
    """Where an :class:`AgentConnection` is in its lifecycle."""

    UNOPENED = "unopened"
    SUBSCRIBING = "subscribing"
    SUBSCRIBED = "subscribed"
    CLOSED = "closed"


class ConnectionEnd(enum.Enum):
    """Why :meth:`AgentConnection.run` returned."""

    CLOSED = "closed"  # close() was called
    AGENT_LOST = "agent lost"  # no subscription within the recovery timeout (or no checkpointing)


class AgentEventHandler(Protocol):
    """What the executor implements to receive the agent's events (all but ACKNOWLEDGED, which
    the connection settles with its ledger before calling :meth:`on_acknowledged`)."""

    def on_subscribed(self, subscribed: JsonObject) -> None: ...

    def on_launch(self, task_info: JsonObject) -> None: ...

    def on_launch_group(self, task_infos: list[JsonObject]) -> None: ...

    def on_kill(self, task_id: str, kill_policy: JsonObject | None) -> None: ...

    def on_acknowledged(self, update: StatusUpdate) -> None: ...

    def on_message(self, data: str) -> None: ...

    def on_shutdown(self) -> None: ...


class _StreamEnded(Exception):
    """The subscription stream ended; the message says how."""


class AgentConnection:
    """A subscription to the agent plus the ordered UPDATE sender (see the module docstring)."""

    def __init__(
        self,
        settings: ExecutorSettings,
        handler: AgentEventHandler,
        *,
        ledger: UpdateLedger | None = None,
        call_timeout: float = 10.0,
    ) -> None:
        self._settings = settings
        self._handler = handler
        self.ledger = ledger or UpdateLedger()
        self._call_timeout = call_timeout
        self._state = ConnectionState.UNOPENED
        self._closing = asyncio.Event()
        self._outbox: asyncio.Queue[StatusUpdate] | None = None
        self._sender: asyncio.Task[None] | None = None
        self._settled = asyncio.Event()
        self._settled.set()
        self._call_http: httpx.AsyncClient | None = None

    @property
    def state(self) -> ConnectionState:
        return self._state

    # -- sending ------------------------------------------------------------------------------------

    def send_update(self, task_id: str, state: str, message: str | None = None) -> StatusUpdate:
        """Record a status update and send it as soon as the agent can take it."""
        status = new_status(
            task_id=task_id, state=state, executor_id=self._settings.executor_id, message=message
        )
        update = self.ledger.add(status)
        self._settled.clear()
        if self._outbox is not None:
            self._outbox.put_nowait(update)
        log.info("task %s: %s%s", task_id, state, f" ({message})" if message else "")
        return update

    async def wait_settled(self, timeout: float) -> bool:
        """Wait until every update is acknowledged (or ``timeout`` passes); return whether it was."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._settled.wait(), max(timeout, 0.0))
        return self._settled.is_set()

    def close(self) -> None:
        """Stop: :meth:`run` ends the stream and returns :attr:`ConnectionEnd.CLOSED`."""
        self._closing.set()

    # -- the subscription loop ----------------------------------------------------------------------

    async def run(self) -> ConnectionEnd:
        """Subscribe and dispatch events until :meth:`close` or the agent is lost. Call once."""
        if self._state is not ConnectionState.UNOPENED:
            raise RuntimeError("AgentConnection.run() can only be called once")
        headers = {"Content-Type": _JSON, "Accept": _JSON}
        if self._settings.authentication_token:
            headers["Authorization"] = f"Bearer {self._settings.authentication_token}"
        stream_http = httpx.AsyncClient(
            timeout=httpx.Timeout(self._call_timeout, read=None), headers=headers, trust_env=False
        )
        self._call_http = httpx.AsyncClient(
            timeout=httpx.Timeout(self._call_timeout), headers=headers, trust_env=False
        )
        loop = asyncio.get_running_loop()
        lost_at = loop.time()
        attempt = 0
        try:
            while not self._closing.is_set():
                self._state = ConnectionState.SUBSCRIBING
                subscribed = False
                stream = asyncio.create_task(self._session(stream_http))
                closing = asyncio.create_task(self._closing.wait())
                try:
                    await asyncio.wait({stream, closing}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    closing.cancel()
                    if not stream.done():
                        stream.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        subscribed = await stream
                    self._stop_sender()
                if self._closing.is_set():
                    break
                if subscribed:
                    lost_at, attempt = loop.time(), 0
                    if not self._settings.checkpoint:
                        log.warning("lost the agent and the framework does not checkpoint: giving up")
                        return ConnectionEnd.AGENT_LOST
                remaining = lost_at + self._settings.recovery_timeout - loop.time()
                if remaining <= 0:
                    log.error(
                        "no subscription with the agent at %s within %.1f s: giving up",
                        self._settings.agent_endpoint,
                        self._settings.recovery_timeout,
                    )
                    return ConnectionEnd.AGENT_LOST
                delay = min(self._backoff(attempt), remaining)
                attempt += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closing.wait(), delay)
            return ConnectionEnd.CLOSED
        finally:
            self._state = ConnectionState.CLOSED
            self._stop_sender()
            await stream_http.aclose()
            await self._call_http.aclose()

    def _backoff(self, attempt: int) -> float:
        ceiling: float = min(
            self._settings.subscription_backoff_max, _INITIAL_BACKOFF * 2.0 ** min(attempt, 30)
        )
        return ceiling * (0.5 + random.random() / 2)

    async def _session(self, http: httpx.AsyncClient) -> bool:
        """One SUBSCRIBE and its stream; returns whether SUBSCRIBED was received."""
        subscribed = False
        body = self._call("SUBSCRIBE", subscribe=self.ledger.subscribe_body())
        included = {update.uuid for update in self.ledger.unacknowledged_updates()}
        try:
            async with http.stream("POST", self._settings.executor_url, content=json.dumps(body)) as response:
                if response.status_code != 200:
                    text = (await response.aread()).decode(errors="replace").strip()
                    raise _StreamEnded(f"SUBSCRIBE answered HTTP {response.status_code}: {text[:300]}")
                parser = RecordIOParser()
                async for chunk in response.aiter_bytes():
                    parser.feed(chunk)
                    while (record := parser.next_record()) is not None:
                        event = json.loads(record)
                        if not isinstance(event, dict):
                            raise ProtocolError(f"event is not a JSON object: {record[:200]!r}")
                        if not subscribed:
                            if event.get("type") != "SUBSCRIBED":
                                raise _StreamEnded(f"first event is {event.get('type')!r}, not SUBSCRIBED")
                            subscribed = True
                            self._subscribed(included)
                        if not self._dispatch_safely(event):
                            raise _StreamEnded(f"agent sent ERROR: {_error_message(event)}")
                parser.eof()
                raise _StreamEnded("the agent ended the stream")
        except (_StreamEnded, ProtocolError, httpx.HTTPError, ValueError) as exc:
            level = logging.WARNING if subscribed else logging.INFO
            log.log(level, "subscription to %s ended: %s", self._settings.agent_endpoint, _describe(exc))
        return subscribed

    def _subscribed(self, included: set[str]) -> None:
        self._state = ConnectionState.SUBSCRIBED
        self._outbox = asyncio.Queue()
        for update in self.ledger.unacknowledged_updates():
            if update.uuid not in included:
                self._outbox.put_nowait(update)
        self._sender = asyncio.create_task(self._send_updates(self._outbox))
        log.info(
            "subscribed to the agent at %s (%d unacknowledged updates resent)",
            self._settings.agent_endpoint,
            len(included),
        )

    def _stop_sender(self) -> None:
        self._outbox = None
        if self._sender is not None:
            self._sender.cancel()
            self._sender = None

    def _dispatch_safely(self, event: JsonObject) -> bool:
        try:
            return self._dispatch(event)
        except (KeyError, TypeError, AttributeError) as exc:
            log.warning("ignoring a malformed %s event (%r): %s", event.get("type"), exc, str(event)[:300])
        except Exception:
            log.exception("handling a %s event failed", event.get("type"))
        return True

    def _dispatch(self, event: JsonObject) -> bool:
        """Hand one event to the handler; ``False`` for ERROR (the stream must be dropped)."""
        kind = event.get("type")
        handler = self._handler
        if kind == "SUBSCRIBED":
            handler.on_subscribed(event.get("subscribed") or {})
        elif kind == "LAUNCH":
            handler.on_launch(event["launch"]["task"])
        elif kind == "LAUNCH_GROUP":
            tasks = event.get("launch_group", {}).get("task_group", {}).get("tasks", [])
            handler.on_launch_group(list(tasks))
        elif kind == "KILL":
            kill = event["kill"]
            handler.on_kill(str(kill["task_id"]["value"]), kill.get("kill_policy"))
        elif kind == "ACKNOWLEDGED":
            acknowledged = event["acknowledged"]
            update = self.ledger.acknowledge(str(acknowledged["task_id"]["value"]), str(acknowledged["uuid"]))
            if len(self.ledger) == 0:
                self._settled.set()
            if update is not None:
                handler.on_acknowledged(update)
        elif kind == "MESSAGE":
            handler.on_message(str(event.get("message", {}).get("data", "")))
        elif kind == "SHUTDOWN":
            handler.on_shutdown()
        elif kind == "ERROR":
            return False
        elif kind == "HEARTBEAT":
            log.debug("heartbeat from the agent")
        else:
            log.warning("ignoring an event of unknown type %r", kind)
        return True

    # -- calls ---------------------------------------------------------------------------------------

    def _call(self, kind: str, **fields: Any) -> JsonObject:
        body: JsonObject = {
            "type": kind,
            "framework_id": {"value": self._settings.framework_id},
            "executor_id": {"value": self._settings.executor_id},
        }
        body.update({name.lower(): value for name, value in fields.items()})
        return body

    async def _send_updates(self, outbox: asyncio.Queue[StatusUpdate]) -> None:
        """Post queued updates one at a time, in order, for as long as this subscription lives."""
        assert self._call_http is not None
        while True:
            update = await outbox.get()
            while self.ledger.is_pending(update.uuid):
                started = time.monotonic()
                try:
                    response = await self._call_http.post(
                        self._settings.executor_url,
                        content=json.dumps(self._call("UPDATE", update={"status": update.status})),
                    )
                except httpx.HTTPError as exc:
                    log.warning(
                        "UPDATE %s of task %s failed: %s; retrying",
                        update.state,
                        update.task_id,
                        _describe(exc),
                    )
                else:
                    if response.status_code == 202:
                        break
                    text = response.text.strip()[:300]
                    if 400 <= response.status_code < 500:
                        log.error(
                            "agent refused UPDATE %s of task %s with HTTP %d: %s",
                            update.state,
                            update.task_id,
                            response.status_code,
                            text,
                        )
                        break
                    log.warning("UPDATE answered HTTP %d: %s; retrying", response.status_code, text)
                await asyncio.sleep(max(0.0, _UPDATE_RETRY_DELAY - (time.monotonic() - started)))


def _error_message(event: JsonObject) -> str:
    error = event.get("error")
    return str(error.get("message", "")) if isinstance(error, dict) else ""


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    cause = exc.__cause__ or exc.__context__
    if cause is not None and str(cause) and str(cause) not in text:
        text = f"{text} ({cause})"
    return text
