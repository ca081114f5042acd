"""Disabled apps and jobs: ``/state/disable/app/{app}`` and ``/state/disable/job/{job}``.

A node's existence is the flag (its data is ignored; we write the name, as ElasticJob-Cloud 3.0
does). Persistent, so a disabled job stays disabled across a lost session, restarts and failovers.
Setting or clearing a flag is one transaction that checks the job or app exists; disabling an app
also drops the ready runs of its jobs in that transaction, asserting the absent ready nodes absent,
so a run queued meanwhile makes it fail (``Conflict``) rather than survive.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass

from kazoo.exceptions import BadVersionError, NodeExistsError, NoNodeError, NotEmptyError, RolledBackError

from server.domain.errors import AppNotFound, Conflict, JobNotFound
from server.registry.ready import ReadyQueue
from server.registry.transaction_ops import TransactionOps
from server.registry.zookeeper import ZooKeeper

_ANY_VERSION = -1


@dataclass(frozen=True, slots=True)
class DisabledNames:
    """The names flagged disabled at one read."""

    jobs: frozenset[str]
    apps: frozenset[str]


class DisabledFlags:
    def __init__(self, zookeeper: ZooKeeper) -> None:
        self._zk = zookeeper
        self._paths = zookeeper.paths

    def is_job_disabled(self, job_name: str) -> bool:
        path = self._paths.disabled_job(job_name)
        return self._zk.call(lambda c: c.exists_async(path)) is not None

    def is_app_disabled(self, app_name: str) -> bool:
        path = self._paths.disabled_app(app_name)
        return self._zk.call(lambda c: c.exists_async(path)) is not None

    def disable_job(self, job_name: str) -> bool:
        """Flag the job disabled; whether the flag is new. JobNotFound when the job is absent."""
        flagged = self._set_flag(self._paths.job(job_name), self._paths.disabled_job(job_name), job_name, {})
        if flagged is None:
            raise JobNotFound(job_name)
        return flagged

    def enable_job(self, job_name: str) -> bool:
        """Clear the job's flag; whether it was set. JobNotFound when the job is absent."""
        return self._clear_flag(
            self._paths.job(job_name), self._paths.disabled_job(job_name), JobNotFound(job_name)
        )

    def disable_app(self, app_name: str, ready_versions: Mapping[str, int | None]) -> bool:
        """Flag the app disabled and drop the ready runs of its jobs (``ready_versions``: each job's
        ready node version as read, None where it had none), in one transaction; whether the flag
        is new (an app disabled already is left as it is). AppNotFound when the app is absent,
        Conflict when a ready node changed since it was read."""
        flagged = self._set_flag(
            self._paths.app(app_name), self._paths.disabled_app(app_name), app_name, ready_versions
        )
        if flagged is None:
            raise AppNotFound(app_name)
        return flagged

    def enable_app(self, app_name: str) -> bool:
        """Clear the app's flag; whether it was set. AppNotFound when the app is absent."""
        return self._clear_flag(
            self._paths.app(app_name), self._paths.disabled_app(app_name), AppNotFound(app_name)
        )

    def _set_flag(
        self, owner: str, flag: str, name: str, ready_versions: Mapping[str, int | None]
    ) -> bool | None:
        """Create ``flag`` if ``owner`` exists, deleting the given ready nodes: True when created,
        False when it existed, None when ``owner`` is absent."""

        def build(transaction: TransactionOps) -> None:
            transaction.check(owner, _ANY_VERSION)
            transaction.create(flag, name.encode())
            for job_name, version in ready_versions.items():
                ReadyQueue.drop_ops(self._paths, transaction, job_name, version)

        results = self._zk.commit(build)
        if isinstance(results[0], NoNodeError):
            return None
        if isinstance(results[1], NodeExistsError):
            return False
        failed = [r for r in results if isinstance(r, Exception) and not isinstance(r, RolledBackError)]
        if any(
            isinstance(r, NoNodeError | NodeExistsError | NotEmptyError | BadVersionError) for r in failed
        ):
            raise Conflict(f"the ready queue changed while '{name}' was being disabled")
        if failed:
            raise failed[0]
        return True

    def _clear_flag(self, owner: str, flag: str, missing: Exception) -> bool:
        def build(transaction: TransactionOps) -> None:
            transaction.check(owner, _ANY_VERSION)
            transaction.delete(flag)

        results = self._zk.commit(build)
        if isinstance(results[0], NoNodeError):
            raise missing
        if isinstance(results[1], NoNodeError):
            return False
        for result in results:
            if isinstance(result, Exception) and not isinstance(result, RolledBackError):
                raise result
        return True

    async def ais_job_disabled(self, job_name: str) -> bool:
        """``is_job_disabled`` for asyncio."""
        path = self._paths.disabled_job(job_name)
        return await self._zk.acall(lambda c: c.exists_async(path)) is not None

    async def ais_app_disabled(self, app_name: str) -> bool:
        """``is_app_disabled`` for asyncio."""
        path = self._paths.disabled_app(app_name)
        return await self._zk.acall(lambda c: c.exists_async(path)) is not None

    async def aload(self) -> DisabledNames:
        """Every disabled job and app, the two lists read concurrently."""
        jobs, apps = await asyncio.gather(
            self._zk.achildren(self._paths.disabled_jobs), self._zk.achildren(self._paths.disabled_apps)
        )
        return DisabledNames(frozenset(jobs), frozenset(apps))
