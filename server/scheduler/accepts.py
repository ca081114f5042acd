"""ACCEPTs: each agent's recorded tasks launched in one ACCEPT of the agent's offers.

An ACCEPT is sent only for tasks ZooKeeper holds as running. One the master refuses, or that
could not be sent (the subscription was gone), launched nothing: its tasks never started, so their
ends are recorded as TASK_DROPPED and the shards queued again (``task_updates``). One whose
connection broke may have reached the master: its tasks stay recorded and reconciliation settles
whether they exist.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from server.mesos.errors import CallRejected, MesosError, SubscriptionLost
from server.scheduler.matching import Placement
from server.scheduler.offers import Offer
from server.scheduler.state import SchedulerState
from server.scheduler.task_updates import TaskUpdates
from server.scheduler.taskinfo import launch_operations

log = logging.getLogger("server.scheduler")

LaunchListener = Callable[[list[Placement]], None]


@dataclass(frozen=True, slots=True)
class PendingAccept:
    """An ACCEPT being sent: the agent's offers and the recorded tasks it launches."""

    offer_ids: tuple[str, ...]
    offer: Offer
    placements: list[Placement]
    sending: asyncio.Task[None]


class Accepts:
    def __init__(self, state: SchedulerState, task_updates: TaskUpdates) -> None:
        self._state = state
        self._task_updates = task_updates
        #: Called with the placements of each ACCEPT the master took.
        self.listeners: list[LaunchListener] = []

    async def prepare(
        self,
        placements: Iterable[list[Placement]],
        recorded: Mapping[tuple[str, ...], list[Placement]],
        completed: list[tuple[str, ...]],
    ) -> dict[tuple[str, ...], list[dict[str, Any]]]:
        """The LAUNCH operations of the ACCEPTs of the agents in ``completed`` (those with no task
        in a later transaction) should the transaction of ``placements`` (its units' placements)
        commit: their recorded tasks and those placements. Built one agent at a time, the loop getting a turn in between:
        ZooKeeper's client thread then gets the interpreter at once when the commit's answer
        comes, instead of waiting out a whole switch interval."""
        state = self._state
        if state.framework_id is None:
            return {}
        by_agent: dict[tuple[str, ...], list[Placement]] = {
            ids: list(recorded.get(ids, ())) for ids in completed
        }
        for unit_placements in placements:
            for placement in unit_placements:
                if placement.offer_ids in by_agent:
                    by_agent[placement.offer_ids].append(placement)
        prepared: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for offer_ids, agent_placements in by_agent.items():
            offer = state.offers.get(offer_ids[0])
            if offer is None or not agent_placements:
                continue
            try:
                prepared[offer_ids] = launch_operations(
                    agent_placements,
                    offer,
                    state.framework_id,
                    state.settings.executor_command,
                    state.settings.executor_environment,
                    executor_uri=state.settings.executor_uri,
                )
            except Exception:  # built again when sent, and reported then
                log.exception("building the LAUNCH operations for offer(s) %s failed", ", ".join(offer_ids))
            await asyncio.sleep(0)
        return prepared

    def start(
        self,
        offer_ids: tuple[str, ...],
        placements: list[Placement],
        operations: list[dict[str, Any]] | None = None,
    ) -> PendingAccept:
        """Take the agent's offers and start sending their ACCEPT (``operations`` if prepared)."""
        offer = self._state.offers.take(list(offer_ids))[0]
        sending = asyncio.create_task(self._send(offer, offer_ids, placements, operations))
        return PendingAccept(offer_ids, offer, placements, sending)

    async def _send(
        self,
        offer: Offer,
        offer_ids: tuple[str, ...],
        placements: list[Placement],
        operations: list[dict[str, Any]] | None,
    ) -> None:
        state = self._state
        assert state.mesos is not None and state.framework_id is not None
        if operations is None:
            operations = launch_operations(
                placements,
                offer,
                state.framework_id,
                state.settings.executor_command,
                state.settings.executor_environment,
                executor_uri=state.settings.executor_uri,
            )
        await state.mesos.accept(
            list(offer_ids), operations, refuse_seconds=state.settings.accept_refuse_seconds
        )

    async def settle(self, accepts: list[PendingAccept]) -> None:
        """Wait for the ACCEPTs sent, then deal with each outcome in turn."""
        if not accepts:
            return
        outcomes = await asyncio.gather(*(accept.sending for accept in accepts), return_exceptions=True)
        unexpected: BaseException | None = None
        for accept, outcome in zip(accepts, outcomes, strict=True):
            offer_ids, placements = accept.offer_ids, accept.placements
            if isinstance(outcome, CallRejected | SubscriptionLost):
                # Refused, or never sent: nothing was launched. Like tasks launched on an invalid
                # offer, the shards never started, so they are queued again for the next offers.
                log.warning("ACCEPT of offer(s) %s failed: %s; re-queuing", ", ".join(offer_ids), outcome)
                for placement in placements:
                    task = self._state.running.get(placement.task_id.shard)
                    if task is not None and task.task_id == placement.task_id:
                        await self._task_updates.task_ended(
                            task, "TASK_DROPPED", "REASON_INVALID_OFFERS", str(outcome)
                        )
            elif isinstance(outcome, MesosError):
                # The connection broke: the master may have the ACCEPT. The tasks stay recorded as
                # running and reconciliation settles whether they exist.
                log.warning("ACCEPT of offer(s) %s failed: %s", ", ".join(offer_ids), outcome)
            elif isinstance(outcome, BaseException):
                unexpected = unexpected or outcome
            else:
                log.info(
                    "launched %d task(s) on %s: %s",
                    len(placements),
                    accept.offer.hostname or accept.offer.agent_id,
                    ", ".join(str(p.task_id.shard) for p in placements[:5])
                    + (" ..." if len(placements) > 5 else ""),
                )
                for listener in self.listeners:
                    listener(placements)
        if unexpected is not None:
            raise unexpected
