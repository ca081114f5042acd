"""Disabled apps and jobs: ``/state/disable/app/{app}`` and ``/state/disable/job/{job}``.

A node's existence is the flag (its data is ignored), as in ElasticJob-Cloud 3.0. Persistent, so
a disabled job stays disabled across a lost session, restarts and failovers.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from server.registry.zookeeper import ZooKeeper


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

    async def ais_job_disabled(self, job_name: str) -> bool:
        """``is_job_disabled`` for asyncio."""
        path = self._paths.disabled_job(job_name)
        return await self._zk.acall(lambda c: c.exists_async(path)) is not None

    async def aload(self) -> DisabledNames:
        """Every disabled job and app, the two lists read concurrently."""
        jobs, apps = await asyncio.gather(
            self._zk.achildren(self._paths.disabled_jobs), self._zk.achildren(self._paths.disabled_apps)
        )
        return DisabledNames(frozenset(jobs), frozenset(apps))
