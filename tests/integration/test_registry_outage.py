"""ZooKeeper goes away mid-run: requests answer 503 within a bounded time, and work again once it
is back. This test owns its ZooKeeper, so stopping it disturbs no other test."""

from __future__ import annotations

from pathlib import Path

import grpc
import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc

from testkit.harness import running_stack, unique_name, zookeeper_server
from testkit.polling import eventually

REQUEST_TIMEOUT = 15.0


def health_status(target: str) -> int:
    with grpc.insecure_channel(target) as channel:
        response = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=""), timeout=5
        )
    return int(response.status)


def test_zookeeper_outage_answers_503_and_recovers(tmp_path: Path) -> None:
    with (
        zookeeper_server(tmp_path / "zk") as zk_server,
        running_stack(zk_server.connect_string, tmp_path) as stack,
    ):
        token = stack.login()
        app = {"appURL": "http://h/app.tar.gz", "bootstrapScript": "run.sh"}
        with httpx.Client(
            base_url=stack.envoy.base_url, headers={"accessToken": token}, timeout=REQUEST_TIMEOUT
        ) as c:
            assert c.post("/api/app", json={"appName": unique_name("before"), **app}).status_code == 200

            zk_server.stop()
            during = c.post("/api/app", json={"appName": unique_name("during"), **app})
            assert during.status_code == 503, during.text
            assert during.json()["code"] == 14
            assert "ZooKeeper" in during.json()["message"]
            assert eventually(
                lambda: health_status(stack.grpc_target) == health_pb2.HealthCheckResponse.NOT_SERVING
            )

            zk_server.start()
            recovered_name = unique_name("after")
            assert eventually(
                lambda: c.post("/api/app", json={"appName": recovered_name, **app}).status_code == 200
            )
            assert health_status(stack.grpc_target) == health_pb2.HealthCheckResponse.SERVING
