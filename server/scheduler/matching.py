"""Matching waiting work to offers: pure, no IO.

Rules (ElasticJob-Cloud's, made explicit):
- FAILOVER shards are placed first, one by one: each that fits launches.
- A READY run launches all of its shards or none of them.
- Each shard needs the job's cpuCount/memoryMB. The first task of an app on an agent also needs
  the app's cpuCount/memoryMB for its executor (``app@-@agentId``), unless the offer says that
  executor already runs there or an earlier placement in this round starts it.
- A job with a task still running (or just placed) gets no second READY run at the same time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from server.domain.app import AppConfig
from server.domain.job import JobConfig
from server.domain.task import ExecutionType, ShardRef, TaskId, executor_id
from server.scheduler.offers import Offer

EPSILON = 1e-9


@dataclass(frozen=True, slots=True)
class Placement:
    """One task to launch on one offer."""

    task_id: TaskId
    offer_id: str
    job: JobConfig
    app: AppConfig
    starts_executor: bool


@dataclass(slots=True)
class MatchResult:
    placements: list[Placement] = field(default_factory=list)
    launched_failover: list[ShardRef] = field(default_factory=list)
    launched_ready: list[str] = field(default_factory=list)
    # Work that did not fit; the caller keeps it queued (and may ask for more offers).
    unplaced: int = 0

    def by_offer(self) -> dict[str, list[Placement]]:
        grouped: dict[str, list[Placement]] = {}
        for placement in self.placements:
            grouped.setdefault(placement.offer_id, []).append(placement)
        return grouped


@dataclass(slots=True)
class _Capacity:
    offer: Offer
    cpus: float
    mem: float
    executors: set[str]


def match(
    offers: Sequence[Offer],
    failover: Sequence[ShardRef],
    ready: Sequence[str],
    jobs: Mapping[str, JobConfig],
    apps: Mapping[str, AppConfig],
    busy_jobs: set[str],
    new_unique: Callable[[], str],
) -> MatchResult:
    """Place what fits. ``busy_jobs``: jobs with a task still running (no READY run for them)."""
    capacities = [_Capacity(o, o.cpus, o.mem, set(o.executor_ids)) for o in offers]
    result = MatchResult()
    busy = set(busy_jobs)

    for shard in failover:
        busy.add(shard.job_name)  # a job with a shard waiting to re-run gets no new READY run
        job = jobs.get(shard.job_name)
        app = apps.get(job.app_name) if job else None
        if job is None or app is None:
            continue
        placed = _place(capacities, job, app, [shard.item], ExecutionType.FAILOVER, new_unique)
        if placed is None:
            result.unplaced += 1
            continue
        result.placements.extend(placed)
        result.launched_failover.append(shard)

    for job_name in ready:
        job = jobs.get(job_name)
        app = apps.get(job.app_name) if job else None
        if job is None or app is None or job_name in busy:
            continue
        items = list(range(job.sharding_total_count))
        placed = _place(capacities, job, app, items, ExecutionType.READY, new_unique)
        if placed is None:
            result.unplaced += 1
            continue
        result.placements.extend(placed)
        result.launched_ready.append(job_name)
        busy.add(job_name)
    return result


def _place(
    capacities: list[_Capacity],
    job: JobConfig,
    app: AppConfig,
    items: list[int],
    execution_type: ExecutionType,
    new_unique: Callable[[], str],
) -> list[Placement] | None:
    """Place every item or none: work on copies and commit only when all fit."""
    trial = [_Capacity(c.offer, c.cpus, c.mem, set(c.executors)) for c in capacities]
    placements: list[Placement] = []
    for item in items:
        for capacity in trial:
            executor = executor_id(app.app_name, capacity.offer.agent_id)
            starts_executor = executor not in capacity.executors
            cpus = job.cpu_count + (app.cpu_count if starts_executor else 0.0)
            mem = job.memory_mb + (app.memory_mb if starts_executor else 0.0)
            if capacity.cpus + EPSILON >= cpus and capacity.mem + EPSILON >= mem:
                capacity.cpus -= cpus
                capacity.mem -= mem
                capacity.executors.add(executor)
                task_id = TaskId(job.job_name, item, execution_type, capacity.offer.agent_id, new_unique())
                placements.append(Placement(task_id, capacity.offer.offer_id, job, app, starts_executor))
                break
        else:
            return None
    for original, tried in zip(capacities, trial, strict=True):
        original.cpus, original.mem, original.executors = tried.cpus, tried.mem, tried.executors
    return placements
