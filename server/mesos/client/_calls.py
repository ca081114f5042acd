"""The calls a subscribed scheduler sends: ACCEPT, DECLINE, KILL, ACKNOWLEDGE, RECONCILE, ...

Calls never share the subscription stream's connection: each is POSTed on the call connection
with the ``Mesos-Stream-Id`` header and the top-level ``framework_id`` of the live subscription,
and must be answered ``202 Accepted`` (else :class:`~server.mesos.errors.CallRejected`; a network
failure is :class:`~server.mesos.errors.TransportError`). Without a live subscription a call
raises :class:`~server.mesos.errors.SubscriptionLost` at once; nothing is queued for later.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from server.mesos.errors import CallRejected, SubscriptionLost, TransportError
from server.mesos.subscription import JsonObject
from server.mesos.values import b64encode, id_object

__all__ = ["CallTarget", "SchedulerCalls"]

logger = logging.getLogger("server.mesos.client")

_JSON = "application/json"


@dataclass(frozen=True, kw_only=True, slots=True)
class CallTarget:
    """Where and as whom calls go while subscribed."""

    endpoint: str
    stream_id: str
    framework_id: str


class SchedulerCalls:
    """The scheduler API calls, sent on a connection of their own (see the module docstring).

    A base class: the subscription that owns it opens the connection (:meth:`_open_calls`),
    points calls at each live stream (:attr:`_call_target`) and closes it (:meth:`_close_calls`).
    """

    def __init__(
        self,
        *,
        call_timeout: float,
        connect_timeout: float,
        verify: Any = True,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._call_timeout = httpx.Timeout(call_timeout, connect=connect_timeout)
        self._call_verify = verify
        self._call_transport = transport
        self._call_http: httpx.AsyncClient | None = None
        #: The live subscription's endpoint, stream id and framework id; ``None`` when there is none.
        self._call_target: CallTarget | None = None

    def _open_calls(self) -> None:
        self._call_http = httpx.AsyncClient(
            timeout=self._call_timeout,
            follow_redirects=False,
            trust_env=False,
            verify=self._call_verify,
            transport=self._call_transport,
        )

    async def _close_calls(self) -> None:
        self._call_target = None
        http, self._call_http = self._call_http, None
        if http is not None:
            await http.aclose()

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
            "offer_ids": [id_object(offer_id) for offer_id in offer_ids],
            "operations": [dict(operation) for operation in operations],
        }
        if refuse_seconds is not None:
            accept["filters"] = {"refuse_seconds": refuse_seconds}
        await self._send_call("ACCEPT", "accept", accept)

    async def decline(self, offer_ids: Sequence[str], refuse_seconds: float | None = None) -> None:
        """DECLINE offers; the master will not re-offer those resources for ``refuse_seconds``."""
        decline: JsonObject = {"offer_ids": [id_object(offer_id) for offer_id in offer_ids]}
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
        kill: JsonObject = {"task_id": id_object(task_id)}
        if agent_id is not None:
            kill["agent_id"] = id_object(agent_id)
        await self._send_call("KILL", "kill", kill)

    async def shutdown(self, executor_id: str, agent_id: str) -> None:
        """SHUTDOWN a custom executor (it kills its tasks and exits)."""
        await self._send_call(
            "SHUTDOWN", "shutdown", {"executor_id": id_object(executor_id), "agent_id": id_object(agent_id)}
        )

    async def acknowledge(self, agent_id: str, task_id: str, uuid: str) -> None:
        """ACKNOWLEDGE a status update. ``uuid`` is the base64 text exactly as received.

        The client already acknowledges every update that carries a ``uuid`` after
        ``on_update``; call this only for updates handled outside the event handler.
        """
        await self._send_call(
            "ACKNOWLEDGE",
            "acknowledge",
            {"agent_id": id_object(agent_id), "task_id": id_object(task_id), "uuid": uuid},
        )

    async def reconcile(self, tasks: Sequence[tuple[str, str | None]]) -> None:
        """RECONCILE ``(task_id, agent_id or None)`` pairs; an empty list asks for every task."""
        entries: list[JsonObject] = []
        for task_id, agent_id in tasks:
            entry: JsonObject = {"task_id": id_object(task_id)}
            if agent_id is not None:
                entry["agent_id"] = id_object(agent_id)
            entries.append(entry)
        await self._send_call("RECONCILE", "reconcile", {"tasks": entries})

    async def message(self, agent_id: str, executor_id: str, data: bytes) -> None:
        """MESSAGE: send opaque bytes to an executor (no delivery guarantee)."""
        await self._send_call(
            "MESSAGE",
            "message",
            {
                "agent_id": id_object(agent_id),
                "executor_id": id_object(executor_id),
                "data": b64encode(data),
            },
        )

    async def _send_call(
        self, call_type: str, field_name: str | None = None, body: JsonObject | None = None
    ) -> None:
        target, http = self._call_target, self._call_http
        if target is None or http is None:
            raise SubscriptionLost(f"cannot send {call_type}: no live subscription")
        call: JsonObject = {"type": call_type, "framework_id": {"value": target.framework_id}}
        if field_name is not None and body is not None:
            call[field_name] = body
        content = orjson.dumps(call)  # compact UTF-8 JSON; ACCEPTs of many tasks are large
        headers = {"Content-Type": _JSON, "Accept": _JSON, "Mesos-Stream-Id": target.stream_id}
        try:
            response = await http.post(target.endpoint, content=content, headers=headers)
        except httpx.HTTPError as exc:
            raise TransportError(f"{call_type} to {target.endpoint} failed: {exc!r}") from exc
        if response.status_code != 202:
            raise CallRejected(call_type, response.status_code, response.text)
        logger.debug("%s accepted by %s", call_type, target.endpoint)
