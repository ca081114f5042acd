"""The same services called directly over gRPC: the auth check lives in the server, not in Envoy."""

from __future__ import annotations

from datetime import UTC, datetime

import grpc
import pytest
from elasticjob.cloud.v1 import app_pb2, app_pb2_grpc, job_pb2, job_pb2_grpc
from google.api import httpbody_pb2
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from server.api.tokens import TokenSigner
from testkit.clock import ManualClock
from testkit.harness import Stack, grpc_metadata, json_value, unique_name

LONG_AGO = datetime.fromtimestamp(100.0, UTC)


def publish_request(name: str) -> app_pb2.PublishAppRequest:
    return app_pb2.PublishAppRequest(
        app_name=name, app_url="file:///srv/app.tar.gz", bootstrap_script="run.sh"
    )


@pytest.mark.parametrize("kind", ["none", "forged", "expired"])
def test_direct_grpc_calls_without_a_valid_token_are_unauthenticated(stack: Stack, kind: str) -> None:
    metadata: tuple[tuple[str, str], ...] = ()
    if kind == "forged":
        metadata = grpc_metadata("eyJzdWIiOiJyb290In0.AAAA")
    elif kind == "expired":
        metadata = grpc_metadata(
            TokenSigner(stack.settings.token_secret, 5, clock=ManualClock(LONG_AGO)).issue("root")
        )
    with grpc.insecure_channel(stack.grpc_target) as channel, pytest.raises(grpc.RpcError) as caught:
        app_pb2_grpc.AppServiceStub(channel).PublishApp(
            publish_request(unique_name("app")), metadata=metadata, timeout=5
        )
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_direct_grpc_call_with_a_token_works(stack: Stack, token: str) -> None:
    name = unique_name("app")
    with grpc.insecure_channel(stack.grpc_target) as channel:
        app = app_pb2_grpc.AppServiceStub(channel).PublishApp(
            publish_request(name), metadata=grpc_metadata(token), timeout=5
        )
    assert app.app_name == name
    assert app.cpu_count == 1.0
    assert app.memory_mb == 128.0


def test_an_invalid_field_carries_a_bad_request_detail_naming_it(stack: Stack, token: str) -> None:
    request = job_pb2.JobConfigRequest(
        app_name="whatever",
        job_name=unique_name("job"),
        cpu_count=json_value(0.0),
        memory_mb=json_value(64),
        job_execution_type="TRANSIENT",
        sharding_total_count=json_value(1),
    )
    with grpc.insecure_channel(stack.grpc_target) as channel, pytest.raises(grpc.RpcError) as caught:
        job_pb2_grpc.JobServiceStub(channel).RegisterJob(request, metadata=grpc_metadata(token), timeout=5)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(caught.value)
    assert status is not None
    detail = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(detail)
    assert detail.field_violations[0].field == "cpuCount"


def test_trigger_over_grpc_takes_the_name_as_raw_bytes(stack: Stack, token: str) -> None:
    with grpc.insecure_channel(stack.grpc_target) as channel, pytest.raises(grpc.RpcError) as caught:
        job_pb2_grpc.JobServiceStub(channel).TriggerJob(
            job_pb2.TriggerJobRequest(body=httpbody_pb2.HttpBody(data=b"no_such_job")),
            metadata=grpc_metadata(token),
            timeout=5,
        )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert "no_such_job" in (caught.value.details() or "")


def test_health_reports_serving_while_zookeeper_is_connected(stack: Stack) -> None:
    with grpc.insecure_channel(stack.grpc_target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        overall = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
        jobs = stub.Check(health_pb2.HealthCheckRequest(service="elasticjob.cloud.v1.JobService"), timeout=5)
    assert overall.status == health_pb2.HealthCheckResponse.SERVING
    assert jobs.status == health_pb2.HealthCheckResponse.SERVING
