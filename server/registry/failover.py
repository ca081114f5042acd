"""The failover queue: ``/state/failover/{job}/{job@-@item}`` holds the task id of a shard that
failed or was lost and must run again. Persistent: a queued re-run survives restarts and is
launched by whichever scheduler leads next, before any READY run."""

from __future__ import annotations

from typing import Any

from kazoo.exceptions import NoNodeError

from server.domain.task import ShardRef
from server.registry.zookeeper import ZooKeeper


class FailoverQueue:
    def __init__(self, zookeeper: ZooKeeper) -> None:
        self._zk = zookeeper
        self._paths = zookeeper.paths

    async def load(self) -> dict[ShardRef, str]:
        """Every queued shard with the id of the task that failed."""
        shards: dict[ShardRef, str] = {}
        for job_name in await self._zk.achildren(self._paths.failover):
            job_path = self._paths.failover_job(job_name)
            try:
                children = await self._zk.achildren(job_path)
            except NoNodeError:
                continue
            for child in children:
                try:
                    shard = ShardRef.parse(child)
                    data = await self._zk.adata(f"{job_path}/{child}")
                except (ValueError, NoNodeError):
                    continue
                shards[shard] = data.decode(errors="replace")
        return shards

    def create_ops(
        self, transaction: Any, shard: ShardRef, failed_task_id: str, *, job_node_exists: bool
    ) -> None:
        if not job_node_exists:
            transaction.create(self._paths.failover_job(shard.job_name), b"")
        transaction.create(self._paths.failover_shard(shard.job_name, str(shard)), failed_task_id.encode())

    def delete_ops(self, transaction: Any, shard: ShardRef, *, last_of_job: bool) -> None:
        transaction.delete(self._paths.failover_shard(shard.job_name, str(shard)))
        if last_of_job:
            transaction.delete(self._paths.failover_job(shard.job_name))
