"""Disabled apps and jobs: ``/state/disable/app/{app}`` and ``/state/disable/job/{job}``.

A node's existence is the flag (its data is ignored), as in ElasticJob-Cloud 3.0. Persistent, so
a disabled job stays disabled across restarts and failovers.
"""

from __future__ import annotations

from server.registry.zookeeper import ZooKeeper


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
