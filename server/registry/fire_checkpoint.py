"""The leader's fire checkpoint: ``/ha/fired_until`` holds a time (ISO 8601, UTC) at or before
which every cron fire has been handed to the ready queue (or launched).

The leading scheduler moves it forward after each step whose fires are all recorded; a scheduler
that takes over reads it to find the fire times nobody handed on. The node is persistent, so it
survives a lost session and a restart; ElasticJob-Cloud 3.0 neither reads nor writes it. It is
written after the fires it covers, so a leader that dies in between (a few milliseconds) leaves
those fires to be handed on again by its successor: a fire is never lost, rarely run twice.

``job_modified`` reads when each job's node was last written: a job registered or updated after
the checkpoint is caught up only from then.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from kazoo.exceptions import NodeExistsError, NoNodeError

from server.registry.zookeeper import ZooKeeper

log = logging.getLogger("server.registry")


class FireCheckpoint:
    def __init__(self, zookeeper: ZooKeeper) -> None:
        self._zk = zookeeper
        self._paths = zookeeper.paths

    async def aget(self) -> datetime | None:
        """The checkpoint, or None when there is none (or it cannot be read as a time)."""
        path = self._paths.fired_until
        try:
            data = await self._zk.adata(path)
        except NoNodeError:
            return None
        try:
            moment = datetime.fromisoformat(data.decode().strip())
        except (UnicodeDecodeError, ValueError):
            log.warning("ignoring %s: %r is not a time", path, data[:40])
            return None
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)

    async def aset(self, moment: datetime) -> None:
        """Make the checkpoint ``moment`` (created when absent)."""
        path = self._paths.fired_until
        data = moment.astimezone(UTC).isoformat(timespec="milliseconds").encode()
        try:
            await self._zk.acall(lambda c: c.set_async(path, data))
        except NoNodeError:
            try:
                await self._zk.acall(lambda c: c.create_async(path, data))
            except NodeExistsError:
                await self._zk.acall(lambda c: c.set_async(path, data))

    async def job_modified(self, job_names: Sequence[str]) -> dict[str, datetime]:
        """When each of ``job_names``'s node was last written (absent nodes are left out)."""
        names = list(job_names)
        nodes = await self._zk.aget_many([self._paths.job(name) for name in names])
        return {
            name: datetime.fromtimestamp(node[1].mtime / 1000, UTC)
            for name, node in zip(names, nodes, strict=True)
            if node is not None
        }
