"""The Mesos framework id: ``/ha/framework_id``. Written when the master first subscribes us and
read by every later (re)subscription, so a new leader takes over the same framework and its
tasks instead of registering a new one. Persistent: it survives a lost session and restarts; it
is cleared only when the master says the framework was removed."""

from __future__ import annotations

import contextlib

from kazoo.exceptions import NodeExistsError, NoNodeError

from server.registry.zookeeper import ZooKeeper


class FrameworkIdStore:
    def __init__(self, zookeeper: ZooKeeper) -> None:
        self._zk = zookeeper
        self._path = zookeeper.paths.framework_id

    async def get(self) -> str | None:
        try:
            data, _ = await self._zk.acall(lambda c: c.get_async(self._path))
        except NoNodeError:
            return None
        return data.decode().strip() or None

    async def clear(self) -> None:
        with contextlib.suppress(NoNodeError):
            await self._zk.acall(lambda c: c.delete_async(self._path))

    async def put(self, framework_id: str) -> None:
        data = framework_id.encode()
        try:
            await self._zk.acall(lambda c: c.create_async(self._path, data))
        except NodeExistsError:
            await self._zk.acall(lambda c: c.set_async(self._path, data))
