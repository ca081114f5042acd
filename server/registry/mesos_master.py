"""The leading Mesos master, read from the masters' own ZooKeeper election group.

A ``zk://[user:password@]host1:2181,host2:2181/mesos`` master URL names the ZooKeeper ensemble of
the Mesos masters and their election path. Each master holds an ephemeral sequential child
``json.info_<sequence>`` of that path with its MasterInfo as JSON; the lowest sequence leads
(:func:`server.mesos.detector.leader_from_children`).

What survives a lost session: nothing needs to. That ensemble may not be ours, so every lookup
opens its own short read-only session, reads the children once and closes it; a lookup that
cannot finish within its timeout raises :class:`~server.mesos.errors.NoLeader`, and the next one
starts afresh. A child that disappears between the listing and its read (that master just left
the election) is skipped.
"""

from __future__ import annotations

import asyncio

from kazoo.client import KazooClient
from kazoo.exceptions import KazooException, NoNodeError
from kazoo.handlers.threading import KazooTimeoutError

from server.mesos.detector import detect_http_leader, is_election_child, leader_from_children
from server.mesos.errors import NoLeader

__all__ = ["detect_leader", "read_election_children"]


async def detect_leader(url: str, *, zk_timeout: float = 10.0) -> str:
    """Return the base URL (``http://host:port``) of the leading master named by ``url``.

    A :data:`~server.mesos.detector.LeaderDetector`. For ``zk://`` URLs ZooKeeper is read once
    (in a worker thread, because kazoo is synchronous) within ``zk_timeout`` seconds; any other
    URL goes to :func:`~server.mesos.detector.detect_http_leader` (no IO).

    Raises :class:`NoLeader` when no leader can be found (unreachable ZooKeeper, missing path, no
    election children, unreadable MasterInfo) and ``ValueError`` for a URL of an unknown form.
    """
    if not url.startswith("zk://"):
        return await detect_http_leader(url)
    hosts, path, auth = _split_zk_url(url)
    children = await asyncio.to_thread(read_election_children, hosts, path, auth=auth, timeout=zk_timeout)
    return leader_from_children(children)


def read_election_children(
    hosts: str, path: str, *, auth: str | None = None, timeout: float = 10.0
) -> dict[str, bytes]:
    """The data of every ``json.info_*`` child of ``path`` on ``hosts`` (blocking).

    ``auth`` is ``user:password`` for a digest login. Raises :class:`NoLeader` when ZooKeeper
    cannot be read within ``timeout`` seconds or ``path`` does not exist.
    """
    zk = KazooClient(
        hosts=hosts,
        timeout=timeout,
        auth_data=[("digest", auth)] if auth else None,
        read_only=True,
    )
    try:
        zk.start(timeout=timeout)
        children: dict[str, bytes] = {}
        for name in zk.get_children(path):
            if not is_election_child(name):
                continue
            try:
                data, _ = zk.get(f"{path}/{name}")
            except NoNodeError:
                continue  # that master just left the election; the others still count
            children[name] = data
        return children
    except NoNodeError as exc:
        raise NoLeader(f"ZooKeeper path {path} does not exist on {hosts}") from exc
    except (KazooTimeoutError, KazooException) as exc:
        raise NoLeader(f"cannot read Mesos leader from ZooKeeper {hosts}{path}: {exc!r}") from exc
    finally:
        try:
            zk.stop()
        finally:
            zk.close()


def _split_zk_url(url: str) -> tuple[str, str, str | None]:
    """Split ``zk://[user:pass@]hosts/path`` into (hosts, path, digest credentials)."""
    rest = url[len("zk://") :]
    auth: str | None = None
    slash = rest.find("/")
    authority, path = (rest, "") if slash < 0 else (rest[:slash], rest[slash:])
    if "@" in authority:
        auth, authority = authority.rsplit("@", 1)
    path = path.rstrip("/")
    if not authority or not path:
        raise ValueError(f"not a ZooKeeper master URL: {url!r} (expected zk://host:port[,host:port]/path)")
    return authority, path, auth
