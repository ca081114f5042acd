"""Running tasks: ``/state/running/{job}/{job@-@item}`` holds the Mesos task id of the shard's task.

Unlike ElasticJob-Cloud 3.0 (which kept TRANSIENT tasks in memory and ran them twice after a
failover) every running task is recorded here, in the same transaction that takes its run off the
ready or failover queue, and before the launch is sent. A scheduler that takes over therefore
knows every task that may be running and reconciles them instead of launching them again.
Persistent nodes: they survive a lost session and a scheduler restart.
"""

from __future__ import annotations

from collections.abc import Sequence

from kazoo.exceptions import NoNodeError

from server.domain.task import ShardRef, TaskId, TaskIdError
from server.registry.transaction_ops import TransactionOps
from server.registry.zookeeper import ZooKeeper


class RunningTasks:
    def __init__(self, zookeeper: ZooKeeper) -> None:
        self._zk = zookeeper
        self._paths = zookeeper.paths

    async def load(self) -> dict[ShardRef, TaskId]:
        """Every recorded running task (unreadable nodes are skipped), the nodes read concurrently."""
        jobs = await self._zk.achildren(self._paths.running)
        children = await self._zk.achildren_many([self._paths.running_job(job) for job in jobs])
        paths = [
            self._paths.running_task(job, child)
            for job, names in zip(jobs, children, strict=True)
            if names is not None
            for child in names
        ]
        tasks: dict[ShardRef, TaskId] = {}
        for node in await self._zk.aget_many(paths):
            if node is None:
                continue
            try:
                task_id = TaskId.parse(bytes(node[0]).decode())
            except (TaskIdError, UnicodeDecodeError):
                continue
            tasks[task_id.shard] = task_id
        return tasks

    def list_all(self) -> list[TaskId]:
        """Every recorded running task (unreadable nodes skipped), by job name and shard, for a
        thread."""
        jobs = sorted(self._zk.call(lambda c: c.get_children_async(self._paths.running)))
        children = self._zk.children_many([self._paths.running_job(job) for job in jobs])
        paths = [
            self._paths.running_task(job, child)
            for job, names in zip(jobs, children, strict=True)
            for child in names or ()
        ]
        tasks: list[TaskId] = []
        for node in self._zk.get_many(paths):
            if node is None:
                continue
            try:
                tasks.append(TaskId.parse(bytes(node[0]).decode()))
            except (TaskIdError, UnicodeDecodeError):
                continue
        return sorted(tasks, key=lambda task: task.shard)

    async def ajob_tasks(self, job_name: str) -> list[tuple[TaskId, float]]:
        """The job's recorded tasks with when each was recorded (epoch seconds), by sharding item;
        the nodes read concurrently."""
        try:
            names = await self._zk.achildren(self._paths.running_job(job_name))
        except NoNodeError:
            return []
        nodes = await self._zk.aget_many([self._paths.running_task(job_name, name) for name in names])
        tasks: list[tuple[TaskId, float]] = []
        for node in nodes:
            if node is None:
                continue
            try:
                tasks.append((TaskId.parse(bytes(node[0]).decode()), node[1].ctime / 1000.0))
            except (TaskIdError, UnicodeDecodeError):
                continue
        return sorted(tasks, key=lambda task: task[0].item)

    async def exists(self, shard: ShardRef) -> bool:
        """Whether a task of ``shard`` is recorded."""
        path = self._paths.running_task(shard.job_name, str(shard))
        try:
            return await self._zk.acall(lambda c: c.exists_async(path)) is not None
        except NoNodeError:
            return False

    async def children(self, job_names: Sequence[str]) -> dict[str, set[str]]:
        """The node names (``job@-@item``) under each of ``job_names`` that has a node, read
        concurrently."""
        found = await self._zk.achildren_many([self._paths.running_job(name) for name in job_names])
        return {name: set(names) for name, names in zip(job_names, found, strict=True) if names is not None}

    def create_ops(self, transaction: TransactionOps, task_id: TaskId, *, job_node_exists: bool) -> None:
        if not job_node_exists:
            transaction.create(self._paths.running_job(task_id.job_name), b"")
        transaction.create(
            self._paths.running_task(task_id.job_name, str(task_id.shard)), str(task_id).encode()
        )

    def delete_ops(self, transaction: TransactionOps, shard: ShardRef, *, last_of_job: bool) -> None:
        transaction.delete(self._paths.running_task(shard.job_name, str(shard)))
        if last_of_job:
            transaction.delete(self._paths.running_job(shard.job_name))
