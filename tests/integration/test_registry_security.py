"""ZooKeeper digest ACLs (ELASTICJOB_ZK_DIGEST) and the server's reflection service."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from kazoo.client import KazooClient
from kazoo.exceptions import NoAuthError

from devstack.stack import ZooKeeperServer
from testkit.harness import Stack, running_stack, unique_name


def test_with_a_digest_our_nodes_are_unreadable_without_the_credentials(
    zk_server: ZooKeeperServer, zk: KazooClient, tmp_path: Path
) -> None:
    with running_stack(zk_server.connect_string, tmp_path, zk_digest="elasticjob:s3cret") as stack:
        app_name = unique_name("app")
        with stack.rest(stack.login()) as client:
            response = client.post(
                "/api/app",
                json={"appName": app_name, "appURL": "http://h/a.tgz", "bootstrapScript": "run.sh"},
            )
        assert response.status_code == 200, response.text
        with pytest.raises(NoAuthError):
            zk.get(stack.paths.app(app_name))
        authorised = KazooClient(hosts=zk_server.connect_string, auth_data=[("digest", "elasticjob:s3cret")])
        authorised.start(timeout=10)
        try:
            data, _ = authorised.get(stack.paths.app(app_name))
        finally:
            authorised.stop()
            authorised.close()
        assert app_name.encode() in data


def test_reflection_lists_every_api_service(stack: Stack) -> None:
    with grpc.insecure_channel(stack.grpc_target) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        responses = stub.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5
        )
        names = {
            service.name for response in responses for service in response.list_services_response.service
        }
    assert {
        "elasticjob.cloud.v1.AuthService",
        "elasticjob.cloud.v1.AppService",
        "elasticjob.cloud.v1.JobService",
        "grpc.health.v1.Health",
    } <= names
