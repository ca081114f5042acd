"""Shared fixtures: one real ZooKeeper and one API stack (server + Envoy) per test session.

Tests own their data through unique app and job names (``unique_name``); tests that break
ZooKeeper start their own (see ``testkit/harness.py``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kazoo.client import KazooClient

from devstack.stack import ZooKeeperServer
from testkit.harness import Stack, running_stack, zookeeper_server
from testkit.postgres import PostgresServer, postgres_server


@pytest.fixture(scope="session")
def zk_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ZooKeeperServer]:
    with zookeeper_server(tmp_path_factory.mktemp("zookeeper")) as server:
        yield server


@pytest.fixture(scope="session")
def stack(zk_server: ZooKeeperServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(zk_server.connect_string, tmp_path_factory.mktemp("stack")) as running:
        yield running


@pytest.fixture(scope="session")
def zk(zk_server: ZooKeeperServer) -> Iterator[KazooClient]:
    """A plain kazoo client for looking at (and planting) nodes directly."""
    client = KazooClient(hosts=zk_server.connect_string)
    client.start(timeout=10)
    yield client
    client.stop()
    client.close()


@pytest.fixture(scope="session")
def token(stack: Stack) -> str:
    return stack.login()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One PostgreSQL for the session; tests take a fresh database with ``create_database()``."""
    with postgres_server() as server:
        yield server
