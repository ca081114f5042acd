"""The failover queue: ``/state/failover/{job}/{job@-@item}`` holds the task id of a shard that
failed or was lost and must run again. Persistent: a queued re-run survives a lost session and
restarts, and is launched by whichever scheduler leads next, before any READY run."""

from __future__ import annotations

from collections.abc import Sequence

from server.domain.task import ShardRef
from server.registry.transaction_ops import TransactionOps
from server.registry.zookeeper import ZooKeeper


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

    async def children(self, job_names: Sequence[str]) -> dict[str, set[str]]:
        """The node names (``job@-@item``) under each of ``job_names`` that has a node, read
        concurrently."""
        found = await self._zk.achildren_many([self._paths.failover_job(name) for name in job_names])
        return {name: set(names) for name, names in zip(job_names, found, strict=True) if names is not None}

    def create_ops(
        self, transaction: TransactionOps, shard: ShardRef, failed_task_id: str, *, job_node_exists: bool
    ) -> None:
        if not job_node_exists:
            transaction.create(self._paths.failover_job(shard.job_name), b"")
        transaction.create(self._paths.failover_shard(shard.job_name, str(shard)), failed_task_id.encode())

    def delete_ops(self, transaction: TransactionOps, shard: ShardRef, *, last_of_job: bool) -> None:
        transaction.delete(self._paths.failover_shard(shard.job_name, str(shard)))
        if last_of_job:
            transaction.delete(self._paths.failover_job(shard.job_name))
