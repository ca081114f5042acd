"""Test harness: real ZooKeeper, the real gRPC server and a real Envoy on free loopback ports.

The server is built by ``server.wiring.build``, as ``python -m server`` builds it; ZooKeeper and
Envoy run as child processes through ``devstack``'s classes. Everything started here is stopped
by the context managers, and every port is a free one, so tests never collide with ``make run``.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import httpx
from google.protobuf import json_format, struct_pb2
from kazoo.client import KazooClient

from devstack.stack import EnvoyProxy, ZooKeeperServer
from server.api.server import ApiServer
from server.registry.paths import RegistryPaths
from server.registry.zookeeper import ZooKeeper
from server.settings import Settings
from server.wiring import Server, build

TOKEN_SECRET = "test-secret-0123456789abcdef"


def unique_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def make_settings(namespace: str, zk_servers: str, **overrides: object) -> Settings:
    """Development settings on ``zk_servers`` in ``namespace``, the API on a free port."""
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

    server: Server
    envoy: EnvoyProxy

    @property
    def settings(self) -> Settings:
        return self.server.settings

    @property
    def registry(self) -> ZooKeeper:
        return self.server.zookeeper

    @property
    def api(self) -> ApiServer:
        return self.server.api

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
    server = build(make_settings(unique_name("ns"), zk_servers, **overrides))
    server.start(zookeeper_wait=10)
    envoy = EnvoyProxy(work_dir / "envoy", grpc_port=server.port)
    try:
        envoy.start()
        yield Stack(server=server, envoy=envoy)
    finally:
        envoy.stop()
        server.stop(grace=0.5)


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


def json_value(plain: object) -> struct_pb2.Value:
    """A JSON-like Python value (bool, number, string, None, list, dict) as a ``Value``, the type
    of the number and boolean fields of the request messages."""
    return json_format.ParseDict(plain, struct_pb2.Value())


def channel(target: str) -> grpc.Channel:
    return grpc.insecure_channel(target)
