"""The ready queue: ``/state/ready/{job}`` holds how many runs of the job wait for resources.

Survives a lost session and a scheduler restart: the nodes are persistent, so queued runs are
launched by whichever scheduler leads next. Values are decimal counts as ElasticJob-Cloud 3.0
writes them. ``add`` is a compare-and-set loop, so two producers never lose an increment. The
scheduler reads counts with their node versions (``aget``, ``aget_many``, ``aload``) and changes
them in its own transactions (``set_ops``), which fail when a version moved meanwhile.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from kazoo.exceptions import BadVersionError, NodeExistsError, NoNodeError

from server.domain.errors import Conflict
from server.registry.paths import RegistryPaths
from server.registry.transaction_ops import TransactionOps
from server.registry.zookeeper import ZooKeeper

_ATTEMPTS = 20


class ReadyCount(NamedTuple):
    """How many runs of a job wait, and the data version of its node (for compare-and-set); version
    None: the job has no node (yet)."""

    runs: int
    version: int | None


class ReadyQueue:
    def __init__(self, zookeeper: ZooKeeper) -> None:
        self._zk = zookeeper
        self._paths = zookeeper.paths

    def add(self, job_name: str, *, accumulate: bool) -> int:
        """Queue one run. With ``accumulate`` (misfire on) the count grows; without it at most one
        run waits. Returns the count now waiting."""
        path = self._paths.ready_job(job_name)
        for _ in range(_ATTEMPTS):
            try:
                data, stat = self._zk.call(lambda c: c.get_async(path))
            except NoNodeError:
                try:
                    self._zk.call(lambda c: c.create_async(path, b"1"))
                    return 1
                except NodeExistsError:
                    continue
            current = _count(data)
            wanted = current + 1 if accumulate else max(current, 1)
            if wanted == current:
                return current
            try:
                self._set(path, str(wanted).encode(), stat.version)
                return wanted
            except (BadVersionError, NoNodeError):
                continue
        raise Conflict(f"ready queue of job '{job_name}' kept changing; try again")

    def _set(self, path: str, data: bytes, version: int) -> None:
        self._zk.call(lambda c: c.set_async(path, data, version))

    def count(self, job_name: str) -> int:
        path = self._paths.ready_job(job_name)
        try:
            data, _ = self._zk.call(lambda c: c.get_async(path))
        except NoNodeError:
            return 0
        return _count(data)

    def versions(self, names: Sequence[str]) -> dict[str, int | None]:
        """Each job's ready node version (None where it has no node), for a thread."""
        nodes = self._zk.get_many([self._paths.ready_job(name) for name in names])
        return {
            name: None if node is None else int(node[1].version)
            for name, node in zip(names, nodes, strict=True)
        }

    def list_all(self) -> dict[str, int]:
        """Every job with runs waiting and how many, in name order (counts of 0 left out)."""
        names = sorted(self._zk.call(lambda c: c.get_children_async(self._paths.ready)))
        nodes = self._zk.get_many([self._paths.ready_job(name) for name in names])
        counts = {name: _count(node[0]) for name, node in zip(names, nodes, strict=True) if node is not None}
        return {name: count for name, count in counts.items() if count > 0}

    @staticmethod
    def drop_ops(
        paths: RegistryPaths, transaction: TransactionOps, job_name: str, version: int | None
    ) -> None:
        """Delete the job's ready node at ``version``; with None assert it absent (created and
        deleted again, so the transaction fails if a run was queued since it was read)."""
        path = paths.ready_job(job_name)
        if version is None:
            transaction.create(path, b"")
            transaction.delete(path)
        else:
            transaction.delete(path, version)

    async def aget(self, job_name: str) -> ReadyCount | None:
        """The job's count and node version, or None when nothing waits."""
        path = self._paths.ready_job(job_name)
        try:
            data, stat = await self._zk.acall(lambda c: c.get_async(path))
        except NoNodeError:
            return None
        return ReadyCount(_count(data), stat.version)

    async def aload(self) -> dict[str, ReadyCount]:
        """Every waiting job's count, the nodes read concurrently."""
        return await self.aget_many(await self._zk.achildren(self._paths.ready))

    async def aget_many(self, names: Sequence[str]) -> dict[str, ReadyCount]:
        """The count of each of ``names`` that has a node, read concurrently."""
        nodes = await self._zk.aget_many([self._paths.ready_job(name) for name in names])
        return {
            name: ReadyCount(_count(data), stat.version)
            for name, node in zip(names, nodes, strict=True)
            if node is not None
            for data, stat in (node,)
        }

    def set_ops(self, transaction: TransactionOps, job_name: str, count: int, version: int | None) -> None:
        """Make the node hold ``count`` (create it when ``version`` is None; delete it at 0)."""
        path = self._paths.ready_job(job_name)
        if version is None:
            if count > 0:
                transaction.create(path, str(count).encode())
        elif count > 0:
            transaction.set_data(path, str(count).encode(), version)
        else:
            transaction.delete(path, version)


def _count(data: bytes) -> int:
    try:
        return max(int(data.decode().strip() or "0"), 0)
    except ValueError:
        return 1
