"""Job configuration nodes: ``/config/job/{job}``, and removal of everything a job owns.

Survives a lost session: nodes are persistent. Creating or updating a job checks its app in the
same ZooKeeper transaction, so a job never points at an app that vanished in between. Removing a
job deletes its config and its state nodes (ready, running, failover, disabled) in one
transaction, so a crash never leaves half a job behind.
"""

from __future__ import annotations

from typing import Any

from kazoo.exceptions import BadVersionError, NodeExistsError, NoNodeError, NotEmptyError

from server.domain.job import JobConfig
from server.errors import AppNotFound, Conflict, JobAlreadyExists, JobNotFound
from server.registry import codec
from server.registry.zookeeper import ZooKeeper

_ANY_VERSION = -1


class JobRepository:
    def __init__(self, zookeeper: ZooKeeper) -> None:
        self._zk = zookeeper
        self._paths = zookeeper.paths

    def get_document(self, job_name: str) -> tuple[dict[str, Any], int]:
        """The raw stored document and node version; JobNotFound when absent."""
        path = self._paths.job(job_name)
        try:
            data, stat = self._zk.call(lambda c: c.get_async(path))
        except NoNodeError:
            raise JobNotFound(job_name) from None
        return codec.decode(data, path), stat.version

    def get(self, job_name: str) -> JobConfig:
        document, _ = self.get_document(job_name)
        return JobConfig.from_document(document)

    def exists(self, job_name: str) -> bool:
        path = self._paths.job(job_name)
        return self._zk.call(lambda c: c.exists_async(path)) is not None

    def names(self) -> list[str]:
        return sorted(self._zk.call(lambda c: c.get_children_async(self._paths.jobs)))

    def create(self, job: JobConfig) -> None:
        """Create the job if its app exists: one transaction (check app, create job)."""
        app_path, job_path = self._paths.app(job.app_name), self._paths.job(job.job_name)
        data = codec.encode(job.to_document())

        def build(transaction: Any) -> None:
            transaction.check(app_path, _ANY_VERSION)
            transaction.create(job_path, data)

        results = self._zk.commit(build)
        if isinstance(results[0], NoNodeError):
            raise AppNotFound(job.app_name)
        if isinstance(results[1], NodeExistsError):
            raise JobAlreadyExists(job.job_name)
        _raise_first_error(results)

    def replace(self, job: JobConfig, version: int) -> None:
        """Overwrite the job if its node still has ``version`` and its app exists (one transaction)."""
        app_path, job_path = self._paths.app(job.app_name), self._paths.job(job.job_name)
        data = codec.encode(job.to_document())

        def build(transaction: Any) -> None:
            transaction.check(app_path, _ANY_VERSION)
            transaction.set_data(job_path, data, version)

        results = self._zk.commit(build)
        if isinstance(results[0], NoNodeError):
            raise AppNotFound(job.app_name)
        if isinstance(results[1], NoNodeError):
            raise JobNotFound(job.job_name)
        if isinstance(results[1], BadVersionError):
            raise Conflict(f"job '{job.job_name}' changed concurrently")
        _raise_first_error(results)

    def delete(self, job_name: str) -> None:
        """Delete the job's config and all its state nodes in one transaction."""
        config_path = self._paths.job(job_name)
        owned = [
            *self._subtree(self._paths.running_job(job_name)),
            *self._subtree(self._paths.failover_job(job_name)),
            *self._subtree(self._paths.ready_job(job_name)),
            *self._subtree(self._paths.disabled_job(job_name)),
        ]

        def build(transaction: Any) -> None:
            for path in owned:
                transaction.delete(path)
            transaction.delete(config_path)

        results = self._zk.commit(build)
        if isinstance(results[-1], NoNodeError):
            raise JobNotFound(job_name)
        if any(isinstance(result, NotEmptyError | NoNodeError) for result in results):
            raise Conflict(f"job '{job_name}' state changed while it was being removed")
        _raise_first_error(results)

    def _subtree(self, root: str) -> list[str]:
        """Paths under and including ``root``, children before parents; empty if ``root`` is absent."""
        try:
            children = self._zk.call(lambda c: c.get_children_async(root))
        except NoNodeError:
            return []
        paths: list[str] = []
        for child in children:
            paths.extend(self._subtree(f"{root}/{child}"))
        paths.append(root)
        return paths


def _raise_first_error(results: list[Any]) -> None:
    for result in results:
        if isinstance(result, Exception) and result.__class__.__name__ != "RolledBackError":
            raise result
