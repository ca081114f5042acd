"""Finding the leading Mesos master: the master URL forms and the election group's data (no IO).

Two forms of master address are understood:

``http://host:port`` / ``https://host:port`` (a trailing ``/api/v1/scheduler`` is tolerated)
    Used as is (:func:`detect_http_leader`). If that master is not the leader it answers SUBSCRIBE
    with ``307 Temporary Redirect`` and a scheme-relative ``Location``, which the subscription
    loop follows. A bare ``host:port`` means ``http://host:port``.

``zk://[user:password@]host1:2181,host2:2181/mesos``
    Leader election through ZooKeeper. Each master holds an ephemeral sequential child of the path
    named ``json.info_<sequence>`` whose data is the master's ``MasterInfo`` as JSON; the lowest
    sequence is the leader (:func:`leader_from_children`). Reading ZooKeeper is the registry's
    work: ``server.registry.mesos_master.detect_leader`` is the :data:`LeaderDetector` for these
    URLs (and for the http forms).
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from server.mesos.errors import NoLeader

__all__ = [
    "SCHEDULER_API_PATH",
    "LeaderDetector",
    "detect_http_leader",
    "is_election_child",
    "leader_from_children",
    "master_url_from_info",
    "normalize_master_url",
]

#: Path of the scheduler endpoint on a master.
SCHEDULER_API_PATH = "/api/v1/scheduler"

#: Finds the leading master: the master URL as configured -> its base URL ``scheme://host:port``.
#: Raises :class:`~server.mesos.errors.NoLeader` when there is none, ``ValueError`` for a URL it
#: cannot use. Called before every (re)subscription; nothing is cached.
LeaderDetector = Callable[[str], Awaitable[str]]

_ELECTION_CHILD = re.compile(r"^json\.info_(\d+)$")


async def detect_http_leader(url: str) -> str:
    """The :data:`LeaderDetector` of ``http(s)://`` URLs: the URL normalised, no IO.

    Raises ``ValueError`` for a ``zk://`` URL (that needs ZooKeeper) or a URL of an unknown form.
    """
    if url.startswith("zk://"):
        raise ValueError(f"{url!r} names a ZooKeeper election group: it needs a ZooKeeper detector")
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


def is_election_child(name: str) -> bool:
    """Whether a child of the election path takes part: ``json.info_<sequence>``."""
    return _ELECTION_CHILD.match(name) is not None


def leader_from_children(children: Mapping[str, bytes], *, scheme: str = "http") -> str:
    """Pick the leader among the children of a Mesos election path and return its base URL.

    ``children`` maps child names to their data. Only ``json.info_<sequence>`` children take part
    (``info_<seq>`` in binary protobuf from old masters and ``log_replicas`` are ignored); the
    lowest sequence number wins. Raises :class:`NoLeader` if there is none or if the leader's
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
