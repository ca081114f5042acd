"""Application nodes: ``/config/app/{app}``.

Survives a lost session: nodes are persistent. ``create`` is atomic (ZooKeeper refuses a second
create); ``replace`` is a compare-and-set on the node version read with it, so a concurrent change
is never overwritten silently (the caller re-reads and retries). A write ZooKeeper did not confirm
in time raises ``RegistryUnavailable`` saying that its outcome is unknown. The scheduler reads them
asynchronously (``aget``, ``aread_all``), decoding only nodes modified since its last read; the API
lists them (``list_all``). Removing an app with its jobs is ``JobRepository.delete_app``: one
transaction for the jobs' nodes and the app's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

from kazoo.exceptions import BadVersionError, NodeExistsError, NoNodeError

from server.domain.app import AppConfig
from server.domain.errors import AppAlreadyExists, AppNotFound, Conflict, ElasticJobError
from server.registry import codec
from server.registry.writes import outcome_unknown_on_timeout
from server.registry.zookeeper import ZooKeeper


class UnreadableApp(ElasticJobError):
    """An app node whose value is not an app configuration."""


class StoredApp(NamedTuple):
    """One app as read: its configuration, its node's data version (what ``replace`` compares) and
    modification zxid (what tells a later read whether the node changed)."""

    app: AppConfig
    version: int
    zxid: int


@dataclass(frozen=True, slots=True)
class StoredApps:
    """One read of every app node: each node's modification zxid, the configurations of the nodes
    changed since the zxids the read was given, and the changed ones that did not decode."""

    zxids: dict[str, int]
    apps: dict[str, AppConfig]
    unreadable: dict[str, str]


class AppRepository:
    def __init__(self, zookeeper: ZooKeeper) -> None:
        self._zk = zookeeper
        self._paths = zookeeper.paths

    @property
    def zookeeper(self) -> ZooKeeper:
        """The connection this repository reads and writes through."""
        return self._zk

    def list_all(self) -> list[AppConfig]:
        """Every app that decodes, in name order (a node that does not hold an app is left out)."""
        names = sorted(self._zk.call(lambda c: c.get_children_async(self._paths.apps)))
        nodes = self._zk.get_many([self._paths.app(name) for name in names])
        apps: list[AppConfig] = []
        for name, node in zip(names, nodes, strict=True):
            if node is None:
                continue  # deleted since the children were listed
            try:
                apps.append(_decode_app(node[0], self._paths.app(name)))
            except UnreadableApp:
                continue
        return apps

    def get(self, app_name: str) -> StoredApp:
        """The app; AppNotFound when absent."""
        path = self._paths.app(app_name)
        try:
            data, stat = self._zk.call(lambda c: c.get_async(path))
        except NoNodeError:
            raise AppNotFound(app_name) from None
        return StoredApp(AppConfig.from_document(codec.decode(data, path)), stat.version, stat.mzxid)

    async def aget(self, app_name: str) -> StoredApp | None:
        """The app; None when absent, UnreadableApp when the node does not hold an app."""
        path = self._paths.app(app_name)
        try:
            data, stat = await self._zk.acall(lambda c: c.get_async(path))
        except NoNodeError:
            return None
        return StoredApp(_decode_app(data, path), stat.version, stat.mzxid)

    async def aread_all(self, known: Mapping[str, int]) -> StoredApps:
        """Every app node, read concurrently; only nodes whose zxid differs from ``known`` decoded."""
        nodes = await self._zk.achanged_children(self._paths.apps, known)
        apps: dict[str, AppConfig] = {}
        unreadable: dict[str, str] = {}
        for name, data in nodes.changed.items():
            try:
                apps[name] = _decode_app(data, self._paths.app(name))
            except UnreadableApp as exc:
                unreadable[name] = str(exc)
        return StoredApps(nodes.zxids, apps, unreadable)

    def create(self, app: AppConfig) -> None:
        path = self._paths.app(app.app_name)
        data = codec.encode(app.to_document(), "app")
        try:
            with outcome_unknown_on_timeout(self._zk, f"app '{app.app_name}'"):
                self._zk.call(lambda c: c.create_async(path, data))
        except NodeExistsError:
            raise AppAlreadyExists(app.app_name) from None

    def replace(self, app: AppConfig, version: int) -> None:
        """Overwrite the node if it still has ``version``; Conflict if it changed, AppNotFound if gone."""
        path = self._paths.app(app.app_name)
        data = codec.encode(app.to_document(), "app")
        try:
            with outcome_unknown_on_timeout(self._zk, f"app '{app.app_name}'"):
                self._zk.call(lambda c: c.set_async(path, data, version))
        except BadVersionError:
            raise Conflict(f"app '{app.app_name}' changed concurrently") from None
        except NoNodeError:
            raise AppNotFound(app.app_name) from None


def _decode_app(data: bytes, path: str) -> AppConfig:
    try:
        return AppConfig.from_document(codec.decode(data, path))
    except (codec.UnreadableNode, ElasticJobError) as exc:
        raise UnreadableApp(f"{path}: {exc}") from exc
