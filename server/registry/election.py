"""Leader election among the server processes: ``/ha/election``, kazoo's ``Election`` recipe.

Guarantees across connection loss:
- Each participant holds an ephemeral sequential node under ``/ha/election``; the one with the
  lowest runs its ``lead`` callable. A suspended connection ends nothing by itself: if the
  session comes back within its timeout, the node and the leadership are kept.
- A lost (expired) session deletes the node, so another participant may be elected at once. The
  loss listeners hear it (from kazoo's thread) as soon as the client learns it, which for a
  client cut off from ZooKeeper is only when it reconnects: a successor may lead before then.
  The leader must stop leading when told (``lead`` is not interrupted), and cannot rely on being
  the only leader meanwhile: the scheduler relies on Mesos, whose master refuses the old
  leader's calls once the successor has subscribed as the same framework.
- ``run`` returns once ``lead`` returns (the node is deleted, if the session still exists) or the
  participation is cancelled; connection trouble while waiting or leaving raises
  ``RegistryUnavailable``. Calling ``run`` again queues anew, in the current session.
"""

from __future__ import annotations

from collections.abc import Callable

from kazoo.client import KazooState
from kazoo.exceptions import KazooException
from kazoo.handlers.threading import KazooTimeoutError

from server.domain.errors import RegistryUnavailable
from server.registry.zookeeper import ZooKeeper


class LeaderElection:
    def __init__(self, zookeeper: ZooKeeper, identifier: str) -> None:
        self._zk = zookeeper
        self.identifier = identifier
        self._election = zookeeper.client.Election(zookeeper.paths.election, identifier)

    @property
    def connected(self) -> bool:
        """Whether the connection is up (campaigning without one would only fail)."""
        return self._zk.connected

    def add_loss_listener(self, listener: Callable[[], None]) -> None:
        """Have ``listener()`` called (from kazoo's thread) whenever the session is lost."""

        def on_state(state: str) -> None:
            if state == KazooState.LOST:
                listener()

        self._zk.add_state_listener(on_state)

    def run(self, lead: Callable[[], None]) -> None:
        """Wait to be elected, then call ``lead()``; leave the election when it returns."""
        try:
            self._election.run(lead)
        except (KazooException, KazooTimeoutError) as exc:
            raise RegistryUnavailable(f"leader election at {self._zk.servers} interrupted: {exc!r}") from exc

    def cancel(self) -> None:
        """Stop waiting to be elected (``run`` returns); a running ``lead`` is not interrupted."""
        self._election.cancel()
