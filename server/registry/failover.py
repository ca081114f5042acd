"""The failover queue: ``/state/failover/{job}/{job@-@item}`` holds the task id of a shard that
failed or was lost and must run again, and when it may run (``FailoverEntry``). Persistent: a
queued re-run survives a lost session and restarts, and is launched by whichever scheduler leads
next, before any READY run, once its retry time has come."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from server.domain.task import ShardRef
from server.registry.transaction_ops import TransactionOps
from server.registry.zookeeper import ZooKeeper


@dataclass(frozen=True, slots=True)
class FailoverEntry:
    """A failover node's value: the failed task's id on the first line (all ElasticJob-Cloud 3.0
    stores), then ``attempts: n`` (re-runs of the shard that failed in a row) and ``retryAt: t``
    (epoch seconds before which the shard is not launched). A node holding only a task id is an
    entry due at once."""

    task_id: str
    attempts: int = 0
    retry_at: float = 0.0

    def encode(self) -> str:
        return f"{self.task_id}\nattempts: {self.attempts}\nretryAt: {self.retry_at:.3f}"

    @staticmethod
    @functools.lru_cache(maxsize=4096)
    def decode(text: str) -> FailoverEntry:
        """The entry of a node's text; unreadable extra lines are ignored."""
        task_id, *lines = text.split("\n")
        values: dict[str, str] = {}
        for line in lines:
            key, _, value = line.partition(":")
            values[key.strip()] = value.strip()
        try:
            attempts = max(0, int(values.get("attempts", "0")))
        except ValueError:
            attempts = 0
        try:
            retry_at = float(values.get("retryAt", "0"))
        except ValueError:
            retry_at = 0.0
        if not math.isfinite(retry_at):
            retry_at = 0.0
        return FailoverEntry(task_id.strip(), attempts, retry_at)


class FailoverQueue:
    def __init__(self, zookeeper: ZooKeeper) -> None:
        self._zk = zookeeper
        self._paths = zookeeper.paths

    async def load(self) -> dict[ShardRef, str]:
        """Every queued shard with the id of the task that failed, the nodes read concurrently."""
        return await self.load_jobs(await self._zk.achildren(self._paths.failover))

    async def load_jobs(self, jobs: Sequence[str]) -> dict[ShardRef, str]:
        """The queued shards of ``jobs`` (as ``load``)."""
        children = await self._zk.achildren_many([self._paths.failover_job(job) for job in jobs])
        entries: list[tuple[ShardRef, str]] = []
        for job, names in zip(jobs, children, strict=True):
            for child in names or ():
                try:
                    entries.append((ShardRef.parse(child), self._paths.failover_shard(job, child)))
                except ValueError:
                    continue
        nodes = await self._zk.aget_many([path for _, path in entries])
        return {
            shard: bytes(node[0]).decode(errors="replace")
            for (shard, _), node in zip(entries, nodes, strict=True)
            if node is not None
        }

    def list_all(self) -> list[tuple[ShardRef, FailoverEntry]]:
        """Every queued shard with its entry, by job name and shard, for a thread."""
        jobs = sorted(self._zk.call(lambda c: c.get_children_async(self._paths.failover)))
        children = self._zk.children_many([self._paths.failover_job(job) for job in jobs])
        entries: list[tuple[ShardRef, str]] = []
        for job, names in zip(jobs, children, strict=True):
            for child in names or ():
                try:
                    entries.append((ShardRef.parse(child), self._paths.failover_shard(job, child)))
                except ValueError:
                    continue
        nodes = self._zk.get_many([path for _, path in entries])
        found = [
            (shard, FailoverEntry.decode(bytes(node[0]).decode(errors="replace")))
            for (shard, _), node in zip(entries, nodes, strict=True)
            if node is not None
        ]
        return sorted(found, key=lambda pair: pair[0])

    async def ajob_entries(self, job_name: str) -> dict[ShardRef, FailoverEntry]:
        """The job's queued shards with their entries, by sharding item."""
        shards = await self.load_jobs([job_name])
        return {shard: FailoverEntry.decode(shards[shard]) for shard in sorted(shards)}

    async def children(self, job_names: Sequence[str]) -> dict[str, set[str]]:
        """The node names (``job@-@item``) under each of ``job_names`` that has a node, read
        concurrently."""
        found = await self._zk.achildren_many([self._paths.failover_job(name) for name in job_names])
        return {name: set(names) for name, names in zip(job_names, found, strict=True) if names is not None}

    def create_ops(
        self, transaction: TransactionOps, shard: ShardRef, entry: str, *, job_node_exists: bool
    ) -> None:
        """Queue ``shard`` with ``entry`` (a ``FailoverEntry``'s text, or a bare task id)."""
        if not job_node_exists:
            transaction.create(self._paths.failover_job(shard.job_name), b"")
        transaction.create(self._paths.failover_shard(shard.job_name, str(shard)), entry.encode())

    def delete_ops(self, transaction: TransactionOps, shard: ShardRef, *, last_of_job: bool) -> None:
        transaction.delete(self._paths.failover_shard(shard.job_name, str(shard)))
        if last_of_job:
            transaction.delete(self._paths.failover_job(shard.job_name))
