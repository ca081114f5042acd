"""Launching: waiting work matched to the offers on hand, recorded in ZooKeeper, then ACCEPTed.

- A launch is recorded (running nodes created, the run taken off its queue, the job's node
  checked to be the one and version its configuration was read from, all in one transaction)
  *before* the ACCEPT is sent, so a scheduler that dies in between leaves tasks to reconcile,
  never a run that is forgotten or launched twice, and a run planned with a configuration that
  is no longer stored (the job updated, or removed and registered again, through another
  process) never commits: the job is read again and what launches is planned anew.
- Changes are split into transactions small enough for ZooKeeper (the registry's budget, well
  under its 1 MiB request limit). A transaction holds whole units: a READY run with all its
  shards, or one FAILOVER shard. Each commits on its own: one that fails (a race, ZooKeeper away)
  leaves its units queued, and those already committed stand, so nothing is lost or done twice.
  The transactions of a step are sent together; one whose operations assumed an earlier one that
  failed fails in turn.
- An agent's ACCEPT is sent once every transaction holding a task for it has committed, with the
  tasks recorded; the ACCEPTs of a step go concurrently (``accepts``).
- A READY run too large for any one transaction cannot be recorded atomically, so it is never
  launched: it stays queued, reported as an error.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from server.domain.task import ExecutionType, ShardRef, TaskId
from server.registry.failover import FailoverEntry, FailoverQueue
from server.registry.state_transactions import StateTransactions
from server.registry.transaction_ops import TRANSACTION_LIMIT, TransactionOps
from server.scheduler.accepts import Accepts, PendingAccept
from server.scheduler.job_reads import JobReads
from server.scheduler.matching import MatchResult, Placement, match
from server.scheduler.ready_runs import ReadyRuns
from server.scheduler.state import TRANSACTION_ATTEMPTS, ReadyEntry, SchedulerState, TrackedTask

log = logging.getLogger("server.scheduler")


@dataclass(slots=True)
class LaunchUnit:
    """What one transaction records whole: a READY run with all its shards (``shard`` None) or
    one FAILOVER shard. ``task_ids``: the placements' task ids; ``ready_entry``: a READY run's
    count before the launch (its version None: no node yet, the run comes from a fire not
    written); ``ops``: its operations."""

    job_name: str
    placements: list[Placement]
    task_ids: list[TaskId]
    shard: ShardRef | None = None
    ready_entry: ReadyEntry = (0, None)
    ops: TransactionOps | None = None


class Launcher:
    def __init__(
        self,
        state: SchedulerState,
        transactions: StateTransactions,
        job_reads: JobReads,
        failover: FailoverQueue,
        ready_runs: ReadyRuns,
        accepts: Accepts,
        new_unique: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self._state = state
        self._transactions = transactions
        self._job_reads = job_reads
        self._failover = failover
        self._ready_runs = ready_runs
        self._accepts = accepts
        self._new_unique = new_unique

    async def launch(self) -> None:
        """Match waiting work to the offers on hand, record the launches, then ACCEPT."""
        state = self._state
        if (
            state.mesos is None
            or state.framework_id is None
            or not len(state.offers)
            or not state.waiting_work()
        ):
            return
        for _ in range(TRANSACTION_ATTEMPTS):
            result = self.match()
            if not result.placements:
                return
            lost = await self.record_and_accept(result)
            if not lost:
                return
            # Their queues or parent nodes are not as memory says, or the job changed: re-read.
            await self.reread_after_race(lost)

    def match(self, fired: Mapping[str, ReadyEntry] | None = None) -> MatchResult:
        """Match the queues (and ``fired``: jobs with a fire not yet written, and the ready entry it
        makes) to the offers on hand."""
        state = self._state
        failover = state.due_failover()
        entries: dict[str, ReadyEntry] = dict(state.ready)
        entries.update(fired or {})
        ready = [name for name, (count, _) in entries.items() if count > 0 and state.launchable(name)]
        busy = {shard.job_name for shard in state.running}
        return match(
            list(state.offers),
            failover,
            ready,
            state.jobs,
            state.apps,
            busy,
            self._new_unique,
            state.executor_versions.of,
        )

    async def record_and_accept(
        self,
        result: MatchResult,
        fired: Mapping[str, ReadyEntry] | None = None,
        launched: Callable[[list[str]], None] | None = None,
    ) -> dict[str, LaunchUnit]:
        """Record the placements in transactions within the budget, committed one after another,
        and ACCEPT each agent's offers with its recorded tasks as soon as no later transaction
        holds a task for that agent (the ACCEPTs go concurrently). ``fired``: ready entries of
        fires not written (their runs are recorded by their launch); ``launched`` hears the jobs
        whose READY run a transaction recorded. Returns the units of the jobs whose transaction
        lost a race, by job: their work stays queued."""
        entries: dict[str, ReadyEntry] = dict(self._state.ready)
        entries.update(fired or {})
        chunks = self._launch_chunks(_launch_units(result, entries))
        last_chunk: dict[tuple[str, ...], int] = {}
        for index, chunk in enumerate(chunks):
            for unit in chunk:
                for placement in unit.placements:
                    last_chunk[placement.offer_ids] = index
        recorded: dict[tuple[str, ...], list[Placement]] = {}
        accepts: list[PendingAccept] = []
        lost: dict[str, LaunchUnit] = {}
        failure: BaseException | None = None
        # All transactions go out at once (ZooKeeper applies them in order, each on its own); while
        # it works, the operations of the ACCEPTs the next one completes are built, and those
        # ACCEPTs go as soon as it has committed. A transaction whose operations assumed an earlier
        # one that failed (a job split over both) fails in turn, so none is applied wrongly.
        commits = [asyncio.ensure_future(self._commit_units(chunk)) for chunk in chunks]
        try:
            for index, (chunk, commit) in enumerate(zip(chunks, commits, strict=True)):
                completed = [ids for ids, at in last_chunk.items() if at == index]
                await asyncio.sleep(0)  # let the transactions be sent first
                prepared = (
                    await self._accepts.prepare([unit.placements for unit in chunk], recorded, completed)
                    if failure is None
                    else {}
                )
                try:
                    committed = await commit
                except Exception as exc:  # ZooKeeper away: the later transactions are still settled
                    failure = failure or exc
                    committed = False
                if committed:
                    self._apply_units(chunk)
                    if launched is not None:
                        launched([unit.job_name for unit in chunk if unit.shard is None])
                    for unit in chunk:
                        for placement in unit.placements:
                            recorded.setdefault(placement.offer_ids, []).append(placement)
                else:
                    lost.update((unit.job_name, unit) for unit in chunk)
                    prepared = {}
                for offer_ids in [ids for ids in recorded if last_chunk[ids] == index]:
                    placements = recorded.pop(offer_ids)
                    accepts.append(self._accepts.start(offer_ids, placements, prepared.get(offer_ids)))
        finally:
            for commit in commits:  # only when cancelled: nothing waits for them any more
                commit.cancel()
            # Whatever was recorded is launched, even when a transaction raised.
            accepts += [self._accepts.start(ids, placements) for ids, placements in recorded.items()]
            await self._accepts.settle(accepts)
        if failure is not None:
            raise failure
        return lost

    def _launch_chunks(self, units: list[LaunchUnit]) -> list[list[LaunchUnit]]:
        """Build each unit's operations (parent nodes as memory says, each unit seeing those
        before it) and group the units into transactions within the budget."""
        parents = self._state.parents({unit.job_name for unit in units})
        stamps = self._state.job_stamps
        budget = self._transactions.budget
        chunks: list[list[LaunchUnit]] = []
        size = 0
        launch_ops = self._transactions.launch_ops
        for unit in units:
            ops = unit.ops = launch_ops(
                unit.job_name,
                unit.task_ids,
                parents,
                taken_from=unit.ready_entry if unit.shard is None else unit.shard,
                stamp=stamps.get(unit.job_name),
            )
            if ops.size > TRANSACTION_LIMIT:
                self._state.unrecordable.add(unit.job_name)
                log.error(
                    "the READY run of job %s (%d shards) needs %d bytes of ZooKeeper operations, more "
                    "than one transaction can hold (%d): it cannot be recorded atomically, so it is "
                    "not launched and stays queued; lower its shardingTotalCount",
                    unit.job_name,
                    len(unit.placements),
                    ops.size,
                    TRANSACTION_LIMIT,
                )
                continue
            if chunks and size + ops.size <= budget:
                chunks[-1].append(unit)
                size += ops.size
            else:
                chunks.append([unit])
                size = ops.size
        return chunks

    async def _commit_units(self, units: list[LaunchUnit]) -> bool:
        """Commit one transaction of units; when it fails and the parent nodes in ZooKeeper are not
        as memory says, once more with what is there. Returns whether it committed."""
        result = await self._transactions.commit([u.ops for u in units if u.ops])
        if result.committed:
            return True
        involved = {unit.job_name for unit in units}
        stored = await self._transactions.parents(involved)
        if stored != self._state.parents(involved):
            parents = stored.copy()
            stamps = self._state.job_stamps
            for unit in units:
                unit.ops = self._transactions.launch_ops(
                    unit.job_name,
                    unit.task_ids,
                    parents,
                    taken_from=unit.ready_entry if unit.shard is None else unit.shard,
                    stamp=stamps.get(unit.job_name),
                )
            result = await self._transactions.commit([u.ops for u in units if u.ops])
            if result.committed:
                return True
        log.info(
            "launch transaction lost a race (%s) for %s; re-reading their queues",
            result.error,
            ", ".join(sorted(involved)[:10]) + (" ..." if len(involved) > 10 else ""),
        )
        return False

    def _apply_units(self, units: list[LaunchUnit]) -> None:
        state = self._state
        running, ready = state.running, state.ready
        for unit in units:
            job_name = unit.job_name
            state.touch(job_name)
            for placement in unit.placements:
                running[placement.task_id.shard] = TrackedTask(placement.task_id)
            if unit.shard is None:
                count, version = unit.ready_entry
                if count - 1 > 0:
                    ready[job_name] = (count - 1, 0 if version is None else version + 1)
                else:
                    ready.pop(job_name, None)
            else:
                text = state.failover.pop(unit.shard, None)
                if text is not None:
                    state.failover_attempts[unit.shard] = FailoverEntry.decode(text).attempts

    async def reread_after_race(self, lost: dict[str, LaunchUnit]) -> list[str]:
        """Re-read the queues of the units whose transaction failed and their jobs (a job gone is
        dropped, a changed one takes the stored configuration: ``JobReads.refresh``). Returns the
        jobs whose configuration changed (an idle DAEMON one among them is queued)."""
        state = self._state
        ready = [name for name, unit in lost.items() if unit.shard is None]
        if ready:
            await self._ready_runs.reload(ready)
        failing = sorted(name for name, unit in lost.items() if unit.shard is not None)
        if failing:
            stored = await self._failover.load_jobs(failing)
            kept = {s: t for s, t in state.failover.items() if s.job_name not in failing}
            state.failover = dict(sorted((kept | stored).items()))
            for name in failing:
                state.touch(name)
        replaced = await self._job_reads.refresh(list(lost))
        idle_daemons = state.idle_daemons(state.jobs[name] for name in replaced if name in state.jobs)
        if idle_daemons:
            await self._ready_runs.add(idle_daemons)
        return replaced


def _launch_units(result: MatchResult, ready: Mapping[str, ReadyEntry]) -> list[LaunchUnit]:
    """The placements as units, in placement order: each FAILOVER shard, each READY run whole
    (with the ready entry it comes from)."""
    units: list[LaunchUnit] = []
    runs: dict[str, LaunchUnit] = {}
    for placement in result.placements:
        task_id = placement.task_id
        if task_id.execution_type is ExecutionType.FAILOVER:
            units.append(LaunchUnit(task_id.job_name, [placement], [task_id], task_id.shard))
            continue
        run = runs.get(task_id.job_name)
        if run is None:
            run = runs[task_id.job_name] = LaunchUnit(
                task_id.job_name, [], [], ready_entry=ready[task_id.job_name]
            )
            units.append(run)
        run.placements.append(placement)
        run.task_ids.append(task_id)
    return units
