"""Application nodes: ``/config/app/{app}``.

Survives a lost session: nodes are persistent. ``create`` is atomic (ZooKeeper refuses a second
create); ``replace`` is a compare-and-set on the node version read with it, so a concurrent change
is never overwritten silently (the caller re-reads and retries).
"""

from __future__ import annotations

from kazoo.exceptions import BadVersionError, NodeExistsError, NoNodeError

from server.domain.app import AppConfig
from server.errors import AppAlreadyExists, AppNotFound, Conflict
from server.registry import codec
from server.registry.zookeeper import ZooKeeper


class AppRepository:
    def __init__(self, zookeeper: ZooKeeper) -> None:
        self._zk = zookeeper
        self._paths = zookeeper.paths

    def get(self, app_name: str) -> tuple[AppConfig, int]:
        """The app and its node version; AppNotFound when absent."""
        path = self._paths.app(app_name)
        try:
            data, stat = self._zk.call(lambda c: c.get_async(path))
        except NoNodeError:
            raise AppNotFound(app_name) from None
        return AppConfig.from_document(codec.decode(data, path)), stat.version

    def exists(self, app_name: str) -> bool:
        path = self._paths.app(app_name)
        return self._zk.call(lambda c: c.exists_async(path)) is not None

    def names(self) -> list[str]:
        return sorted(self._zk.call(lambda c: c.get_children_async(self._paths.apps)))

    def create(self, app: AppConfig) -> None:
        path = self._paths.app(app.app_name)
        data = codec.encode(app.to_document())
        try:
            self._zk.call(lambda c: c.create_async(path, data))
        except NodeExistsError:
            raise AppAlreadyExists(app.app_name) from None

    def replace(self, app: AppConfig, version: int) -> None:
        """Overwrite the node if it still has ``version``; Conflict if it changed, AppNotFound if gone."""
        path = self._paths.app(app.app_name)
        data = codec.encode(app.to_document())
        try:
            self._zk.call(lambda c: c.set_async(path, data, version))
        except BadVersionError:
            raise Conflict(f"app '{app.app_name}' changed concurrently") from None
        except NoNodeError:
            raise AppNotFound(app.app_name) from None
