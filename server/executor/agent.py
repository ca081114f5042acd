"""The executor's connection to its agent: the v1 executor HTTP API (``/api/v1/executor``).

Lifecycle (:class:`~server.mesos.subscription.SubscriptionState`)::

    UNOPENED --run()--> CONNECTING <--> SUBSCRIBED --close()--> CLOSED
                             \\--(agent lost)--> CLOSED

* ``SUBSCRIBE`` (top-level ``framework_id`` and ``executor_id``, plus the ledger's
  ``unacknowledged_tasks`` and ``unacknowledged_updates``) opens a long-lived response whose body
  is RecordIO-framed JSON events (a :class:`~server.mesos.subscription.SubscriptionLoop`); the
  first must be ``SUBSCRIBED``. Events reach the :class:`AgentEventHandler` one at a time, in
  stream order; a handler must not block (long work goes into tasks of its own).
* Calls (``UPDATE``) go on a separate client, one at a time and in the order they were made (the
  agent must see a task's updates in order), each answered ``202 Accepted``. ``MESSAGE`` calls
  (data for the framework, such as a DAEMON run's report) go on the same client, each once: Mesos
  does not acknowledge them, so one made without a live subscription, or that fails, is dropped.

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
import base64
import contextlib
import enum
import json
import logging
from typing import Any, Protocol

import httpx

from server.base.backoff import Backoff
from server.executor.sender import UpdateSender, describe
from server.executor.settings import ExecutorSettings
from server.executor.updates import JsonObject, StatusUpdate, UpdateLedger
from server.mesos.errors import MesosError, ProtocolError, SubscriptionLost
from server.mesos.status import task_status
from server.mesos.subscription import SubscribeRequest, SubscriptionLoop, SubscriptionState

__all__ = ["AgentConnection", "AgentEventHandler", "ConnectionEnd"]

log = logging.getLogger("server.executor.agent")

#: First delay between subscription attempts; doubled each time up to the backoff maximum.
_INITIAL_BACKOFF = 0.05
#: Jitter of the subscription backoff: each delay is between half and all of its ceiling.
_BACKOFF_JITTER = 0.5


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


class AgentConnection:
    """A subscription to the agent plus the ordered UPDATE sender (see the module docstring).

    ``transport`` is the ``httpx`` transport of both connections (``httpx.MockTransport`` in
    tests); ``None`` for the default.
    """

    def __init__(
        self,
        settings: ExecutorSettings,
        handler: AgentEventHandler,
        *,
        ledger: UpdateLedger | None = None,
        call_timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._settings = settings
        self._handler = handler
        self.ledger = ledger or UpdateLedger()
        self._call_timeout = call_timeout
        self._transport = transport
        self._headers: dict[str, str] = {}
        if settings.authentication_token:
            self._headers["Authorization"] = f"Bearer {settings.authentication_token}"
        self._backoff = Backoff(
            initial=min(_INITIAL_BACKOFF, settings.subscription_backoff_max),
            maximum=settings.subscription_backoff_max,
            jitter=_BACKOFF_JITTER,
        )
        self._subscription = SubscriptionLoop(
            subscribe=self._subscribe_request,
            on_event=self._on_event,
            on_stream_end=self._on_stream_end,
            on_lost=self._on_lost,
            headers=self._headers,
            connect_timeout=call_timeout,
            transport=transport,
            task_name="executor-agent-stream-reader",
        )
        self._sender = UpdateSender(self.ledger, url=settings.executor_url, encode=self._update_call)
        self._included: set[str] = set()
        self._lost_at = 0.0
        self._attempt = 0
        self._settled = asyncio.Event()
        self._settled.set()
        self._messages: set[asyncio.Task[None]] = set()
        self._call_http: httpx.AsyncClient | None = None

    @property
    def state(self) -> SubscriptionState:
        return self._subscription.state

    def send_update(
        self, task_id: str, state: str, message: str | None = None, *, data: bytes | None = None
    ) -> StatusUpdate:
        """Record a status update (``data``: its ``TaskStatus.data``) and send it as soon as the
        agent can take it."""
        status = task_status(
            task_id,
            state,
            source="SOURCE_EXECUTOR",
            executor_id=self._settings.executor_id,
            message=message or None,
            data=data,
            reliable=True,
        )
        update = self.ledger.add(status)
        self._settled.clear()
        self._sender.put(update)
        log.info("task %s: %s%s", task_id, state, f" ({message})" if message else "")
        return update

    def send_message(self, data: bytes) -> None:
        """Send ``data`` to the framework in one ``MESSAGE`` call, once: messages are not
        acknowledged, so one made while no subscription lives (or that fails) is dropped."""
        http = self._call_http
        if http is None or not self._sender.running:
            log.debug("no subscription: a %d-byte message to the framework is dropped", len(data))
            return
        body = json.dumps(self._call("MESSAGE", message={"data": base64.b64encode(data).decode()}))
        sending = asyncio.create_task(self._post_message(http, body))
        self._messages.add(sending)
        sending.add_done_callback(self._messages.discard)

    async def _post_message(self, http: httpx.AsyncClient, body: str) -> None:
        try:
            response = await http.post(self._settings.executor_url, content=body)
        except (httpx.HTTPError, RuntimeError) as exc:  # RuntimeError: the client closed meanwhile
            log.debug("MESSAGE to the framework failed: %s", describe(exc))
            return
        if response.status_code != 202:
            log.debug("MESSAGE to the framework answered HTTP %d", response.status_code)

    async def wait_settled(self, timeout: float) -> bool:
        """Wait until every update is acknowledged (or ``timeout`` passes); return whether it was."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._settled.wait(), max(timeout, 0.0))
        return self._settled.is_set()

    def close(self) -> None:
        """Stop: :meth:`run` ends the stream and returns :attr:`ConnectionEnd.CLOSED`."""
        self._subscription.request_close()

    async def run(self) -> ConnectionEnd:
        """Subscribe and dispatch events until :meth:`close` or the agent is lost. Call once."""
        if self.state is not SubscriptionState.UNOPENED:
            raise RuntimeError("AgentConnection.run() can only be called once")
        self._call_http = httpx.AsyncClient(
            timeout=httpx.Timeout(self._call_timeout),
            headers={"Content-Type": "application/json", "Accept": "application/json", **self._headers},
            trust_env=False,
            transport=self._transport,
        )
        self._lost_at = asyncio.get_running_loop().time()
        try:
            await self._subscription.run()
        except MesosError:
            return ConnectionEnd.AGENT_LOST
        finally:
            self._sender.stop()
            for sending in list(self._messages):
                sending.cancel()
            await self._call_http.aclose()
        return ConnectionEnd.CLOSED

    async def _subscribe_request(self) -> SubscribeRequest:
        body = self._call("SUBSCRIBE", subscribe=self.ledger.subscribe_body())
        self._included = {update.uuid for update in self.ledger.unacknowledged_updates()}
        return SubscribeRequest(endpoint=self._settings.executor_url, body=json.dumps(body).encode())

    async def _on_event(self, event: JsonObject) -> bool:
        kind = event["type"]
        if not self._sender.running:  # the first event of this stream
            if kind != "SUBSCRIBED":
                raise ProtocolError(f"first event is {kind!r}, not SUBSCRIBED")
            self._subscribed()
        if kind == "ERROR":
            raise SubscriptionLost(f"agent sent ERROR: {_error_message(event)}")
        self._dispatch_safely(event)
        return True

    async def _on_stream_end(self) -> None:
        self._sender.stop()

    async def _on_lost(self, subscribed: bool, error: MesosError) -> float | None:
        level = logging.WARNING if subscribed else logging.INFO
        log.log(level, "subscription to %s ended: %s", self._settings.agent_endpoint, describe(error))
        now = asyncio.get_running_loop().time()
        if subscribed:
            self._lost_at, self._attempt = now, 0
            if not self._settings.checkpoint:
                log.warning("lost the agent and the framework does not checkpoint: giving up")
                return None
        remaining = self._lost_at + self._settings.recovery_timeout - now
        if remaining <= 0:
            log.error(
                "no subscription with the agent at %s within %.1f s: giving up",
                self._settings.agent_endpoint,
                self._settings.recovery_timeout,
            )
            return None
        delay = min(self._backoff.delay(self._attempt), remaining)
        self._attempt += 1
        return delay

    def _subscribed(self) -> None:
        assert self._call_http is not None
        backlog = [u for u in self.ledger.unacknowledged_updates() if u.uuid not in self._included]
        self._sender.start(self._call_http, backlog)
        log.info(
            "subscribed to the agent at %s (%d unacknowledged updates resent)",
            self._settings.agent_endpoint,
            len(self._included),
        )

    def _dispatch_safely(self, event: JsonObject) -> None:
        try:
            self._dispatch(event)
        except (KeyError, TypeError, AttributeError) as exc:
            log.warning("ignoring a malformed %s event (%r): %s", event.get("type"), exc, str(event)[:300])
        except Exception:
            log.exception("handling a %s event failed", event.get("type"))

    def _dispatch(self, event: JsonObject) -> None:
        """Hand one event (not ERROR) to the handler."""
        kind = event["type"]
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
        elif kind == "HEARTBEAT":
            log.debug("heartbeat from the agent")
        else:
            log.warning("ignoring an event of unknown type %r", kind)

    def _call(self, kind: str, **fields: Any) -> JsonObject:
        body: JsonObject = {
            "type": kind,
            "framework_id": {"value": self._settings.framework_id},
            "executor_id": {"value": self._settings.executor_id},
        }
        body.update({name.lower(): value for name, value in fields.items()})
        return body

    def _update_call(self, update: StatusUpdate) -> str:
        return json.dumps(self._call("UPDATE", update={"status": update.status}))


def _error_message(event: JsonObject) -> str:
    error = event.get("error")
    return str(error.get("message", "")) if isinstance(error, dict) else ""
