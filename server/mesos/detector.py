"""Finding the leading Mesos master.

Two forms of master address are understood:

``http://host:port`` / ``https://host:port`` (a trailing ``/api/v1/scheduler`` is tolerated)
    Used as is. If that master is not the leader it answers SUBSCRIBE with ``307 Temporary
    Redirect`` and a scheme-relative ``Location: //leader:port/api/v1/scheduler``; the client
    follows it with :func:`resolve_location`. A bare ``host:port`` means ``http://host:port``.

``zk://[user:password@]host1:2181,host2:2181/mesos``
    Leader election through ZooKeeper. Each master holds an ephemeral sequential child of the path
    named ``json.info_<sequence>`` whose data is the master's ``MasterInfo`` as JSON; the lowest
    sequence is the leader. Other children (``info_<seq>`` in binary protobuf from old masters,
    ``log_replicas``) are ignored. See :func:`leader_from_children`.

Detection is done afresh on every (re)subscription: nothing is cached, so a session lost to
ZooKeeper or a master failover between two calls costs nothing but one more lookup.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from server.mesos.errors import NoLeader

__all__ = [
    "SCHEDULER_API_PATH",
    "detect_leader",
    "leader_from_children",
    "master_url_from_info",
    "normalize_master_url",
    "resolve_location",
]

#: Path of the scheduler endpoint on a master.
SCHEDULER_API_PATH = "/api/v1/scheduler"

_ELECTION_CHILD = re.compile(r"^json\.info_(\d+)$")


async def detect_leader(url: str, *, zk_timeout: float = 10.0) -> str:
    """Return the base URL (``http://host:port``) of the leading master named by ``url``.

    For ``http(s)://`` URLs no IO is done: the URL is normalised and returned, and redirects are
    followed later by the client. For ``zk://`` URLs ZooKeeper is read once (in a worker thread,
    because kazoo is synchronous) within ``zk_timeout`` seconds.

    Raises :class:`NoLeader` when no leader can be found (unreachable ZooKeeper, no election
    children, unreadable MasterInfo) and ``ValueError`` for a URL of an unknown form.
    """
    if url.startswith("zk://"):
        hosts, path, auth = _split_zk_url(url)
        children = await asyncio.to_thread(_read_election_children, hosts, path, auth, zk_timeout)
        return leader_from_children(children)
    return normalize_master_url(url)


def normalize_master_url(url: str) -> str:
    """Turn ``host:port``, ``http://host:port/`` or ``http://host:port/api/v1/scheduler`` into
    ``scheme://host:port``."""
    candidate = url.strip()
    if "://" not in candidate:
        candidate = "http://" + candidate
    parts = urlsplit(candidate)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"not a Mesos master URL: {url!r} (expected http://host:port or zk://hosts/path)")
    path = parts.path.rstrip("/")
    if path.endswith(SCHEDULER_API_PATH):
        path = path[: -len(SCHEDULER_API_PATH)]
    return f"{parts.scheme}://{parts.netloc}{path}"


def resolve_location(current_endpoint: str, location: str) -> str:
    """Return the scheduler endpoint URL a ``307`` response points to.

    Masters answer with a scheme-relative ``Location: //host:port/api/v1/scheduler``; older ones
    sent ``//host:port`` or a bare ``host:port``. The scheme of the request that was redirected is
    kept, and the scheduler path is appended when the location has none.
    """
    scheme = urlsplit(current_endpoint).scheme or "http"
    target = location.strip()
    if not target:
        raise ValueError("empty Location header")
    if target.startswith("//"):
        target = f"{scheme}:{target}"
    elif "://" not in target:
        if target.startswith("/"):
            current = urlsplit(current_endpoint)
            target = f"{current.scheme}://{current.netloc}{target}"
        else:
            target = f"{scheme}://{target}"
    parts = urlsplit(target)
    path = parts.path.rstrip("/")
    if not path.endswith(SCHEDULER_API_PATH):
        path += SCHEDULER_API_PATH
    return f"{parts.scheme}://{parts.netloc}{path}"


def leader_from_children(children: Mapping[str, bytes], *, scheme: str = "http") -> str:
    """Pick the leader among the children of a Mesos election path and return its base URL.

    ``children`` maps child names to their data. Only ``json.info_<sequence>`` children take part;
    the lowest sequence number wins. Raises :class:`NoLeader` if there is none or if the leader's
    MasterInfo cannot be read.
    """
    candidates: list[tuple[int, str]] = []
    for name in children:
        match = _ELECTION_CHILD.match(name)
        if match is not None:
            candidates.append((int(match.group(1)), name))
    if not candidates:
        raise NoLeader(f"no json.info_* election children among {sorted(children)}")
    _, leader = min(candidates)
    try:
        info = json.loads(children[leader])
    except (ValueError, UnicodeDecodeError) as exc:
        raise NoLeader(f"leader node {leader} does not hold MasterInfo JSON") from exc
    if not isinstance(info, dict):
        raise NoLeader(f"leader node {leader} holds JSON that is not a MasterInfo object")
    return master_url_from_info(info, scheme=scheme)


def master_url_from_info(info: Mapping[str, Any], *, scheme: str = "http") -> str:
    """Build ``scheme://host:port`` from a MasterInfo JSON object.

    ``address.ip`` is preferred (it is what the master advertises to be reached at, as Mesos' own
    scheduler library does), then ``address.hostname``, then the legacy top-level ``hostname``.
    The port is ``address.port``, else the legacy top-level ``port``.
    """
    address = info.get("address")
    address = address if isinstance(address, Mapping) else {}
    host = address.get("ip") or address.get("hostname") or info.get("hostname")
    port = address.get("port") or info.get("port")
    if not isinstance(host, str) or not host:
        raise NoLeader(f"MasterInfo has no address: {dict(info)!r}")
    if not isinstance(port, int) or not 0 < port < 65536:
        raise NoLeader(f"MasterInfo has no valid port: {dict(info)!r}")
    try:
        if ipaddress.ip_address(host).version == 6:
            host = f"[{host}]"
    except ValueError:
        pass  # a hostname, used as is
    return f"{scheme}://{host}:{port}"


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


def _read_election_children(hosts: str, path: str, auth: str | None, timeout: float) -> dict[str, bytes]:
    """Read the data of every ``json.info_*`` child of ``path`` (blocking; run in a thread)."""
    # Imported here so that the module (and the http:// path) does not need kazoo at import time.
    from kazoo.client import KazooClient
    from kazoo.exceptions import KazooException, NoNodeError
    from kazoo.handlers.threading import KazooTimeoutError

    zk = KazooClient(
        hosts=hosts,
        timeout=timeout,
        auth_data=[("digest", auth)] if auth else None,
        read_only=True,
    )
    try:
        zk.start(timeout=timeout)
        names = zk.get_children(path)
        children: dict[str, bytes] = {}
        for name in names:
            if not _ELECTION_CHILD.match(name):
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
