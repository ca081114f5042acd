"""Finding the leading Mesos master in the masters' ZooKeeper election group (``zk://`` URLs),
against a real ZooKeeper, and the scheduler client subscribing through that detector."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import NoAuthError, NoNodeError
from kazoo.security import make_digest_acl

from devstack.stack import ZooKeeperServer
from server.mesos.client import Backoff, FrameworkInfo, MesosSchedulerClient
from server.mesos.errors import NoLeader
from server.registry.mesos_master import detect_leader
from testkit.harness import unique_name
from testkit.mesos_double import MesosMasterDouble


def master_info(ip: str, port: int) -> bytes:
    return json.dumps({"id": f"master-{port}", "address": {"ip": ip, "port": port}}).encode()


@pytest.fixture
def election(zk: KazooClient) -> Iterator[str]:
    """A fresh, empty election path."""
    path = f"/{unique_name('mesos')}"
    zk.create(path, makepath=True)
    yield path
    zk.delete(path, recursive=True)


def join(zk: KazooClient, path: str, ip: str, port: int, **options: Any) -> str:
    """A master joins the election (as Mesos does: an ephemeral sequential json.info_ child)."""
    return str(
        zk.create(f"{path}/json.info_", master_info(ip, port), ephemeral=True, sequence=True, **options)
    )


async def test_the_lowest_json_info_child_is_the_leader(
    zk_server: ZooKeeperServer, zk: KazooClient, election: str
) -> None:
    first = join(zk, election, "10.0.0.1", 5050)
    join(zk, election, "10.0.0.2", 5051)
    zk.create(f"{election}/log_replicas", b"")
    zk.create(f"{election}/info_", b"\x08\x01binary-protobuf", sequence=True)
    url = f"zk://{zk_server.connect_string}{election}"

    assert await detect_leader(url) == "http://10.0.0.1:5050"

    zk.delete(first)  # the leader leaves: the next lookup finds its successor, nothing is cached
    assert await detect_leader(url) == "http://10.0.0.2:5051"


async def test_an_empty_election_or_a_missing_path_raises_no_leader(
    zk_server: ZooKeeperServer, election: str
) -> None:
    with pytest.raises(NoLeader):
        await detect_leader(f"zk://{zk_server.connect_string}{election}")
    with pytest.raises(NoLeader) as caught:
        await detect_leader(f"zk://{zk_server.connect_string}{election}/absent")
    assert isinstance(caught.value.__cause__, NoNodeError)


async def test_credentials_in_the_url_log_in_with_digest(
    zk_server: ZooKeeperServer, zk_server_client_with_auth: KazooClient, election: str
) -> None:
    acl = [make_digest_acl("mesos", "secret", all=True)]
    child = join(zk_server_client_with_auth, election, "10.0.0.9", 5050, acl=acl)
    try:
        url = f"zk://mesos:secret@{zk_server.connect_string}{election}"
        assert await detect_leader(url) == "http://10.0.0.9:5050"
        with pytest.raises(NoLeader) as caught:
            await detect_leader(f"zk://{zk_server.connect_string}{election}")
        assert isinstance(caught.value.__cause__, NoAuthError)
    finally:
        zk_server_client_with_auth.delete(child)


@pytest.fixture
def zk_server_client_with_auth(zk_server: ZooKeeperServer) -> Iterator[KazooClient]:
    client = KazooClient(hosts=zk_server.connect_string, auth_data=[("digest", "mesos:secret")])
    client.start(timeout=10)
    yield client
    client.stop()
    client.close()


async def test_unreachable_zookeeper_raises_no_leader() -> None:
    with pytest.raises(NoLeader) as caught:
        await detect_leader("zk://127.0.0.1:9/mesos", zk_timeout=0.5)
    assert caught.value.__cause__ is not None


@pytest.mark.parametrize("url", ["zk://127.0.0.1:2181", "zk:///mesos", "ftp://m:21"])
async def test_a_master_url_of_an_unknown_form_is_refused(url: str) -> None:
    with pytest.raises(ValueError):
        await detect_leader(url)


async def test_the_scheduler_client_subscribes_to_the_master_zookeeper_names(
    zk_server: ZooKeeperServer, zk: KazooClient, election: str
) -> None:
    subscribed = asyncio.Event()

    class Handler:
        async def on_subscribed(self, framework_id: str, heartbeat_interval: float) -> None:
            subscribed.set()

        async def on_offers(self, offers: list[dict[str, Any]]) -> None: ...
        async def on_rescind(self, offer_id: str) -> None: ...
        async def on_update(self, status: dict[str, Any]) -> None: ...
        async def on_message(self, agent_id: str, executor_id: str, data: bytes) -> None: ...
        async def on_failure(
            self, agent_id: str | None, executor_id: str | None, status: int | None
        ) -> None: ...
        async def on_error(self, message: str) -> None: ...
        async def on_disconnected(self) -> None: ...
        async def tasks_to_reconcile(self) -> list[tuple[str, str | None]]:
            return []

    async with MesosMasterDouble() as master:
        address = urlsplit(master.base_url)
        assert address.hostname is not None and address.port is not None
        join(zk, election, address.hostname, address.port)
        client = MesosSchedulerClient(
            f"zk://{zk_server.connect_string}{election}",
            FrameworkInfo(user="tester", name="zk-detected"),
            Handler(),
            detect=detect_leader,
            backoff=Backoff(initial=0.05, maximum=0.2),
        )
        task = asyncio.create_task(client.run())
        try:
            await asyncio.wait_for(subscribed.wait(), 10)
            assert client.endpoint == master.endpoint
        finally:
            await client.close()
            await task


def test_a_zk_master_without_a_zookeeper_detector_is_refused_at_once() -> None:
    with pytest.raises(ValueError, match="ZooKeeper"):
        MesosSchedulerClient("zk://zk:2181/mesos", FrameworkInfo(user="u", name="n"), None)  # type: ignore[arg-type]
