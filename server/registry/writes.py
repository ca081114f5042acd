"""Writes whose outcome is unknown: sent to ZooKeeper, but not confirmed in time.

A request ZooKeeper has received may still be applied after the client stopped waiting (a paused
or slow server answers late), so a timed-out write is not a refused one. ``RegistryUnavailable``
raised for it says so; the use cases make an identical retry succeed when the value was stored.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from server.domain.errors import RegistryUnavailable
from server.registry.zookeeper import ZooKeeper


@contextlib.contextmanager
def outcome_unknown_on_timeout(zookeeper: ZooKeeper, what: str) -> Iterator[None]:
    """Around one write of ``what``: unavailability once the write may have been sent says its
    outcome is unknown; a disconnected client (nothing sent) is reported as it is."""
    if not zookeeper.connected:
        raise RegistryUnavailable(f"ZooKeeper at {zookeeper.servers} is unreachable; {what} was not written")
    try:
        yield
    except RegistryUnavailable as exc:
        raise RegistryUnavailable(
            f"{exc}; the write of {what} may or may not have been applied: "
            "retrying the same request is safe (it succeeds if the value was stored)"
        ) from exc
