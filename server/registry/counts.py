"""Counts of registry nodes for the statistics: running tasks and jobs (``/state/running``),
registered jobs (``/config/job``) and jobs by execution type. Plain synchronous reads, the nodes of
a level read in bulk, each bounded by the connection's timeout (``RegistryUnavailable`` beyond); a
node removed between listing and reading is not counted."""

from __future__ import annotations

from kazoo.exceptions import NoNodeError

from server.domain.job import JobExecutionType
from server.registry.jobs import JobRepository
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
        jobs = self._children(self._paths.running)
        children = self._zk.children_many([self._paths.running_job(job) for job in jobs])
        per_job = [len(names or ()) for names in children]
        return sum(per_job), sum(1 for count in per_job if count)

    def registered(self) -> int:
        """Registered jobs."""
        return len(self._children(self._paths.jobs))

    def by_execution_type(self) -> tuple[int, int]:
        """(TRANSIENT jobs, DAEMON jobs); nodes that do not hold a job are not counted."""
        jobs = JobRepository(self._zk).list_all()
        daemon = sum(1 for job in jobs if job.job_execution_type is JobExecutionType.DAEMON)
        return len(jobs) - daemon, daemon
