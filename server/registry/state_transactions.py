"""Transactions over the scheduler's state nodes: a launch (the tasks' running nodes created and
their run taken off the ready or failover queue, the job's node checked to be the one the
launch was planned with), the end of a task (its
running node removed, the shard queued for failover or the job's run queued again), ready counts.
Each is built ahead as one ``TransactionOps`` by the repositories of the node families it touches,
so the caller can size and group them within ``budget``, and is committed whole.

What survives a lost session: every node is persistent and a transaction applies whole or not at
all. ``commit`` says whether it applied, or raises ``RegistryUnavailable`` when ZooKeeper is away
or the answer was lost with the connection (the caller cannot tell which, so it re-reads).

A job's parent nodes (``/state/running/{job}``, ``/state/failover/{job}``) are created with its
first child and deleted with its last, in the same transaction, so operations depend on what lies
under them. ``ParentNodes`` says what a transaction assumes; an assumption that does not hold
makes the transaction fail, never apply wrongly.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from kazoo.exceptions import RolledBackError

from server.domain.task import ShardRef, TaskId
from server.registry.failover import FailoverQueue
from server.registry.jobs import JobRepository, JobStamp
from server.registry.ready import ReadyQueue
from server.registry.running import RunningTasks
from server.registry.transaction_ops import TransactionOps
from server.registry.zookeeper import ZooKeeper


@dataclass(slots=True)
class ParentNodes:
    """What transactions assume lies under ``/state/running/{job}`` and ``/state/failover/{job}``
    for the jobs they touch: job -> child names; a job missing from a map has no node there.

    Taken from the caller's memory first (``of``). When a transaction fails it is read from
    ZooKeeper instead (``StateTransactions.parents``), which also copes with parents another
    scheduler left behind (ElasticJob-Cloud 3.0 removes a job's last child and then the empty
    parent in two steps)."""

    running: dict[str, set[str]] = field(default_factory=dict)
    failover: dict[str, set[str]] = field(default_factory=dict)

    @classmethod
    def of(
        cls, job_names: Collection[str], running: Iterable[ShardRef], failover: Iterable[ShardRef]
    ) -> ParentNodes:
        """The parents of ``job_names`` holding the ``running`` and ``failover`` shards."""
        parents = cls()
        for shard in running:
            if shard.job_name in job_names:
                parents.running.setdefault(shard.job_name, set()).add(str(shard))
        for shard in failover:
            if shard.job_name in job_names:
                parents.failover.setdefault(shard.job_name, set()).add(str(shard))
        return parents

    def copy(self) -> ParentNodes:
        return ParentNodes(
            {job: set(children) for job, children in self.running.items()},
            {job: set(children) for job, children in self.failover.items()},
        )


@dataclass(frozen=True, slots=True)
class CommitResult:
    """Whether a transaction applied; when not, the error of the operation that failed it (the
    name of its kazoo exception class, "unknown" when every operation was merely rolled back)."""

    committed: bool
    error: str = ""


@dataclass(frozen=True, slots=True)
class ReadyBatch:
    """One transaction of ready counts and the jobs it holds."""

    ops: TransactionOps
    names: set[str]


class StateTransactions:
    def __init__(
        self,
        zookeeper: ZooKeeper,
        *,
        jobs: JobRepository,
        ready: ReadyQueue,
        running: RunningTasks,
        failover: FailoverQueue,
    ) -> None:
        self._zk = zookeeper
        self._jobs = jobs
        self._ready = ready
        self._running = running
        self._failover = failover

    @property
    def budget(self) -> int:
        """Bytes of operations a caller puts in one transaction when it can split its changes."""
        return self._zk.transaction_budget

    def launch_ops(
        self,
        job_name: str,
        task_ids: Iterable[TaskId],
        parents: ParentNodes,
        *,
        taken_from: tuple[int, int | None] | ShardRef,
        stamp: JobStamp | None = None,
    ) -> TransactionOps:
        """Operations recording a launch of ``job_name``'s ``task_ids``: the job's node still there
        (with ``stamp``: still the node and version the launch was planned with), a running node
        per task, and the run taken off its queue: ``taken_from`` is the READY run's
        ``(runs, node version)`` before the launch (version None: no node yet), or the FAILOVER
        shard.
        ``parents`` is updated to what the operations leave, so later launches built with it see
        them (several shards of one job may launch at once)."""
        ops = self._zk.transaction_ops()
        self._jobs.check_ops(ops, job_name, stamp)
        running = parents.running.get(job_name)
        exists = running is not None
        if running is None:
            running = parents.running[job_name] = set()
        for task_id in task_ids:
            self._running.create_ops(ops, task_id, job_node_exists=exists)
            exists = True
            running.add(str(task_id.shard))
        if isinstance(taken_from, ShardRef):
            # The job's failover node goes with the last of its shards.
            waiting = parents.failover.setdefault(job_name, set())
            waiting.discard(str(taken_from))
            self._failover.delete_ops(ops, taken_from, last_of_job=not waiting)
        else:
            runs, version = taken_from
            self._ready.set_ops(ops, job_name, runs - 1, version)
        return ops

    def end_ops(
        self,
        shard: ShardRef,
        parents: ParentNodes,
        *,
        failover_entry: str,
        requeue_failover: bool,
        requeue_ready: bool,
    ) -> TransactionOps:
        """Operations recording the end of ``shard``'s task (the job's node still there): its running node removed (the job's
        with the last), with ``requeue_failover`` the shard queued for failover (unless it already
        is, with ``failover_entry`` as its node's text), with ``requeue_ready`` one run of the job queued (the job has no ready node)."""
        ops = self._zk.transaction_ops()
        self._jobs.check_ops(ops, shard.job_name)  # nothing is queued for a job removed meanwhile
        name = str(shard)
        running = parents.running.get(shard.job_name, set())
        self._running.delete_ops(ops, shard, last_of_job=len(running) - (name in running) == 0)
        waiting = parents.failover.get(shard.job_name)
        if requeue_failover and (waiting is None or name not in waiting):
            self._failover.create_ops(ops, shard, failover_entry, job_node_exists=waiting is not None)
        if requeue_ready:
            self._ready.set_ops(ops, shard.job_name, 1, None)
        return ops

    def ready_ops(
        self, changes: Mapping[str, tuple[int, int | None]], stamps: Mapping[str, JobStamp]
    ) -> list[ReadyBatch]:
        """Operations making each job's ready node hold its count (``changes``: job -> ``(runs,
        node version)``, version None: create it; ``ReadyQueue.set_ops``), each with its job's
        node checked against its stamp in ``stamps`` (the runs come from that configuration), in
        transactions within the budget."""
        batches: list[ReadyBatch] = []
        budget = self.budget
        for name, (count, version) in changes.items():
            if not batches or batches[-1].ops.size >= budget:
                batches.append(ReadyBatch(self._zk.transaction_ops(), set()))
            self._jobs.check_ops(batches[-1].ops, name, stamps.get(name))
            self._ready.set_ops(batches[-1].ops, name, count, version)
            batches[-1].names.add(name)
        return batches

    async def commit(self, parts: Sequence[TransactionOps]) -> CommitResult:
        """Commit the operations of ``parts`` as one transaction."""
        results = await self._zk.acommit(functools.partial(_replay, parts))
        failures = [result for result in results if isinstance(result, Exception)]
        if not failures:
            return CommitResult(committed=True)
        causes = [type(failure).__name__ for failure in failures if not isinstance(failure, RolledBackError)]
        return CommitResult(committed=False, error=causes[0] if causes else "unknown")

    async def parents(self, job_names: Iterable[str]) -> ParentNodes:
        """The parent nodes of ``job_names`` as ZooKeeper has them."""
        names = sorted(job_names)
        running, failover = await asyncio.gather(
            self._running.children(names), self._failover.children(names)
        )
        return ParentNodes(running, failover)


def _replay(parts: Sequence[TransactionOps], transaction: TransactionOps) -> None:
    """Fill a transaction with operations built beforehand."""
    for part in parts:
        transaction.extend(part)
