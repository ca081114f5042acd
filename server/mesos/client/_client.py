"""The scheduler's subscription: a :class:`~server.mesos.subscription.SubscriptionLoop` to
``/api/v1/scheduler`` with the framework's lifecycle, reconciliation and retry policy on top."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

import httpx

from server.base.backoff import Backoff
from server.mesos.client._calls import CallTarget, SchedulerCalls
from server.mesos.client._events import (
    EventDispatcher,
    SchedulerEventHandler,
    call_handler,
    decode_subscribed,
)
from server.mesos.client._framework import FrameworkInfo
from server.mesos.detector import SCHEDULER_API_PATH, LeaderDetector, detect_http_leader
from server.mesos.errors import CallRejected, MesosError, NoLeader, ProtocolError
from server.mesos.subscription import (
    JsonObject,
    OpenedStream,
    SubscribeRequest,
    SubscriptionLoop,
    SubscriptionState,
)

__all__ = ["ClientState", "MesosSchedulerClient"]

logger = logging.getLogger("server.mesos.client")

#: Where a :class:`MesosSchedulerClient` is in its lifecycle (the state of its subscription).
ClientState = SubscriptionState


class MesosSchedulerClient(SchedulerCalls):
    """A Mesos v1 scheduler HTTP API client (see the package docstring for its guarantees).

    :param master: ``http://host:port``, or ``zk://host:2181,.../mesos`` with a ZooKeeper
        ``detect``.
    :param framework: the FrameworkInfo to subscribe with.
    :param handler: receives events.
    :param framework_id: a framework id stored from an earlier run, to fail over to (resubscribe
        as the same framework); ``None`` registers a new framework.
    :param reconcile_interval: seconds between periodic reconciliations while subscribed; ``None``
        disables the periodic part (reconciliation after each SUBSCRIBED still happens).
    :param reconcile_backoff: delays between explicit reconciliations of the tasks that have not
        answered yet (the Mesos reconciliation guidance: retry with backoff until every task has).
    :param reconcile_retries: explicit reconciliations resent before the tasks still silent are
        reported to the handler's optional ``on_unanswered(task_ids)``.
    :param heartbeat_misses: how many heartbeat intervals without any event mean a dead stream.
    :param backoff: delays between subscription attempts.
    :param subscribe_timeout: seconds allowed between sending SUBSCRIBE and the first event.
    :param call_timeout: timeout of each call (and of connecting), in seconds.
    :param detect: finds the leading master before every (re)subscription; the default,
        :func:`~server.mesos.detector.detect_http_leader`, takes ``http(s)`` URLs only.
    :param verify: TLS verification for ``https`` masters, as ``httpx`` takes it.
    :param transport: the ``httpx`` transport of the stream and call connections
        (``httpx.MockTransport`` in tests); ``None`` for the default.
    """

    def __init__(
        self,
        master: str,
        framework: FrameworkInfo,
        handler: SchedulerEventHandler,
        *,
        framework_id: str | None = None,
        reconcile_interval: float | None = 600.0,
        reconcile_backoff: Backoff | None = None,
        reconcile_retries: int = 4,
        heartbeat_misses: float = 5.0,
        backoff: Backoff | None = None,
        subscribe_timeout: float = 30.0,
        call_timeout: float = 75.0,
        detect: LeaderDetector | None = None,
        verify: Any = True,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if reconcile_interval is not None and reconcile_interval <= 0:
            raise ValueError("reconcile_interval must be positive (or None)")
        if detect is None and master.startswith("zk://"):
            raise ValueError(f"{master!r} needs a ZooKeeper leader detector (detect=...)")
        connect_timeout = min(call_timeout, subscribe_timeout)
        super().__init__(
            call_timeout=call_timeout, connect_timeout=connect_timeout, verify=verify, transport=transport
        )
        self._master = master
        self._framework = framework
        self._handler = handler
        self._framework_id = framework_id
        self._reconcile_interval = reconcile_interval
        self._reconcile_backoff = reconcile_backoff or Backoff(initial=1.0, maximum=8.0)
        self._reconcile_retries = reconcile_retries
        #: Tasks of the running explicit reconciliation that have not answered: id -> agent id.
        self._unanswered: dict[str, str | None] = {}
        self._all_answered = asyncio.Event()
        self._backoff = backoff or Backoff()
        self._detect = detect or detect_http_leader
        self._dispatcher = EventDispatcher(handler, self.acknowledge)
        self._subscription = SubscriptionLoop(
            subscribe=self._subscribe_request,
            on_open=self._on_open,
            on_event=self._on_event,
            on_stream_end=self._on_stream_end,
            on_lost=self._on_lost,
            connect_timeout=connect_timeout,
            open_timeout=subscribe_timeout,
            first_event_timeout=subscribe_timeout,
            heartbeat_misses=heartbeat_misses,
            transport=transport,
            verify=verify,
            task_name="mesos-client-stream-reader",
        )
        self._attempt = 0
        self._endpoint: str | None = None
        self._opened: OpenedStream | None = None
        self._run_task: asyncio.Task[Any] | None = None
        self._reconcile_task: asyncio.Task[None] | None = None
        self._closed = asyncio.Event()

    @property
    def state(self) -> ClientState:
        """The lifecycle state."""
        return self._subscription.state

    @property
    def framework_id(self) -> str | None:
        """The framework id: the one given, or the one the master assigned on first SUBSCRIBED."""
        return self._framework_id

    @property
    def stream_id(self) -> str | None:
        """``Mesos-Stream-Id`` of the live subscription; ``None`` when not subscribed."""
        target = self._call_target
        return None if target is None else target.stream_id

    @property
    def endpoint(self) -> str | None:
        """Scheduler endpoint URL of the master of the live (or last) subscription."""
        return self._endpoint

    @property
    def framework(self) -> FrameworkInfo:
        """The FrameworkInfo this client subscribes with."""
        return self._framework

    async def run(self) -> None:
        """Subscribe and process events until :meth:`close`, an ERROR event, or :meth:`teardown`.

        Resubscribes by itself after any loss of the stream. Raises
        :class:`~server.mesos.errors.CallRejected` if the master refuses SUBSCRIBE with a 4xx
        status (a configuration error that retrying cannot fix). Can be called once.
        """
        if self.state is ClientState.CLOSED:
            return
        if self.state is not ClientState.UNOPENED:
            raise RuntimeError("MesosSchedulerClient.run() can only be called once")
        self._run_task = asyncio.current_task()
        self._open_calls()
        try:
            await self._subscription.run()
        finally:
            try:
                await self._close_calls()
            finally:
                self._closed.set()
                logger.info("Mesos scheduler client closed (framework %s)", self._framework_id)

    async def close(self) -> None:
        """Stop the client: end the subscription stream and close every connection.

        Waits until :meth:`run` has finished, except when called from inside the client (from a
        handler method), where it only requests the stop: ``run`` returns once the handler does.
        Idempotent. Does not call ``on_disconnected``.
        """
        self._subscription.request_close()
        if self._run_task is None:
            return
        current = asyncio.current_task()
        if current is self._run_task or (current is not None and current is self._reconcile_task):
            return
        await self._closed.wait()

    async def teardown(self) -> None:
        """TEARDOWN: remove the framework from Mesos (kills all its tasks), then close the client."""
        await self._send_call("TEARDOWN")
        logger.warning("framework %s torn down", self._framework_id)
        await self.close()

    async def _subscribe_request(self) -> SubscribeRequest:
        try:
            base_url = await self._detect(self._master)
        except ValueError as exc:
            raise NoLeader(f"cannot use master address {self._master!r}: {exc}") from exc
        call = self._framework.subscribe_call(self._framework_id)
        return SubscribeRequest(
            endpoint=base_url.rstrip("/") + SCHEDULER_API_PATH,
            body=json.dumps(call, separators=(",", ":")).encode(),
        )

    async def _on_open(self, stream: OpenedStream) -> None:
        if not stream.stream_id:
            raise ProtocolError(f"SUBSCRIBE response from {stream.endpoint} has no Mesos-Stream-Id header")
        self._opened = stream
        self._endpoint = stream.endpoint

    async def _on_event(self, event: JsonObject) -> bool:
        if event["type"] == "SUBSCRIBED":
            await self._on_subscribed(event)
            return True
        if event["type"] == "UPDATE" and self._unanswered:
            status = event.get("update", {}).get("status", {})
            task_id = status.get("task_id", {}).get("value") if isinstance(status, dict) else None
            self._unanswered.pop(str(task_id), None)
            if not self._unanswered:
                self._all_answered.set()
        return await self._dispatcher.dispatch(event)

    async def _on_subscribed(self, event: JsonObject) -> None:
        framework_id, interval = decode_subscribed(event)
        stream = self._opened
        assert stream is not None and stream.stream_id is not None, "events come after the stream is opened"
        if self._framework_id is not None and framework_id != self._framework_id:
            logger.warning("master assigned framework id %s instead of %s", framework_id, self._framework_id)
        self._framework_id = framework_id
        self._call_target = CallTarget(
            endpoint=stream.endpoint, stream_id=stream.stream_id, framework_id=framework_id
        )
        logger.info(
            "subscribed to Mesos master %s as framework %s (heartbeat %.1f s, stream %s)",
            stream.endpoint,
            framework_id,
            interval,
            stream.stream_id,
        )
        await call_handler("on_subscribed", self._handler.on_subscribed(framework_id, interval))
        if self.state is ClientState.SUBSCRIBED and not self._subscription.closing:
            if self._reconcile_task is not None:  # a second SUBSCRIBED on one stream: start over
                self._reconcile_task.cancel()
            self._reconcile_task = asyncio.create_task(self._reconcile_loop(), name="mesos-client-reconcile")

    async def _on_stream_end(self) -> None:
        self._call_target = None
        self._opened = None
        task, self._reconcile_task = self._reconcile_task, None
        if task is not None:
            task.cancel()
            await asyncio.wait([task])

    async def _on_lost(self, subscribed: bool, error: MesosError) -> float | None:
        if isinstance(error, CallRejected) and error.call_type == "SUBSCRIBE":
            return None  # a bad FrameworkInfo or role: retrying cannot succeed
        if subscribed:
            self._attempt = 0
            logger.warning("disconnected from Mesos master %s: %s", self._endpoint, error)
            await call_handler("on_disconnected", self._handler.on_disconnected())
        else:
            logger.warning("subscribing to Mesos master %s failed: %s", self._master, error)
        delay = self._backoff.delay(self._attempt)
        self._attempt += 1
        logger.info("resubscribing in %.2f s (framework %s)", delay, self._framework_id or "new")
        return delay

    async def _reconcile_loop(self) -> None:
        """After SUBSCRIBED: explicit then implicit reconciliation, then again periodically."""
        while True:
            await self._reconcile_once()
            if self._reconcile_interval is None:
                return
            await asyncio.sleep(self._reconcile_interval)

    async def _reconcile_once(self) -> None:
        """Explicit reconciliation of the handler's tasks, resent with backoff for those that have
        not answered (an update for a task is its answer); those still silent after the retries
        go to the handler's ``on_unanswered``. Then implicit reconciliation."""
        tasks: list[tuple[str, str | None]] = []
        try:
            tasks = list(await self._handler.tasks_to_reconcile())
        except Exception:
            logger.exception("tasks_to_reconcile() failed; reconciling implicitly only")
        self._unanswered = dict(tasks)
        self._all_answered.clear()
        try:
            if tasks:
                logger.info("reconciling %d tasks explicitly", len(tasks))
            for attempt in range(self._reconcile_retries + 1):
                if not self._unanswered:
                    break
                if attempt:
                    logger.info(
                        "%d task(s) have not answered reconciliation; asking again (retry %d of %d)",
                        len(self._unanswered),
                        attempt,
                        self._reconcile_retries,
                    )
                try:
                    await self.reconcile(list(self._unanswered.items()))
                except MesosError as exc:
                    logger.warning("reconciliation failed: %s", exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._all_answered.wait(), self._reconcile_backoff.delay(attempt))
            silent, self._unanswered = list(self._unanswered), {}
            if silent:
                logger.warning(
                    "%d task(s) never answered reconciliation: %s", len(silent), ", ".join(silent[:5])
                )
                report = getattr(self._handler, "on_unanswered", None)
                if report is not None:
                    await call_handler("on_unanswered", report(silent))
            await self.reconcile([])
        except MesosError as exc:
            logger.warning("reconciliation failed: %s", exc)
        finally:
            self._unanswered = {}
