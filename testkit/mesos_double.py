"""A Mesos master test double for the v1 scheduler HTTP API, written from the Mesos documentation.

It serves ``POST /api/v1/scheduler`` on ``127.0.0.1`` (port 0, so tests never collide) with
aiohttp, and is strict about the wire format the way the real master (``src/master/http.cpp``) is.
The call checks, the task checks and the events are the protocol kernel's (``server.mesos.calls``,
``launch``, ``events``, ``status``), the ones the embedded cluster's master uses; what is the
double's own is its recording, its fault injection, its chunking and the answers below:

====================================================  ======================================
request                                               answer
====================================================  ======================================
this double set to be a non-leader                    307, ``Location: //h:p/api/v1/scheduler``
no leader (``set_no_leader(True)``)                   503
method other than POST                                405
no ``Content-Type``                                   400
``Content-Type`` other than exactly application/json  415 (Mesos compares the exact string)
body not JSON / not an object / unknown call type     400
call type ``UNKNOWN``                                 501
a field the protos mark required is missing           400 (``framework_info.user``/``name``, ...)
SUBSCRIBE carrying ``Mesos-Stream-Id``                400
SUBSCRIBE with ``framework_id`` != ``framework_info.id``  400
SUBSCRIBE whose ``Accept`` excludes JSON              406
other call without top-level ``framework_id``         400
other call for a framework the double never saw       400 (``Framework cannot be found``)
other call while that framework is not subscribed     403
other call without / with a stale ``Mesos-Stream-Id`` 400
a good call                                           202 (SUBSCRIBE: 200 + RecordIO stream;
                                                      UPDATE_FRAMEWORK: 200)
====================================================  ======================================

Every request is recorded (:class:`RecordedCall`: parsed JSON, headers, the status answered), and
tests wait for calls with :meth:`MesosMasterDouble.wait_for_call` instead of sleeping.

Behaviour modelled on the master:

* SUBSCRIBE without an id registers a new framework (``<master id>-0000``, ``-0001``, ...); with an
  id it keeps that id. The newest subscription wins: an older stream of the same framework gets an
  ``ERROR`` "Framework failed over" and is closed. A removed framework (TEARDOWN or
  :meth:`~MesosMasterDouble.remove_framework`) gets ``ERROR`` "Framework has been removed".
* ``HEARTBEAT`` every ``heartbeat_interval`` seconds (``pause_heartbeats`` stops them).
* Status updates sent with ``reliable=True`` carry a fresh 16-byte uuid (base64) and stay pending
  until ACKNOWLEDGEd; they are resent every ``update_resend_interval`` seconds (if set) and after
  each resubscription, as agents do.
* ACCEPT with an unknown, rescinded, declined or already used offer id answers 202 and then sends,
  for each task of each LAUNCH, ``TASK_LOST`` (``TASK_DROPPED`` if the framework is
  ``PARTITION_AWARE``) with ``REASON_INVALID_OFFERS``, ``SOURCE_MASTER`` and *no* uuid (the real
  master passes ``None`` as the uuid of these updates, so they must not be acknowledged).
  A valid ACCEPT records a :class:`Launch` and marks its tasks ``TASK_STAGING``; a task that
  :func:`server.mesos.launch.task_problem` refuses (both or neither of ``command`` and ``executor``,
  another agent than the offer's, ...) gets ``TASK_ERROR`` / ``REASON_TASK_INVALID``; so does
  one whose ExecutorInfo differs from that of the live executor of its id on its agent
  (:func:`server.mesos.launch.executor_conflict`). An executor lives (:attr:`executors`) from
  the first task launched under it until a SHUTDOWN call or :meth:`send_failure` naming it.
* RECONCILE (``auto_reconcile``): an empty list answers the latest status of every non-terminal
  task; listed tasks get their latest status, unknown ones ``TASK_LOST`` (when partition-aware:
  ``TASK_GONE`` if they name an agent some offer came from, else ``TASK_UNKNOWN``); all with
  ``REASON_RECONCILIATION`` and no uuid.
* KILL (``auto_kill``): a live task gets a reliable ``TASK_KILLED`` as if from its executor; an
  unknown one an unreliable answer as its reconciliation would give.

Simplifications: one framework at a time; no resource accounting (offers are what the test sends);
no inverse offers or operation feedback (those calls are accepted and recorded only).

Usage::

    async with MesosMasterDouble(heartbeat_interval=0.05, chunker=byte_chunks) as master:
        client = MesosSchedulerClient(master.base_url, framework, handler)
        ...
        await master.wait_for_subscription()
        offer = await master.offer(cpus=2, mem=1024)
        accept = await master.wait_for_call("ACCEPT")
        assert master.launched_tasks[0]["task_id"]["value"] == ...
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from server.mesos.calls import (
    Refusal,
    accepts_json,
    decode_call,
    envelope_refusal,
    scheduler_call_refusal,
)
from server.mesos.events import (
    HEARTBEAT,
    encode_event,
    error_event,
    failure_event,
    master_info,
    message_event,
    offer_json,
    offers_event,
    rescind_event,
    subscribed_event,
    update_event,
)
from server.mesos.launch import executor_conflict, normalized_executor, task_problem
from server.mesos.states import TERMINAL_STATES
from server.mesos.status import task_status
from server.mesos.values import JsonObject, b64encode, id_value, new_stream_id

__all__ = [
    "DEFAULT_AGENT_ID",
    "Chunker",
    "Launch",
    "MesosMasterDouble",
    "RecordedCall",
    "Subscription",
    "byte_chunks",
    "random_chunks",
    "whole_chunks",
]

#: Splits the bytes of the events written in one go into HTTP chunks (one ``write`` each).
Chunker = Callable[[bytes], Iterable[bytes]]

DEFAULT_AGENT_ID = "agent-1"
SCHEDULER_PATH = "/api/v1/scheduler"

# -- chunkers -------------------------------------------------------------------------------------


def whole_chunks(data: bytes) -> list[bytes]:
    """Everything written at once in one HTTP chunk (several records per chunk when batched)."""
    return [data]


def byte_chunks(data: bytes) -> list[bytes]:
    """One HTTP chunk per byte: every record split at every byte boundary."""
    return [data[index : index + 1] for index in range(len(data))]


def random_chunks(seed: int = 0, max_size: int = 16) -> Chunker:
    """Chunks of random sizes (1..``max_size`` bytes), reproducible from ``seed``."""
    rng = random.Random(seed)

    def chunker(data: bytes) -> list[bytes]:
        pieces = []
        offset = 0
        while offset < len(data):
            size = rng.randint(1, max_size)
            pieces.append(data[offset : offset + size])
            offset += size
        return pieces

    return chunker


# -- records --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RecordedCall:
    """One HTTP request the double received, with what it answered."""

    type: str | None  # the call's "type", None when the body was not a JSON object with a type
    body: JsonObject | None  # the parsed JSON body, None when malformed
    headers: Mapping[str, str]  # request headers, keys in lower case
    status: int  # HTTP status the double answered
    reason: str  # the text of the answer (empty for 202)
    received_at: float  # time.monotonic() once the call was read, parsed and handled
    arrived_at: float = 0.0  # time.monotonic() when the request reached the double, before reading it

    @property
    def stream_id(self) -> str | None:
        """The ``Mesos-Stream-Id`` header of the request."""
        return self.headers.get("mesos-stream-id")

    @property
    def framework_id(self) -> str | None:
        """The top-level ``framework_id.value`` of the call."""
        if self.body is None:
            return None
        return id_value(self.body.get("framework_id"))

    @property
    def accepted(self) -> bool:
        """Whether the double answered 200/202."""
        return self.status in (200, 202)


@dataclass(frozen=True, slots=True)
class Launch:
    """A LAUNCH operation of a valid ACCEPT."""

    offer_ids: tuple[str, ...]
    task_infos: tuple[JsonObject, ...]
    filters: JsonObject | None


@dataclass(slots=True)
class Subscription:
    """One SUBSCRIBE stream the double served."""

    framework_id: str
    stream_id: str
    framework_info: JsonObject
    outbox: asyncio.Queue[_Outgoing | _EndStream] = field(repr=False)
    ended: asyncio.Event = field(default_factory=asyncio.Event, repr=False)
    tasks: list[asyncio.Task[None]] = field(default_factory=list, repr=False)

    @property
    def open(self) -> bool:
        """Whether the stream is still being served."""
        return not self.ended.is_set()


@dataclass(slots=True)
class _Outgoing:
    data: bytes
    written: asyncio.Future[None] | None = None


@dataclass(slots=True)
class _EndStream:
    clean: bool
    done: asyncio.Future[None] | None = None


class _Reject(Exception):
    def __init__(self, status: int, reason: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.headers = dict(headers or {})


# -- the double -----------------------------------------------------------------------------------


class MesosMasterDouble:
    """A fake leading Mesos master serving the v1 scheduler API on 127.0.0.1 (see module doc).

    :param heartbeat_interval: seconds between HEARTBEAT events, also sent in SUBSCRIBED.
    :param chunker: how outgoing stream bytes are split into HTTP chunks (settable later).
    :param update_resend_interval: resend unacknowledged reliable updates this often; ``None``
        resends them only on resubscription.
    :param known_framework_ids: frameworks the master already knows (as after a master failover),
        so their calls get 403 rather than 400 before they subscribe.
    :param auto_reconcile: answer RECONCILE with UPDATE events.
    :param auto_kill: answer KILL with TASK_KILLED / TASK_LOST updates.
    :param master_id: prefix of generated framework and offer ids.
    """

    def __init__(
        self,
        *,
        heartbeat_interval: float = 15.0,
        chunker: Chunker = whole_chunks,
        update_resend_interval: float | None = None,
        known_framework_ids: Iterable[str] = (),
        auto_reconcile: bool = True,
        auto_kill: bool = True,
        master_id: str | None = None,
    ) -> None:
        self.heartbeat_interval = heartbeat_interval
        self.chunker = chunker
        self.update_resend_interval = update_resend_interval
        self.auto_reconcile = auto_reconcile
        self.auto_kill = auto_kill
        self.master_id = master_id or str(uuid.uuid4())

        #: Every request received, in order.
        self.calls: list[RecordedCall] = []
        #: Every subscription served, in order (the last one may be live).
        self.subscriptions: list[Subscription] = []
        #: LAUNCH operations of valid ACCEPT calls, in order.
        self.launches: list[Launch] = []
        #: Latest TaskStatus the double sent (or implied) for each task id.
        self.task_states: dict[str, JsonObject] = {}
        #: Reliable updates sent and not yet acknowledged, by uuid (base64 text).
        self.pending_updates: dict[str, JsonObject] = {}
        #: ACKNOWLEDGE bodies that matched a pending update.
        self.acknowledged: list[JsonObject] = []
        #: ACKNOWLEDGE bodies that matched no pending update (never sent, or acknowledged twice).
        self.unexpected_acknowledgements: list[JsonObject] = []
        #: Live executors' ExecutorInfo (framework id filled in), by (agent id, executor id).
        self.executors: dict[tuple[str, str], JsonObject] = {}
        #: Offers sent and not yet used, declined or rescinded, by offer id.
        self.outstanding_offers: dict[str, JsonObject] = {}
        #: Agents named by the offers sent so far: the agents the double's master "knows".
        self.known_agents: set[str] = set()
        #: Whether the framework's last REVIVE/SUPPRESS was SUPPRESS.
        self.suppressed = False
        #: The FrameworkInfo of the last accepted SUBSCRIBE.
        self.framework_info: JsonObject | None = None
        #: HEARTBEAT events queued so far, over all subscriptions.
        self.heartbeats_sent = 0

        self._known_frameworks: set[str] = set(known_framework_ids)
        self._removed_frameworks: set[str] = set()
        self._framework_counter = itertools.count()
        self._offer_counter = itertools.count(1)
        self._active: Subscription | None = None
        self._redirect_location: str | None = None
        self._no_leader = False
        self._heartbeats_paused = False
        self._injected_failures: dict[str, list[tuple[int, str]]] = {}
        self._changed: asyncio.Event | None = None
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._background: list[asyncio.Task[None]] = []

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> int:
        """Start serving on 127.0.0.1 on a free port; return the port."""
        if self._runner is not None:
            raise RuntimeError("MesosMasterDouble already started")
        self._changed = asyncio.Event()
        app = web.Application()
        app.router.add_route("*", SCHEDULER_PATH, self._handle)
        app.router.add_route("*", "/master" + SCHEDULER_PATH, self._handle)
        runner = web.AppRunner(app, handler_cancellation=True, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runner = runner
        self._port = int(runner.addresses[0][1])
        if self.update_resend_interval is not None:
            self._background.append(asyncio.create_task(self._resend_loop(), name="double-resend"))
        return self._port

    async def stop(self) -> None:
        """End every stream (cleanly) and stop the server."""
        for subscription in self.subscriptions:
            if subscription.open:
                subscription.outbox.put_nowait(_EndStream(clean=True))
        for task in self._background:
            task.cancel()
        if self._background:
            await asyncio.wait(self._background)
        self._background.clear()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        for subscription in self.subscriptions:
            await _cancel_all(subscription.tasks)

    async def __aenter__(self) -> MesosMasterDouble:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # -- addresses ------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The TCP port the double listens on (after :meth:`start`)."""
        if self._port is None:
            raise RuntimeError("MesosMasterDouble not started")
        return self._port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``: what a scheduler is configured with."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def endpoint(self) -> str:
        """The scheduler endpoint URL."""
        return self.base_url + SCHEDULER_PATH

    # -- state ----------------------------------------------------------------------------------

    @property
    def active(self) -> Subscription | None:
        """The live subscription, if the framework is connected."""
        return self._active

    @property
    def connected(self) -> bool:
        """Whether a framework is currently subscribed (its stream open)."""
        return self._active is not None

    @property
    def framework_id(self) -> str | None:
        """The id of the framework of the latest subscription."""
        return self.subscriptions[-1].framework_id if self.subscriptions else None

    @property
    def stream_id(self) -> str | None:
        """The ``Mesos-Stream-Id`` of the live subscription."""
        return self._active.stream_id if self._active else None

    @property
    def partition_aware(self) -> bool:
        """Whether the subscribed FrameworkInfo declares ``PARTITION_AWARE``."""
        capabilities = (self.framework_info or {}).get("capabilities") or []
        return any(isinstance(c, dict) and c.get("type") == "PARTITION_AWARE" for c in capabilities)

    @property
    def launched_tasks(self) -> list[JsonObject]:
        """TaskInfos of every valid launch, in order."""
        return [task for launch in self.launches for task in launch.task_infos]

    def live_executors(self, agent_id: str = DEFAULT_AGENT_ID) -> list[str]:
        """The ids of the executors live on ``agent_id`` (what the master lists in its offers)."""
        return sorted(executor for agent, executor in self.executors if agent == agent_id)

    def calls_of(self, call_type: str, *, status: int | None = None) -> list[RecordedCall]:
        """Recorded calls of one type (optionally only those answered with ``status``)."""
        return [c for c in self.calls if c.type == call_type and (status is None or c.status == status)]

    # -- waiting --------------------------------------------------------------------------------

    async def wait_until(
        self, predicate: Callable[[], bool], *, timeout: float = 5.0, what: str = ""
    ) -> None:
        """Wait until ``predicate()`` holds; it is re-checked whenever the double's state changes."""
        assert self._changed is not None, "start the double first"
        try:
            async with asyncio.timeout(timeout):
                while not predicate():
                    await self._changed.wait()
        except TimeoutError:
            seen = [f"{c.type}:{c.status}" for c in self.calls[-20:]]
            raise AssertionError(
                f"timed out after {timeout} s waiting for {what or predicate}; calls {seen}"
            ) from None

    async def wait_for_call(
        self,
        call_type: str,
        *,
        count: int = 1,
        predicate: Callable[[RecordedCall], bool] | None = None,
        timeout: float = 5.0,
    ) -> RecordedCall:
        """Wait until ``count`` calls of ``call_type`` (matching ``predicate``) were received; return
        the ``count``-th one."""

        def matching() -> list[RecordedCall]:
            return [c for c in self.calls_of(call_type) if predicate is None or predicate(c)]

        await self.wait_until(
            lambda: len(matching()) >= count, timeout=timeout, what=f"{count} x {call_type}"
        )
        return matching()[count - 1]

    async def wait_for_subscription(self, count: int = 1, *, timeout: float = 5.0) -> Subscription:
        """Wait until ``count`` subscriptions were established (SUBSCRIBED sent); return the last."""
        await self.wait_until(
            lambda: len(self.subscriptions) >= count, timeout=timeout, what=f"{count} subscriptions"
        )
        return self.subscriptions[count - 1]

    async def wait_for_disconnect(self, *, timeout: float = 5.0) -> None:
        """Wait until no framework is connected."""
        await self.wait_until(lambda: self._active is None, timeout=timeout, what="disconnect")

    # -- leadership and failure injection ------------------------------------------------------

    def redirect_to(self, leader: MesosMasterDouble | str | None) -> None:
        """Act as a non-leading master: answer every request with 307 to ``leader`` (a double or a
        ``host:port``). ``None`` makes this double the leader again."""
        if leader is None:
            self._redirect_location = None
        else:
            host_port = f"127.0.0.1:{leader.port}" if isinstance(leader, MesosMasterDouble) else leader
            self._redirect_location = f"//{host_port}{SCHEDULER_PATH}"

    def set_no_leader(self, no_leader: bool = True) -> None:
        """Answer every request with 503 (no leading master elected)."""
        self._no_leader = no_leader

    def fail_next_call(self, call_type: str, status: int, reason: str = "injected failure") -> None:
        """Answer the next well-formed call of ``call_type`` with ``status`` instead of handling it."""
        self._injected_failures.setdefault(call_type, []).append((status, reason))

    def pause_heartbeats(self) -> None:
        """Stop sending HEARTBEAT events (a silent network partition)."""
        self._heartbeats_paused = True

    def resume_heartbeats(self) -> None:
        """Send HEARTBEAT events again."""
        self._heartbeats_paused = False

    # -- events ---------------------------------------------------------------------------------

    def make_offer(
        self,
        *,
        agent_id: str = DEFAULT_AGENT_ID,
        hostname: str | None = None,
        cpus: float = 4.0,
        mem: float = 4096.0,
        disk: float | None = None,
        ports: Sequence[tuple[int, int]] = ((31000, 32000),),
        attributes: Mapping[str, str] | None = None,
        executor_ids: Sequence[str] = (),
    ) -> JsonObject:
        """Build a realistic ``mesos.v1.Offer`` for the subscribed framework (not sent); like a
        default Mesos agent it offers ``ports`` ``[31000-32000]`` besides the scalars."""
        framework_id = self._require_active().framework_id
        role = self._framework_role()
        offer_id = f"{self.master_id}-O{next(self._offer_counter)}"
        resources = [_scalar("cpus", cpus, role), _scalar("mem", mem, role)]
        if disk is not None:
            resources.append(_scalar("disk", disk, role))
        if ports:
            resources.append(_ranges("ports", ports, role))
        return offer_json(
            offer_id=offer_id,
            framework_id=framework_id,
            agent_id=agent_id,
            hostname=hostname or f"{agent_id}.example.test",
            agent_ip="127.0.0.1",
            agent_port=5051,
            resources=resources,
            attributes=attributes,
            executor_ids=executor_ids,
            allocation_role=role,
        )

    async def send_offers(self, offers: Sequence[JsonObject]) -> list[JsonObject]:
        """Send an OFFERS event; the offers become valid for one ACCEPT or DECLINE."""
        for offer in offers:
            self.outstanding_offers[offer["id"]["value"]] = offer
            self.known_agents.add(str(offer["agent_id"]["value"]))
        await self.send_event(offers_event(offers))
        return list(offers)

    async def offer(self, **offer_fields: Any) -> JsonObject:
        """Build one offer with :meth:`make_offer` and send it; return it."""
        (offer,) = await self.send_offers([self.make_offer(**offer_fields)])
        return offer

    async def rescind(self, offer_id: str) -> None:
        """Send RESCIND for an offer, which becomes invalid."""
        self.outstanding_offers.pop(offer_id, None)
        await self.send_event(rescind_event(offer_id))

    async def send_update(
        self,
        task_id: str,
        state: str,
        *,
        agent_id: str | None = None,
        reliable: bool = True,
        reason: str | None = None,
        message: str | None = None,
        source: str = "SOURCE_EXECUTOR",
        executor_id: str | None = None,
        data: bytes | None = None,
    ) -> JsonObject:
        """Send an UPDATE with a TaskStatus and return the status.

        ``reliable=True`` gives it a fresh uuid and keeps it pending until acknowledged (resent as
        configured). ``agent_id`` defaults to the agent the task was launched on.
        """
        status = self._status(
            task_id,
            state,
            agent_id=agent_id or self._agent_of(task_id),
            reliable=reliable,
            reason=reason,
            message=message,
            source=source,
            executor_id=executor_id,
            data=data,
        )
        await self.send_event(update_event(status))
        return status

    async def send_message(self, agent_id: str, executor_id: str, data: bytes) -> None:
        """Send a MESSAGE event from an executor."""
        await self.send_event(message_event(agent_id, executor_id, b64encode(data)))

    async def send_failure(
        self, *, agent_id: str | None = None, executor_id: str | None = None, status: int | None = None
    ) -> None:
        """Send a FAILURE event (agent removed, or executor terminated)."""
        if executor_id is not None:
            self.executors = {key: info for key, info in self.executors.items() if key[1] != executor_id}
        await self.send_event(failure_event(agent_id=agent_id, executor_id=executor_id, status=status))

    async def send_error(self, message: str) -> None:
        """Send an ERROR event (the stream stays open; see :meth:`remove_framework`)."""
        await self.send_event(error_event(message))

    async def remove_framework(
        self, message: str = "Framework has been removed", *, timeout: float = 5.0
    ) -> None:
        """Remove the framework as an operator would: ERROR on its stream, stream closed, and any
        later SUBSCRIBE with its id answered with the same ERROR."""
        subscription = self._require_active()
        self._removed_frameworks.add(subscription.framework_id)
        self._disconnect(subscription)
        subscription.outbox.put_nowait(_Outgoing(encode_event(error_event(message))))
        subscription.outbox.put_nowait(_EndStream(clean=True))
        async with asyncio.timeout(timeout):
            await subscription.ended.wait()

    async def send_event(self, event: JsonObject, *, timeout: float = 5.0) -> None:
        """Send any event on the live stream; returns once its bytes were written."""
        await self.send_raw(encode_event(event), timeout=timeout)

    async def send_raw(self, data: bytes, *, timeout: float = 5.0) -> None:
        """Write raw bytes on the live stream (to send malformed RecordIO, say)."""
        subscription = self._require_active()
        written: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        subscription.outbox.put_nowait(_Outgoing(data, written))
        async with asyncio.timeout(timeout):
            await written

    async def drop_stream(self, *, clean: bool = False, timeout: float = 5.0) -> None:
        """Close the live subscription stream once what was queued is written.

        ``clean=True`` ends the chunked body properly (the scheduler sees EOF); ``clean=False``
        aborts the TCP connection mid-stream. The framework counts as disconnected at once.
        """
        subscription = self._require_active()
        self._disconnect(subscription)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        subscription.outbox.put_nowait(_EndStream(clean=clean, done=done))
        async with asyncio.timeout(timeout):
            await subscription.ended.wait()

    # -- HTTP handling --------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        arrived_at = time.monotonic()
        decoded = decode_call(await request.read())
        headers = {key.lower(): value for key, value in request.headers.items()}
        body = None if isinstance(decoded, Refusal) else decoded
        call_type = body.get("type") if body is not None and isinstance(body.get("type"), str) else None
        try:
            response = await self._dispatch(request, decoded)
        except _Reject as rejection:
            self._record(call_type, body, headers, rejection.status, rejection.reason, arrived_at)
            return web.Response(status=rejection.status, text=rejection.reason, headers=rejection.headers)
        if isinstance(response, Subscription):
            self._record(call_type, body, headers, 200, "", arrived_at)
            return await self._serve_stream(request, response)
        status = 200 if call_type == "UPDATE_FRAMEWORK" else 202  # Mesos answers it synchronously
        self._record(call_type, body, headers, status, "", arrived_at)
        return web.Response(status=status)

    async def _dispatch(self, request: web.Request, decoded: JsonObject | Refusal) -> Subscription | None:
        if self._redirect_location is not None:
            raise _Reject(307, "", {"Location": self._redirect_location})
        if self._no_leader:
            raise _Reject(503, "No leading master")
        refusal = envelope_refusal(request.method, request.headers.get("Content-Type"))
        if refusal is None:
            refusal = decoded if isinstance(decoded, Refusal) else scheduler_call_refusal(decoded)
        if refusal is not None:
            raise _Reject(refusal.status, refusal.text, refusal.headers)
        assert not isinstance(decoded, Refusal)
        body = decoded
        call_type = str(body["type"])
        if call_type == "SUBSCRIBE":
            if not accepts_json(request.headers.get("Accept")):
                raise _Reject(406, "Expecting 'Accept' to allow 'application/json'")
            if "Mesos-Stream-Id" in request.headers:
                raise _Reject(400, "Subscribe calls should not include the 'Mesos-Stream-Id' header")
            self._inject_failure(call_type)
            return self._subscribe(body)
        framework_id = id_value(body.get("framework_id"))
        assert framework_id is not None  # validated above
        if framework_id not in self._known_frameworks or framework_id in self._removed_frameworks:
            raise _Reject(400, "Framework cannot be found")
        active = self._active
        if active is None or active.framework_id != framework_id:
            raise _Reject(403, "Framework is not subscribed")
        stream_id = request.headers.get("Mesos-Stream-Id")
        if stream_id is None:
            raise _Reject(400, "All non-subscribe calls should include the 'Mesos-Stream-Id' header")
        if stream_id != active.stream_id:
            raise _Reject(
                400,
                f"The stream ID '{stream_id}' included in this request didn't match the stream ID "
                f"currently associated with framework ID {framework_id}",
            )
        self._inject_failure(call_type)
        self._apply_call(call_type, body, active)
        return None

    def _inject_failure(self, call_type: str) -> None:
        failures = self._injected_failures.get(call_type)
        if failures:
            status, reason = failures.pop(0)
            raise _Reject(status, reason)

    def _subscribe(self, body: JsonObject) -> Subscription:
        framework_info = dict(body["subscribe"]["framework_info"])
        framework_id = id_value(framework_info.get("id"))
        if framework_id is None:
            framework_id = f"{self.master_id}-{next(self._framework_counter):04d}"
        framework_info["id"] = {"value": framework_id}
        subscription = Subscription(
            framework_id=framework_id,
            stream_id=new_stream_id(),
            framework_info=framework_info,
            outbox=asyncio.Queue(),
        )
        if framework_id in self._removed_frameworks:
            subscription.outbox.put_nowait(_Outgoing(encode_event(error_event("Framework has been removed"))))
            subscription.outbox.put_nowait(_EndStream(clean=True))
            return subscription
        previous = self._active
        if previous is not None:
            previous.outbox.put_nowait(_Outgoing(encode_event(error_event("Framework failed over"))))
            previous.outbox.put_nowait(_EndStream(clean=True))
        self._known_frameworks.add(framework_id)
        self.framework_info = framework_info
        self._active = subscription
        subscribed = subscribed_event(
            framework_id,
            self.heartbeat_interval,
            master_info(master_id=self.master_id, host="127.0.0.1", port=self.port),
        )
        subscription.outbox.put_nowait(_Outgoing(encode_event(subscribed)))
        for status in self.pending_updates.values():
            subscription.outbox.put_nowait(_Outgoing(encode_event(update_event(status))))
        subscription.tasks.append(
            asyncio.create_task(self._heartbeat_loop(subscription), name="double-heartbeats")
        )
        self.subscriptions.append(subscription)
        self._notify()
        return subscription

    async def _serve_stream(self, request: web.Request, subscription: Subscription) -> web.StreamResponse:
        response = web.StreamResponse(
            status=200,
            headers={"Content-Type": "application/json", "Mesos-Stream-Id": subscription.stream_id},
        )
        response.enable_chunked_encoding()
        end: _EndStream | None = None
        try:
            await response.prepare(request)
            while end is None:
                batch = [await subscription.outbox.get()]
                while not subscription.outbox.empty():
                    batch.append(subscription.outbox.get_nowait())
                data = bytearray()
                written: list[asyncio.Future[None]] = []
                for item in batch:
                    if isinstance(item, _EndStream):
                        end = item
                        break
                    data += item.data
                    if item.written is not None:
                        written.append(item.written)
                for piece in self.chunker(bytes(data)):
                    if piece:
                        await response.write(piece)
                for future in written:
                    if not future.done():
                        future.set_result(None)
            if end.clean:
                await response.write_eof()
            elif request.transport is not None:
                request.transport.abort()
        except ConnectionError:
            pass  # the scheduler went away
        finally:
            self._disconnect(subscription)
            subscription.ended.set()
            await _cancel_all(subscription.tasks)
            while not subscription.outbox.empty():
                item = subscription.outbox.get_nowait()
                if isinstance(item, _Outgoing) and item.written is not None and not item.written.done():
                    item.written.set_exception(ConnectionError("subscription stream closed"))
            if end is not None and end.done is not None and not end.done.done():
                end.done.set_result(None)
            self._notify()
        return response

    def _disconnect(self, subscription: Subscription) -> None:
        if self._active is subscription:
            self._active = None
            self._notify()

    def _record(
        self,
        call_type: str | None,
        body: JsonObject | None,
        headers: dict[str, str],
        status: int,
        reason: str,
        arrived_at: float,
    ) -> None:
        self.calls.append(
            RecordedCall(call_type, body, headers, status, reason, time.monotonic(), arrived_at)
        )
        self._notify()

    def _notify(self) -> None:
        if self._changed is not None:
            self._changed.set()
            self._changed = asyncio.Event()

    # -- call semantics -------------------------------------------------------------------------

    def _apply_call(self, call_type: str, body: JsonObject, subscription: Subscription) -> None:
        if call_type == "ACCEPT":
            self._accept(body["accept"], subscription)
        elif call_type == "DECLINE":
            for offer_id in body["decline"].get("offer_ids", []):
                self.outstanding_offers.pop(offer_id["value"], None)
        elif call_type == "REVIVE":
            self.suppressed = False
        elif call_type == "SUPPRESS":
            self.suppressed = True
        elif call_type == "ACKNOWLEDGE":
            acknowledge = body["acknowledge"]
            if self.pending_updates.pop(acknowledge["uuid"], None) is not None:
                self.acknowledged.append(acknowledge)
            else:
                self.unexpected_acknowledgements.append(acknowledge)
        elif call_type == "RECONCILE" and self.auto_reconcile:
            self._reconcile(body["reconcile"].get("tasks") or [], subscription)
        elif call_type == "KILL" and self.auto_kill:
            self._kill(body["kill"], subscription)
        elif call_type == "SHUTDOWN":
            shutdown = body["shutdown"]
            self.executors.pop((shutdown["agent_id"]["value"], shutdown["executor_id"]["value"]), None)
        elif call_type == "TEARDOWN":
            self._removed_frameworks.add(subscription.framework_id)
            self._disconnect(subscription)
            subscription.outbox.put_nowait(_EndStream(clean=True))

    def _accept(self, accept: JsonObject, subscription: Subscription) -> None:
        offer_ids = [offer_id["value"] for offer_id in accept.get("offer_ids", [])]
        offers = [self.outstanding_offers.get(offer_id) for offer_id in offer_ids]
        problem: str | None = None
        if not offer_ids:
            problem = "No offers specified"
        elif len(set(offer_ids)) != len(offer_ids):
            problem = "Duplicate offer id"
        elif any(offer is None for offer in offers):
            unknown = [oid for oid, offer in zip(offer_ids, offers, strict=True) if offer is None]
            problem = f"Offer {unknown[0]} is no longer valid"
        elif len({offer["agent_id"]["value"] for offer in offers if offer is not None}) > 1:
            problem = "Aggregated offers must belong to one single agent"
        for offer_id in offer_ids:
            self.outstanding_offers.pop(offer_id, None)
        operations = accept.get("operations") or []
        launch_operations = [op for op in operations if op.get("type") == "LAUNCH"]
        if problem is not None:
            lost_state = "TASK_DROPPED" if self.partition_aware else "TASK_LOST"
            for operation in launch_operations:
                for task in operation.get("launch", {}).get("task_infos", []):
                    self._push(
                        subscription,
                        self._status(
                            task["task_id"]["value"],
                            lost_state,
                            agent_id=id_value(task.get("agent_id")),
                            reliable=False,
                            reason="REASON_INVALID_OFFERS",
                            message=f"Task launched with invalid offers: {problem}",
                            source="SOURCE_MASTER",
                        ),
                    )
            return
        offer_agent = str(offers[0]["agent_id"]["value"]) if offers and offers[0] is not None else ""
        for operation in launch_operations:
            valid_tasks = []
            for task in operation.get("launch", {}).get("task_infos", []):
                task_id = task["task_id"]["value"]
                invalid = task_problem(task, agent_id=offer_agent, framework_id=subscription.framework_id)
                executor = task.get("executor")
                if invalid is None and isinstance(executor, dict):
                    key = (offer_agent, str(executor["executor_id"]["value"]))
                    invalid = executor_conflict(executor, self.executors.get(key), subscription.framework_id)
                    if invalid is None:
                        self.executors[key] = normalized_executor(executor, subscription.framework_id)
                if invalid is not None:
                    self._push(
                        subscription,
                        self._status(
                            task_id,
                            "TASK_ERROR",
                            agent_id=id_value(task.get("agent_id")),
                            reliable=False,
                            reason="REASON_TASK_INVALID",
                            message=f"Task uses invalid resources or fields: {invalid}",
                            source="SOURCE_MASTER",
                        ),
                    )
                    continue
                valid_tasks.append(task)
                self.task_states[task_id] = self._status(
                    task_id, "TASK_STAGING", agent_id=offer_agent, reliable=False, source="SOURCE_MASTER"
                )
            self.launches.append(Launch(tuple(offer_ids), tuple(valid_tasks), accept.get("filters")))

    def _reconcile(self, tasks: list[JsonObject], subscription: Subscription) -> None:
        if not tasks:
            statuses = [s for s in self.task_states.values() if s["state"] not in TERMINAL_STATES]
        else:
            statuses = []
            for entry in tasks:
                task_id = entry["task_id"]["value"]
                known = self.task_states.get(task_id)
                if known is not None:
                    statuses.append(known)
                else:
                    agent_id = id_value(entry.get("agent_id"))
                    statuses.append(
                        self._status(
                            task_id,
                            self._unknown_task_state(agent_id),
                            agent_id=agent_id,
                            reliable=False,
                            source="SOURCE_MASTER",
                            track=False,
                        )
                    )
        for status in statuses:
            answer = task_status(
                status["task_id"]["value"],
                status["state"],
                source="SOURCE_MASTER",
                agent_id=id_value(status.get("agent_id")),
                executor_id=id_value(status.get("executor_id")),
                reason="REASON_RECONCILIATION",
                message="Reconciliation: latest task state",
                timestamp=status["timestamp"],
            )
            self._push(subscription, answer)

    def _kill(self, kill: JsonObject, subscription: Subscription) -> None:
        task_id = kill["task_id"]["value"]
        known = self.task_states.get(task_id)
        if known is not None and known["state"] not in TERMINAL_STATES:
            status = self._status(
                task_id,
                "TASK_KILLED",
                agent_id=id_value(known.get("agent_id")),
                reliable=True,
                source="SOURCE_EXECUTOR",
            )
        else:
            status = self._status(
                task_id,
                self._unknown_task_state(id_value(kill.get("agent_id"))),
                agent_id=id_value(kill.get("agent_id")),
                reliable=False,
                reason="REASON_RECONCILIATION",
                message="Attempted to kill an unknown task",
                source="SOURCE_MASTER",
                track=False,
            )
        self._push(subscription, status)

    def _unknown_task_state(self, agent_id: str | None) -> str:
        """Mesos' answer for a task it does not know: GONE on a known agent, UNKNOWN otherwise
        (LOST for both without PARTITION_AWARE)."""
        if not self.partition_aware:
            return "TASK_LOST"
        return "TASK_GONE" if agent_id is not None and agent_id in self.known_agents else "TASK_UNKNOWN"

    def _push(self, subscription: Subscription, status: JsonObject) -> None:
        subscription.outbox.put_nowait(_Outgoing(encode_event(update_event(status))))

    def _status(
        self,
        task_id: str,
        state: str,
        *,
        agent_id: str | None,
        reliable: bool,
        reason: str | None = None,
        message: str | None = None,
        source: str = "SOURCE_EXECUTOR",
        executor_id: str | None = None,
        data: bytes | None = None,
        track: bool = True,
    ) -> JsonObject:
        status = task_status(
            task_id,
            state,
            source=source,
            agent_id=agent_id,
            executor_id=executor_id,
            reason=reason,
            message=message,
            data=data,
            reliable=reliable,
        )
        if reliable:
            self.pending_updates[status["uuid"]] = status
        if track:
            self.task_states[task_id] = status
        return status

    def _agent_of(self, task_id: str) -> str:
        known = self.task_states.get(task_id)
        agent = id_value(known.get("agent_id")) if known else None
        if agent is None:
            for task in self.launched_tasks:
                if task["task_id"]["value"] == task_id:
                    agent = id_value(task.get("agent_id"))
        return agent or DEFAULT_AGENT_ID

    def _framework_role(self) -> str:
        roles = (self.framework_info or {}).get("roles") or []
        return str(roles[0]) if roles else "*"

    def _require_active(self) -> Subscription:
        if self._active is None:
            raise RuntimeError("no framework is subscribed to the master double")
        return self._active

    # -- background -----------------------------------------------------------------------------

    async def _heartbeat_loop(self, subscription: Subscription) -> None:
        heartbeat = encode_event(HEARTBEAT)
        while subscription.open:
            await asyncio.sleep(self.heartbeat_interval)
            if subscription.open and not self._heartbeats_paused:
                subscription.outbox.put_nowait(_Outgoing(heartbeat))
                self.heartbeats_sent += 1
                self._notify()

    async def _resend_loop(self) -> None:
        assert self.update_resend_interval is not None
        while True:
            await asyncio.sleep(self.update_resend_interval)
            active = self._active
            if active is None:
                continue
            for status in list(self.pending_updates.values()):
                self._push(active, status)


# -- helpers --------------------------------------------------------------------------------------


def _ranges(name: str, ranges: Sequence[tuple[int, int]], role: str) -> JsonObject:
    return {
        "name": name,
        "type": "RANGES",
        "ranges": {"range": [{"begin": begin, "end": end} for begin, end in ranges]},
        "role": "*",
        "allocation_info": {"role": role},
    }


def _scalar(name: str, value: float, role: str) -> JsonObject:
    return {
        "name": name,
        "type": "SCALAR",
        "scalar": {"value": value},
        "role": "*",
        "allocation_info": {"role": role},
    }


async def _cancel_all(tasks: list[asyncio.Task[None]]) -> None:
    current = asyncio.current_task()
    pending = [task for task in tasks if task is not current and not task.done()]
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending)
