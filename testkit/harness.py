"""Test harness: real ZooKeeper, the real gRPC server and a real Envoy on free loopback ports.

Processes are started through ``devstack`` (the one place that starts them); everything
started here is stopped by the context managers, so tests never collide with ``make run``.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import httpx
from kazoo.client import KazooClient

from devstack.stack import EnvoyProxy, ZooKeeperServer
from server.api.server import ApiServer, create_server
from server.registry.paths import RegistryPaths
from server.registry.zookeeper import ZooKeeper
from server.settings import Settings

TOKEN_SECRET = "test-secret-0123456789abcdef"


def unique_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def make_settings(namespace: str, zk_servers: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "development": True,
        "zk_servers": zk_servers,
        "zk_namespace": namespace,
        "zk_timeout_seconds": 2.0,
        "grpc_address": "127.0.0.1:0",
        "token_secret": TOKEN_SECRET,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@dataclass
class Stack:
    """A running API: gRPC server (direct) plus Envoy (REST and gRPC) on one ZooKeeper namespace."""

    settings: Settings
    registry: ZooKeeper
    api: ApiServer
    envoy: EnvoyProxy

    @property
    def paths(self) -> RegistryPaths:
        return self.registry.paths

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.api.port}"

    @property
    def envoy_grpc_target(self) -> str:
        return f"127.0.0.1:{self.envoy.listen_port}"

    def rest(self, token: str | None = None) -> httpx.Client:
        headers = {"accessToken": token} if token else {}
        return httpx.Client(base_url=self.envoy.base_url, headers=headers, timeout=10.0)

    def login(self) -> str:
        with self.rest() as client:
            response = client.post(
                "/api/login",
                json={"username": self.settings.auth_username, "password": self.settings.auth_password},
            )
            response.raise_for_status()
            return str(response.json()["accessToken"])


@contextlib.contextmanager
def zookeeper_server(work_dir: Path) -> Iterator[ZooKeeperServer]:
    server = ZooKeeperServer(work_dir)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def running_stack(zk_servers: str, work_dir: Path, **overrides: object) -> Iterator[Stack]:
    """Start the API server and Envoy against ``zk_servers`` in a fresh namespace."""
    settings = make_settings(unique_name("ns"), zk_servers, **overrides)
    registry = ZooKeeper(
        settings.zk_servers,
        namespace=settings.zk_namespace,
        digest=settings.zk_digest,
        timeout=settings.zk_timeout_seconds,
    )
    registry.start(wait=10)
    api = create_server(settings, registry)
    api.start()
    envoy = EnvoyProxy(work_dir / "envoy", grpc_port=api.port)
    try:
        envoy.start()
        yield Stack(settings=settings, registry=registry, api=api, envoy=envoy)
    finally:
        envoy.stop()
        api.stop(grace=0.5)
        registry.stop()


def snapshot(client: KazooClient, root: str) -> dict[str, bytes]:
    """Every node under ``root`` with its data, to prove a refused request wrote nothing."""
    nodes: dict[str, bytes] = {}

    def walk(path: str) -> None:
        data, _ = client.get(path)
        nodes[path] = data
        for child in client.get_children(path):
            walk(f"{path}/{child}")

    if client.exists(root):
        walk(root)
    return nodes


def grpc_metadata(token: str) -> tuple[tuple[str, str], ...]:
    return (("accesstoken", token),)


def channel(target: str) -> grpc.Channel:
    return grpc.insecure_channel(target)
