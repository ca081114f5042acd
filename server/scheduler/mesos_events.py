"""The Mesos client's handler protocol, adapted onto the scheduler core.

A subscription stores the framework id the master gave (so a successor subscribes as the same
framework) before the core hears of it; every other event goes to the core, which has handled it
when the handler returns (an update is recorded before the client acknowledges it).
"""

from __future__ import annotations

import logging
from typing import Any

from server.mesos.client import MesosSchedulerClient
from server.registry.framework import FrameworkIdStore
from server.scheduler.core import SchedulerCore

log = logging.getLogger("server.scheduler")


class MesosEvents:
    """The handler of one ``MesosSchedulerClient`` (set ``client`` before it runs). ``removed``
    tells whether the master said the framework was removed (it must register anew)."""

    def __init__(self, core: SchedulerCore, store: FrameworkIdStore) -> None:
        self.core = core
        self.store = store
        self.client: MesosSchedulerClient | None = None
        self.removed = False

    async def on_subscribed(self, framework_id: str, heartbeat_interval: float) -> None:
        await self.store.put(framework_id)
        assert self.client is not None
        await self.core.subscribed(self.client, framework_id)  # type: ignore[arg-type]
        log.info("subscribed to Mesos as framework %s (heartbeat %.0fs)", framework_id, heartbeat_interval)

    async def on_offers(self, offers: list[dict[str, Any]]) -> None:
        await self.core.offers_received(offers)

    async def on_rescind(self, offer_id: str) -> None:
        await self.core.offer_rescinded(offer_id)

    async def on_update(self, status: dict[str, Any]) -> None:
        await self.core.status_update(status)

    async def on_message(self, agent_id: str, executor_id: str, data: bytes) -> None:
        if not self.core.executor_message(agent_id, executor_id, data):
            log.info(
                "message from executor %s on %s: %s",
                executor_id,
                agent_id,
                data[:200].decode(errors="replace"),
            )

    async def on_failure(self, agent_id: str | None, executor_id: str | None, status: int | None) -> None:
        log.warning("Mesos reports failure: agent %s executor %s status %s", agent_id, executor_id, status)

    async def on_error(self, message: str) -> None:
        log.error("Mesos master sent ERROR: %s", message)
        self.removed = "removed" in message.lower()

    async def on_disconnected(self) -> None:
        await self.core.disconnected()

    async def tasks_to_reconcile(self) -> list[tuple[str, str | None]]:
        return self.core.tasks_to_reconcile()

    async def on_unanswered(self, task_ids: list[str]) -> None:
        await self.core.tasks_unanswered(task_ids)
