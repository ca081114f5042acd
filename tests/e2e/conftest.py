"""One running system (ZooKeeper, embedded cluster, server with scheduler, Envoy) per e2e module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devstack.stack import ZooKeeperServer
from testkit.e2e import System, running_system


@pytest.fixture(scope="module")
def system(zk_server: ZooKeeperServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    with running_system(zk_server.connect_string, tmp_path_factory.mktemp("e2e")) as running:
        yield running
