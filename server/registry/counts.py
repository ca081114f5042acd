"""Counts of registry nodes for the statistics: running tasks and jobs (``/state/running``),
registered jobs (``/config/job``) and jobs by execution type. Plain synchronous reads, each bounded
by the connection's timeout (``RegistryUnavailable`` beyond); a node removed between listing and
reading is not counted."""

from __future__ import annotations

import functools
from typing import Any

from kazoo.exceptions import NoNodeError

from server.domain.errors import ElasticJobError
from server.domain.job import JobConfig, JobExecutionType
from server.registry import codec
from server.registry.zookeeper import ZooKeeper

__all__ = ["RegistryCounts"]


class RegistryCounts:
    def __init__(self, zookeeper: ZooKeeper) -> None:
        self._zk = zookeeper
        self._paths = zookeeper.paths

    def _children(self, path: str) -> list[str]:
        try:
            children: list[str] = self._zk.call(lambda c: c.get_children_async(path))
        except NoNodeError:
            return []
        return children

    def running(self) -> tuple[int, int]:
        """(running tasks, jobs with a running task)."""
        per_job = [
            len(self._children(self._paths.running_job(job))) for job in self._children(self._paths.running)
        ]
        return sum(per_job), sum(1 for count in per_job if count)

    def registered(self) -> int:
        """Registered jobs."""
        return len(self._children(self._paths.jobs))

    def by_execution_type(self) -> tuple[int, int]:
        """(TRANSIENT jobs, DAEMON jobs); nodes that do not hold a job are not counted."""
        transient = daemon = 0
        for name in self._children(self._paths.jobs):
            path = self._paths.job(name)
            try:
                data: Any = self._zk.call(functools.partial(_get_async, path=path))[0]
            except NoNodeError:
                continue
            try:
                job = JobConfig.from_document(codec.decode(data, path))
            except (codec.UnreadableNode, ElasticJobError):
                continue
            if job.job_execution_type is JobExecutionType.DAEMON:
                daemon += 1
            else:
                transient += 1
        return transient, daemon


def _get_async(client: Any, *, path: str) -> Any:
    return client.get_async(path)
