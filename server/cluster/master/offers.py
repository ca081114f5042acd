"""The master's offers: what is free on the agent, who is offered it, and for how long.

All free resources of the agent go to one (framework, role) at a time, chosen by the
:class:`~server.cluster.master.allocator.Allocator`. Allocation runs soon after anything frees or
changes (:meth:`OfferBook.request_allocation`), when a filter expires, and at least every
``allocation_interval``. With an ``offer_timeout`` (none by default, as Mesos), an offer not used
within it is rescinded. Resources of live tasks and executors (scalars and port ranges alike) are
not offered again until they end.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Iterable, Mapping

from server.cluster.agent.core import Agent
from server.cluster.master.allocator import Allocator, Candidate
from server.cluster.master.records import Framework, Offer
from server.cluster.resources import Resources
from server.cluster.settings import MasterSettings
from server.mesos.events import offer_json, offers_event, rescind_event

__all__ = ["OfferBook"]

logger = logging.getLogger("server.cluster.master")


class OfferBook:
    """Outstanding offers, the allocator's filters and suppressions, and the timers of both."""

    def __init__(
        self, settings: MasterSettings, agent: Agent, frameworks: Mapping[str, Framework], master_id: str
    ) -> None:
        self._settings = settings
        self._agent = agent
        self._frameworks = frameworks
        self._master_id = master_id
        self._counter = itertools.count(1)
        self._allocator = Allocator()
        self._pending = False
        self._expiry_timer: asyncio.TimerHandle | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._stopped = False

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._allocator = Allocator(clock=loop.time)
        self._ticker = asyncio.create_task(self._allocation_ticker(), name="master-allocation")

    def stop(self) -> None:
        """Stop allocating (outstanding offers stay until :meth:`drop`)."""
        self._stopped = True
        if self._ticker is not None:
            self._ticker.cancel()
        if self._expiry_timer is not None:
            self._expiry_timer.cancel()

    def used_resources(self) -> Resources:
        used = Resources()
        for framework in self._frameworks.values():
            used = used + framework.used_resources()
        return used

    def offered_resources(self) -> Resources:
        offered = Resources()
        for framework in self._frameworks.values():
            offered = offered + framework.offered_resources()
        return offered

    def available_resources(self) -> Resources:
        return self._agent.resources - self.used_resources() - self.offered_resources()

    def suppressed_roles(self, framework_id: str) -> list[str]:
        return sorted(self._allocator.suppressed_roles(framework_id))

    def take(self, framework: Framework, offer_ids: list[str]) -> tuple[list[Offer], str | None]:
        """Use the named offers (for an ACCEPT): they are no longer outstanding. Returns those that
        were valid, and why the set is not valid (none, duplicates, an unknown one) if it is not."""
        problem: str | None = None
        if not offer_ids:
            problem = "No offers specified"
        elif len(set(offer_ids)) != len(offer_ids):
            problem = "Duplicate offer ids"
        else:
            unknown = [offer_id for offer_id in offer_ids if offer_id not in framework.offers]
            if unknown:
                problem = f"Offer {unknown[0]} is no longer valid"
        offers = [framework.offers.pop(offer_id) for offer_id in offer_ids if offer_id in framework.offers]
        for taken in offers:
            taken.cancel_timer()
        return offers, problem

    def decline(self, framework: Framework, offer_ids: Iterable[str], refuse_seconds: float | None) -> None:
        for offer_id in offer_ids:
            declined = framework.offers.pop(offer_id, None)
            if declined is None:
                logger.info("ignoring DECLINE of unknown offer %s", offer_id)
                continue
            declined.cancel_timer()
            self._allocator.refuse(framework.framework_id, declined.role, declined.resources, refuse_seconds)
        self.request_allocation()

    def refuse(
        self, framework: Framework, role: str, resources: Resources, refuse_seconds: float | None
    ) -> None:
        """Withhold what an ACCEPT left unused from the framework's role."""
        self._allocator.refuse(framework.framework_id, role, resources, refuse_seconds)

    def revive(self, framework: Framework, roles: tuple[str, ...]) -> None:
        self._allocator.revive(framework.framework_id, roles or framework.roles)
        self.request_allocation()

    def suppress(self, framework: Framework, roles: tuple[str, ...]) -> None:
        self._allocator.suppress(framework.framework_id, roles or framework.roles)

    def drop(self, framework: Framework, *, notify: bool) -> None:
        """Withdraw every outstanding offer of the framework (``notify``: with RESCIND events)."""
        for outstanding in framework.offers.values():
            outstanding.cancel_timer()
            if notify:
                framework.send(rescind_event(outstanding.offer_id))
        framework.offers.clear()

    def forget(self, framework_id: str) -> None:
        """The framework was removed: drop its filters and suppressions."""
        self._allocator.remove_framework(framework_id)

    def request_allocation(self) -> None:
        """Allocate soon (once, however often this is called before it runs)."""
        if self._pending or self._stopped:
            return
        self._pending = True
        asyncio.get_running_loop().call_soon(self._allocate)

    def _allocate(self) -> None:
        self._pending = False
        if self._stopped:
            return
        available = self.available_resources()
        candidates = [
            Candidate(
                framework_id=framework.framework_id,
                roles=framework.roles,
                held=framework.used_resources() + framework.offered_resources(),
                order=framework.order,
            )
            for framework in self._frameworks.values()
            if framework.connected
        ]
        choice = self._allocator.choose(available, self._agent.resources, candidates) if candidates else None
        if choice is not None:
            framework_id, role = choice
            self._offer(self._frameworks[framework_id], role, available)
        self._schedule_filter_expiry()

    def _schedule_filter_expiry(self) -> None:
        expiry = self._allocator.next_expiry()
        if self._expiry_timer is not None:
            self._expiry_timer.cancel()
            self._expiry_timer = None
        if expiry is not None:
            loop = asyncio.get_running_loop()
            self._expiry_timer = loop.call_at(expiry + 0.001, self.request_allocation)

    async def _allocation_ticker(self) -> None:
        while True:
            await asyncio.sleep(self._settings.allocation_interval)
            self.request_allocation()

    def _offer(self, framework: Framework, role: str, resources: Resources) -> None:
        offer_id = f"{self._master_id}-O{next(self._counter)}"
        outstanding = Offer(offer_id, framework.framework_id, role, resources, created_at=time.time())
        framework.offers[offer_id] = outstanding
        if self._settings.offer_timeout is not None:
            loop = asyncio.get_running_loop()
            outstanding.timer = loop.call_later(
                self._settings.offer_timeout, self._offer_timed_out, framework, offer_id
            )
        agent = self._agent
        body = offer_json(
            offer_id=offer_id,
            framework_id=framework.framework_id,
            agent_id=agent.agent_id,
            hostname=agent.hostname,
            agent_ip=agent.host,
            agent_port=agent.port,
            resources=resources.to_json(allocation_role=role if framework.multi_role else None),
            executor_ids=framework.executors,
            allocation_role=role if framework.multi_role else None,
        )
        logger.debug("offering %s to framework %s (%s)", resources, framework.framework_id, offer_id)
        framework.send(offers_event([body]))

    def _offer_timed_out(self, framework: Framework, offer_id: str) -> None:
        if framework.offers.pop(offer_id, None) is None:
            return
        logger.info("rescinding offer %s of framework %s: not used in time", offer_id, framework.framework_id)
        framework.send(rescind_event(offer_id))
        self.request_allocation()
