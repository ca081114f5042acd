"""Scheduler API events to :class:`SchedulerEventHandler` calls.

:class:`EventDispatcher` decodes every event type but ``SUBSCRIBED`` (the subscription's own) and
awaits the matching handler method. A handler that raises is logged and the stream goes on; a
status update that carries a ``uuid`` is acknowledged only after ``on_update`` returned without
raising, and one without ``uuid`` (reconciliation answers, master-generated updates) never is. An
event that lacks the fields the protos require raises
:class:`~server.mesos.errors.ProtocolError`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from server.mesos.errors import MesosError, ProtocolError
from server.mesos.subscription import JsonObject, heartbeat_interval
from server.mesos.values import b64decode, id_value

__all__ = ["EventDispatcher", "SchedulerEventHandler", "call_handler", "decode_subscribed"]

logger = logging.getLogger("server.mesos.client")

#: ``ACKNOWLEDGE`` of one update: ``(agent_id, task_id, uuid)``.
Acknowledge = Callable[[str, str, str], Awaitable[None]]


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
        """The non-terminal tasks the scheduler knows, as ``(task_id, agent_id or None)`` pairs.

        A handler may also define ``async on_unanswered(task_ids: list[str])``: the tasks for which
        explicit reconciliation, resent with backoff, got no answer at all."""
        ...


def decode_subscribed(event: JsonObject) -> tuple[str, float]:
    """``(framework_id, heartbeat_interval)`` of a SUBSCRIBED event; the interval is 0 if absent."""
    subscribed = _field(event, "subscribed")
    return _id_value(subscribed.get("framework_id"), "subscribed.framework_id"), heartbeat_interval(event)


class EventDispatcher:
    """Hands the events after SUBSCRIBED to a handler (see the module docstring)."""

    def __init__(self, handler: SchedulerEventHandler, acknowledge: Acknowledge) -> None:
        self._handler = handler
        self._acknowledge = acknowledge

    async def dispatch(self, event: JsonObject) -> bool:
        """Hand one event to the handler. Returns ``False`` after an ERROR event (final)."""
        handler = self._handler
        kind = event["type"]
        if kind == "HEARTBEAT":
            logger.debug("heartbeat")
        elif kind == "OFFERS":
            offers = event.get("offers")
            # scheduler.proto nests the list (Event.Offers.offers); early docs showed it bare.
            offer_list = offers.get("offers") if isinstance(offers, dict) else offers
            if not isinstance(offer_list, list):
                raise ProtocolError(f"OFFERS event without offers: {event!r}")
            await call_handler("on_offers", handler.on_offers(offer_list))
        elif kind == "RESCIND":
            offer_id = _id_value(_field(event, "rescind").get("offer_id"), "rescind.offer_id")
            await call_handler("on_rescind", handler.on_rescind(offer_id))
        elif kind == "UPDATE":
            await self._on_update(event)
        elif kind == "MESSAGE":
            message = _field(event, "message")
            await call_handler(
                "on_message",
                handler.on_message(
                    _id_value(message.get("agent_id"), "message.agent_id"),
                    _id_value(message.get("executor_id"), "message.executor_id"),
                    _b64decode(message.get("data", ""), "message.data"),
                ),
            )
        elif kind == "FAILURE":
            failure = _field(event, "failure")
            status = failure.get("status")
            await call_handler(
                "on_failure",
                handler.on_failure(
                    id_value(failure.get("agent_id")),
                    id_value(failure.get("executor_id")),
                    status if isinstance(status, int) else None,
                ),
            )
        elif kind == "ERROR":
            error = event.get("error")
            # scheduler.proto nests it (Event.Error.message); early docs showed it top-level.
            error_message = error.get("message") if isinstance(error, dict) else event.get("message")
            text = str(error_message) if error_message is not None else "unspecified error"
            logger.error("Mesos master sent ERROR: %s", text)
            await call_handler("on_error", handler.on_error(text))
            return False
        else:
            logger.debug("ignoring Mesos event of type %s", kind)
        return True

    async def _on_update(self, event: JsonObject) -> None:
        status = _field(event, "update").get("status")
        if not isinstance(status, dict):
            raise ProtocolError(f"UPDATE event without status: {event!r}")
        handled = await call_handler("on_update", self._handler.on_update(status))
        uuid = status.get("uuid")
        if not uuid:
            return  # not reliably delivered: must not be acknowledged
        task_id = id_value(status.get("task_id"))
        agent_id = id_value(status.get("agent_id"))
        if not handled:
            logger.warning("update %s of task %s not acknowledged; Mesos will resend it", uuid, task_id)
            return
        if task_id is None or agent_id is None:
            logger.warning("cannot acknowledge update %s: it names no task or agent: %r", uuid, status)
            return
        try:
            await self._acknowledge(agent_id, task_id, uuid)
        except MesosError as exc:
            logger.warning("ACK of update %s of task %s failed (Mesos resends it): %s", uuid, task_id, exc)


async def call_handler(name: str, call: Awaitable[None]) -> bool:
    """Await one handler method; log what it raises. Returns whether it returned normally."""
    try:
        await call
    except Exception:
        logger.exception("scheduler event handler %s raised", name)
        return False
    return True


def _field(event: JsonObject, name: str) -> JsonObject:
    value = event.get(name)
    if not isinstance(value, dict):
        raise ProtocolError(f"{event['type']} event without '{name}': {event!r}")
    return value


def _id_value(value: Any, where: str) -> str:
    found = id_value(value)
    if found is None:
        raise ProtocolError(f"expected {{'value': ...}} at {where}, got {value!r}")
    return found


def _b64decode(value: Any, where: str) -> bytes:
    try:
        return b64decode(str(value))
    except ValueError as exc:
        raise ProtocolError(f"{where} is not base64") from exc
