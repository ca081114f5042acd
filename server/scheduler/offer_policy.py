"""What the core does with the offers it holds once the work that fits has launched.

- Offers are used at once when work waits (matching puts the offers of one agent in one ACCEPT).
  Offers left over while work still waits are declined with a short filter, so fresher, larger
  ones come.
- Offers are kept (at most ``offer_hold_seconds``) only while a cron fire is due within that
  window; otherwise they are declined with a long filter (``decline_refuse_seconds``), and the
  framework SUPPRESSes offers.
- Work waiting (a fire, a trigger, a failover), or a fire due within
  ``revive_lookahead_seconds``, REVIVEs offers: at once when they are suppressed or were declined
  with the long filter, else at most every ``revive_retry_seconds`` while none come. Runs of a
  disabled job (or of an app not known) wait in their queues without asking for offers.
- A call that fails is logged; the next step tries again.
"""

from __future__ import annotations

import logging

from server.mesos.errors import MesosError
from server.scheduler.offers import Offer
from server.scheduler.state import SchedulerState

log = logging.getLogger("server.scheduler")


class OfferPolicy:
    def __init__(self, state: SchedulerState) -> None:
        self._state = state
        self.suppressed = False
        self._last_revive = float("-inf")
        self._long_filters = False  # resources declined with decline_refuse_seconds since REVIVE

    def subscribed(self) -> None:
        """A new subscription: offers flow until suppressed again."""
        self.suppressed = False
        self._last_revive = float("-inf")

    async def manage(self) -> None:
        state = self._state
        mesos = state.mesos
        if mesos is None:
            return
        settings = state.settings
        now = state.clock.monotonic()
        work = state.waiting_work()
        fire_soon = state.fire_within(settings.offer_hold_seconds)
        stale = [offer for offer in state.offers if now - offer.received_at >= settings.offer_hold_seconds]
        if work and len(state.offers):
            # Work that did not fit what we hold: let these go so fresher, larger offers come.
            unused = state.offers.take_all()
            await self._decline(unused, refuse=settings.accept_refuse_seconds)
        elif not work and not fire_soon:
            if await self._decline(state.offers.take_all(), refuse=settings.decline_refuse_seconds):
                self._long_filters = True
        elif stale:
            await self._decline(state.offers.take([o.offer_id for o in stale]), refuse=1.0)
        if work or state.fire_within(settings.revive_lookahead_seconds):
            # Suppressed, or resources declined for long: nothing comes until REVIVE, so send it
            # now. Otherwise offers flow; REVIVE again (to drop short filters) only now and then.
            held_back = self.suppressed or self._long_filters
            retry_due = not len(state.offers) and now - self._last_revive >= settings.revive_retry_seconds
            if held_back or retry_due:
                await self._revive()
        elif not self.suppressed and not fire_soon:
            try:
                await mesos.suppress()
                self.suppressed = True
                log.debug("nothing waits: offers suppressed")
            except MesosError as exc:
                log.warning("SUPPRESS failed: %s", exc)

    async def _revive(self) -> None:
        mesos = self._state.mesos
        assert mesos is not None
        try:
            await mesos.revive()
            self.suppressed = False
            self._long_filters = False
            self._last_revive = self._state.clock.monotonic()
            log.debug("work waits: offers revived")
        except MesosError as exc:
            log.warning("REVIVE failed: %s", exc)

    async def _decline(self, offers: list[Offer], *, refuse: float) -> bool:
        """DECLINE ``offers``; returns whether a DECLINE was sent."""
        mesos = self._state.mesos
        if not offers or mesos is None:
            return False
        try:
            await mesos.decline([o.offer_id for o in offers], refuse_seconds=refuse)
        except MesosError as exc:
            log.warning("DECLINE failed: %s", exc)
            return False
        return True
