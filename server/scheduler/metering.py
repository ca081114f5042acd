"""The scheduler core's metrics (:mod:`server.telemetry.metrics`): fires and their lateness, launches
and the fire → launch delay, task states, and the Mesos calls that manage offers.

:class:`SchedulerMeter` hears the core's events; :class:`MeteredMesosCalls` wraps the core's
Mesos calls to count declines, suppressions and revives as they are sent. A core's queue sizes
are read at scrape time (:meth:`SchedulerMeter.gauges`): only ``len()`` of its dictionaries, which
is safe from the scraping thread. Nothing here waits or does IO.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from server.domain.task import ExecutionType
from server.scheduler.matching import Placement
from server.scheduler.state import MesosCalls, SchedulerState
from server.scheduler.timers import Fire
from server.telemetry import metrics

__all__ = ["MeteredMesosCalls", "SchedulerMeter"]


class SchedulerMeter:
    """See the module docstring; ``suppressed`` tells whether offers are suppressed now."""

    def __init__(self, state: SchedulerState) -> None:
        self._state = state
        #: job → monotonic time of its earliest fire not launched yet, and the creation zxid of
        #: the job's node then (a job registered again under the name is another job).
        self._fired_at: dict[str, tuple[float, int | None]] = {}
        self.suppressed: Callable[[], bool] = lambda: False
        metrics.follow_scheduler(self)

    def fired(self, fires: Iterable[Fire], now: datetime) -> None:
        """Fires taken from the timers at ``now``."""
        taken = self._state.clock.monotonic()
        jobs = self._state.jobs
        for fire in fires:
            job = jobs.get(fire.job_name)
            if job is None or job.is_daemon or not fire.count:
                continue
            metrics.FIRES.inc(fire.count)
            metrics.FIRE_LATENESS.observe(max(0.0, (now - fire.scheduled_at).total_seconds()))
            self._fired_at.setdefault(fire.job_name, (taken, self._created(fire.job_name)))

    def launched(self, placements: list[Placement]) -> None:
        """The master took an ACCEPT of these tasks."""
        now = self._state.clock.monotonic()
        counts = {ExecutionType.READY: 0, ExecutionType.FAILOVER: 0}
        for placement in placements:
            task_id = placement.task_id
            counts[task_id.execution_type] += 1
            if task_id.execution_type is ExecutionType.READY:
                fired = self._fired_at.pop(task_id.job_name, None)
                if fired is not None and fired[1] == self._created(task_id.job_name):
                    metrics.FIRE_TO_LAUNCH.observe(max(0.0, now - fired[0]))
        for execution_type, count in counts.items():
            if count:
                metrics.LAUNCHES.labels(execution_type.value).inc(count)

    def _created(self, job_name: str) -> int | None:
        stamp = self._state.job_stamps.get(job_name)
        return None if stamp is None else stamp.created

    def job_removed(self, job_name: str) -> None:
        self._fired_at.pop(job_name, None)

    @staticmethod
    def status(state: str, reason: str) -> None:
        """A task reached ``state`` (an update received, or an end the scheduler decided)."""
        metrics.TASK_STATUS_UPDATES.labels(state, reason or "NONE").inc()

    def gauges(self) -> Mapping[str, float]:
        state = self._state
        return {
            "elasticjob_ready_jobs": len(state.ready),
            "elasticjob_failover_shards": len(state.failover),
            "elasticjob_running_tasks": len(state.running),
            "elasticjob_offers_held": len(state.offers),
            "elasticjob_offers_suppressed": 1.0 if self.suppressed() else 0.0,
        }

    def close(self) -> None:
        """This core no longer schedules: its gauges are no longer reported."""
        metrics.forget_scheduler(self)


class MeteredMesosCalls:
    """``MesosCalls`` that count the offer calls they pass on."""

    def __init__(self, inner: MesosCalls) -> None:
        self.inner = inner

    async def accept(
        self,
        offer_ids: Sequence[str],
        operations: Sequence[dict[str, Any]],
        refuse_seconds: float | None = None,
    ) -> None:
        await self.inner.accept(offer_ids, operations, refuse_seconds)

    async def decline(self, offer_ids: Sequence[str], refuse_seconds: float | None = None) -> None:
        await self.inner.decline(offer_ids, refuse_seconds)
        metrics.OFFERS_DECLINED.inc(len(offer_ids))

    async def revive(self, roles: Sequence[str] | None = None) -> None:
        await self.inner.revive(roles)
        metrics.OFFER_REVIVES.inc()

    async def suppress(self, roles: Sequence[str] | None = None) -> None:
        await self.inner.suppress(roles)
        metrics.OFFER_SUPPRESSIONS.inc()

    async def kill(self, task_id: str, agent_id: str | None = None) -> None:
        await self.inner.kill(task_id, agent_id)

    async def shutdown(self, executor_id: str, agent_id: str) -> None:
        await self.inner.shutdown(executor_id, agent_id)
