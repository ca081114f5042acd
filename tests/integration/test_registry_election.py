"""Leader election (``LeaderElection``): one participant leads at a time; a lost session ends the
leadership at once (a successor is elected, the old leader is told), and the old leader can queue
again in its new session."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from devstack.stack import ZooKeeperServer
from server.domain.errors import RegistryUnavailable
from server.registry.election import LeaderElection
from server.registry.zookeeper import ZooKeeper
from testkit.harness import unique_name
from testkit.scheduling import expire_session

WAIT = 15.0


class Participant:
    """A server process in the election: leads until told to leave."""

    def __init__(self, zk_servers: str, namespace: str, name: str) -> None:
        self.zookeeper = ZooKeeper(zk_servers, namespace=namespace, timeout=5.0)
        assert self.zookeeper.start(wait=10)
        self.election = LeaderElection(self.zookeeper, name)
        self.lost = threading.Event()
        self.election.add_loss_listener(self.lost.set)
        self.leading = threading.Event()
        self.leave = threading.Event()
        self.thread: threading.Thread | None = None

    def campaign(self) -> None:
        self.leave.clear()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        with contextlib.suppress(RegistryUnavailable):
            self.election.run(self._lead)

    def _lead(self) -> None:
        self.leading.set()
        try:
            self.leave.wait(WAIT * 2)
        finally:
            self.leading.clear()

    def stop(self) -> None:
        self.leave.set()
        self.election.cancel()
        if self.thread is not None:
            self.thread.join(WAIT)
        self.zookeeper.stop()


@contextlib.contextmanager
def participants(zk_servers: str, *names: str) -> Iterator[list[Participant]]:
    namespace = unique_name("election")
    started = [Participant(zk_servers, namespace, name) for name in names]
    try:
        yield started
    finally:
        for participant in started:
            participant.stop()


def test_one_participant_leads_at_a_time_and_the_next_leads_when_it_leaves(
    zk_server: ZooKeeperServer,
) -> None:
    with participants(zk_server.connect_string, "first", "second") as (first, second):
        first.campaign()
        assert first.leading.wait(WAIT)
        second.campaign()
        assert not second.leading.wait(0.5)

        first.leave.set()

        assert second.leading.wait(WAIT)
        assert first.thread is not None
        first.thread.join(WAIT)
        assert not first.thread.is_alive()  # run returned once lead did
        assert not first.leading.is_set()


def test_a_lost_session_elects_a_successor_tells_the_old_leader_and_lets_it_queue_again(
    zk_server: ZooKeeperServer,
) -> None:
    with participants(zk_server.connect_string, "first", "second") as (first, second):
        first.campaign()
        assert first.leading.wait(WAIT)
        second.campaign()
        assert not second.leading.wait(0.5)

        expire_session(first.zookeeper)

        assert first.lost.wait(WAIT)  # the old leader is told ...
        assert second.leading.wait(WAIT)  # ... and a successor leads
        assert first.leading.is_set()  # the election does not stop the old lead: the leader must
        first.leave.set()
        assert first.thread is not None
        first.thread.join(WAIT)
        assert not first.thread.is_alive()

        first.campaign()  # queues again, in its new session, behind the leader
        assert not first.leading.wait(0.5)
        second.leave.set()
        assert first.leading.wait(WAIT)
