"""Matching waiting work to offers: pure, no IO.

Rules (ElasticJob-Cloud's, made explicit):
- FAILOVER shards are placed first, one by one: each that fits launches.
- A READY run launches all of its shards or none of them.
- Offers of one agent (and one role) are pooled: their resources add up, and the tasks placed
  there go in one ACCEPT that names all of them (Mesos accepts several offers of one agent
  together), so the executor a task starts there serves the agent's other tasks of the app.
- Each shard needs the job's cpuCount/memoryMB. The first task of an app on an agent also needs
  the app's cpuCount/memoryMB for its executor (``app@-@agentId@-@version``), unless one of the
  agent's offers says that executor already runs there or an earlier placement in this round
  starts it. The version names the app's current ExecutorInfo: after a change of the app, its
  executors of an earlier version (which keep their own resources, outside the offers) serve no
  new task, and the new one is charged once per agent.
- An app with ``appCacheEnable`` false gets a fresh executor for each launch on each agent
  (``app@-@agentId@-@version@-@launch``, charged its resources, leaving when its tasks end), so every launch
  fetches the app again, as the setting promises; a reused executor would never fetch again.
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
    """One task to launch on one agent, in the ACCEPT of ``offer_ids`` (that agent's offers)."""

    task_id: TaskId
    offer_ids: tuple[str, ...]
    job: JobConfig
    app: AppConfig
    starts_executor: bool
    executor_id: str

    @property
    def offer_id(self) -> str:
        """The first of the agent's offers (the one whose ``allocation_info`` the task copies)."""
        return self.offer_ids[0]


@dataclass(slots=True)
class MatchResult:
    placements: list[Placement] = field(default_factory=list)
    launched_failover: list[ShardRef] = field(default_factory=list)
    launched_ready: list[str] = field(default_factory=list)
    # Work that did not fit; the caller keeps it queued (and may ask for more offers).
    unplaced: int = 0

    def by_accept(self) -> dict[tuple[str, ...], list[Placement]]:
        """Placements grouped by the offers one ACCEPT names (one group per agent), in order."""
        grouped: dict[tuple[str, ...], list[Placement]] = {}
        for placement in self.placements:
            grouped.setdefault(placement.offer_ids, []).append(placement)
        return grouped


@dataclass(slots=True)
class _Capacity:
    """What is left of one agent's pooled offers."""

    agent_id: str
    offer_ids: tuple[str, ...]
    cpus: float
    mem: float
    executors: set[str]


def _pool(offers: Sequence[Offer]) -> list[_Capacity]:
    pooled: dict[tuple[str, str], _Capacity] = {}
    for offer in offers:
        key = (offer.agent_id, offer.role)
        capacity = pooled.get(key)
        if capacity is None:
            pooled[key] = _Capacity(
                offer.agent_id, (offer.offer_id,), offer.cpus, offer.mem, set(offer.executor_ids)
            )
        else:
            capacity.offer_ids += (offer.offer_id,)
            capacity.cpus += offer.cpus
            capacity.mem += offer.mem
            capacity.executors |= offer.executor_ids
    return list(pooled.values())


def match(
    offers: Sequence[Offer],
    failover: Sequence[ShardRef],
    ready: Sequence[str],
    jobs: Mapping[str, JobConfig],
    apps: Mapping[str, AppConfig],
    busy_jobs: set[str],
    new_unique: Callable[[], str],
    executor_version: Callable[[AppConfig], str] | None = None,
) -> MatchResult:
    """Place what fits. ``busy_jobs``: jobs with a task still running (no READY run for them);
    ``executor_version``: the version an app's executors carry in their ids (none without it)."""
    capacities = _pool(offers)
    result = MatchResult()
    busy = set(busy_jobs)

    for shard in failover:
        busy.add(shard.job_name)  # a job with a shard waiting to re-run gets no new READY run
        job = jobs.get(shard.job_name)
        app = apps.get(job.app_name) if job else None
        if job is None or app is None:
            continue
        placed = _place(
            capacities, job, app, [shard.item], ExecutionType.FAILOVER, new_unique, executor_version
        )
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
        placed = _place(capacities, job, app, items, ExecutionType.READY, new_unique, executor_version)
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
    executor_version: Callable[[AppConfig], str] | None,
) -> list[Placement] | None:
    """Place every item or none: changes are logged as they are made and undone if one item does
    not fit (no copy of the capacities per job)."""
    placements: list[Placement] = []
    undo: list[tuple[_Capacity, float, float, str | None]] = []
    launch = None if app.app_cache_enable else new_unique()
    version = executor_version(app) if executor_version is not None else None
    executors: dict[str, str] = {}  # agent -> this app's executor id there
    start = 0  # the items are alike: an agent one did not fit will not fit the next either
    for item in items:
        for index in range(start, len(capacities)):
            capacity = capacities[index]
            executor = executors.get(capacity.agent_id)
            if executor is None:
                executor = executors[capacity.agent_id] = executor_id(
                    app.app_name, capacity.agent_id, launch, version=version
                )
            starts_executor = executor not in capacity.executors
            cpus = job.cpu_count + (app.cpu_count if starts_executor else 0.0)
            mem = job.memory_mb + (app.memory_mb if starts_executor else 0.0)
            if capacity.cpus + EPSILON >= cpus and capacity.mem + EPSILON >= mem:
                undo.append((capacity, capacity.cpus, capacity.mem, executor if starts_executor else None))
                capacity.cpus -= cpus
                capacity.mem -= mem
                if starts_executor:
                    capacity.executors.add(executor)
                task_id = TaskId(job.job_name, item, execution_type, capacity.agent_id, new_unique())
                placements.append(Placement(task_id, capacity.offer_ids, job, app, starts_executor, executor))
                start = index
                break
        else:
            for capacity, cpus, mem, started in reversed(undo):  # exactly as before, in reverse
                capacity.cpus, capacity.mem = cpus, mem
                if started is not None:
                    capacity.executors.discard(started)
            return None
    return placements
