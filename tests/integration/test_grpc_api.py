"""The same services called directly over gRPC: the auth check lives in the server, not in Envoy."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import grpc
import pytest
from elasticjob.cloud.v1 import app_pb2, app_pb2_grpc, job_pb2, job_pb2_grpc
from google.api import httpbody_pb2
from google.protobuf import empty_pb2
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


def _register_request(app_name: str, job_name: str) -> job_pb2.JobConfigRequest:
    return job_pb2.JobConfigRequest(
        app_name=app_name,
        job_name=job_name,
        cpu_count=json_value(0.1),
        memory_mb=json_value(32),
        job_execution_type="TRANSIENT",
        sharding_total_count=json_value(2),
    )


def test_jobs_are_run_disabled_and_deleted_by_name_over_grpc(stack: Stack, token: str) -> None:
    """The named-field methods need no base64 body: ``RunJob`` and ``DeleteJob`` take ``job_name``."""
    metadata = grpc_metadata(token)
    app_name, job_name = unique_name("app"), unique_name("job")
    with grpc.insecure_channel(stack.grpc_target) as channel:
        apps, jobs = app_pb2_grpc.AppServiceStub(channel), job_pb2_grpc.JobServiceStub(channel)
        apps.PublishApp(publish_request(app_name), metadata=metadata, timeout=5)
        jobs.RegisterJob(_register_request(app_name, job_name), metadata=metadata, timeout=5)
        assert (
            jobs.GetJob(job_pb2.GetJobRequest(job_name=job_name), metadata=metadata, timeout=5).job_name
            == job_name
        )
        jobs.RunJob(job_pb2.RunJobRequest(job_name=job_name), metadata=metadata, timeout=5)
        ready = jobs.ListReadyJobs(job_pb2.ListReadyJobsRequest(), metadata=metadata, timeout=5)
        assert job_pb2.ReadyJob(job_name=job_name, times=1) in ready.ready_jobs
        jobs.DisableJob(job_pb2.DisableJobRequest(job_name=job_name), metadata=metadata, timeout=5)
        disabled = jobs.GetJobDisabled(
            job_pb2.GetJobDisabledRequest(job_name=job_name), metadata=metadata, timeout=5
        )
        assert disabled.value is True
        jobs.EnableJob(job_pb2.EnableJobRequest(job_name=job_name), metadata=metadata, timeout=5)
        jobs.DeleteJob(job_pb2.DeleteJobRequest(job_name=job_name), metadata=metadata, timeout=5)
        with pytest.raises(grpc.RpcError) as caught:
            jobs.GetJob(job_pb2.GetJobRequest(job_name=job_name), metadata=metadata, timeout=5)
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
        with pytest.raises(grpc.RpcError) as caught:
            jobs.RunJob(job_pb2.RunJobRequest(job_name=""), metadata=metadata, timeout=5)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        apps.DeleteApp(app_pb2.DeleteAppRequest(app_name=app_name), metadata=metadata, timeout=5)
        with pytest.raises(grpc.RpcError) as caught:
            apps.GetApp(app_pb2.GetAppRequest(app_name=app_name), metadata=metadata, timeout=5)
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND


def test_list_methods_page_with_page_size_and_page_token(stack: Stack, token: str) -> None:
    """AIP-158: every item once across the pages, in order; the last page has no next token."""
    metadata = grpc_metadata(token)
    app_name = unique_name("app")
    with grpc.insecure_channel(stack.grpc_target) as channel:
        apps, jobs = app_pb2_grpc.AppServiceStub(channel), job_pb2_grpc.JobServiceStub(channel)
        apps.PublishApp(publish_request(app_name), metadata=metadata, timeout=5)
        apps.PublishApp(publish_request(unique_name("app")), metadata=metadata, timeout=5)
        for _ in range(5):
            jobs.RegisterJob(_register_request(app_name, unique_name("job")), metadata=metadata, timeout=5)
        everything = jobs.ListJobs(job_pb2.ListJobsRequest(), metadata=metadata, timeout=5)
        assert everything.next_page_token == ""
        names = [job.job_name for job in everything.jobs]
        assert names == sorted(names) and len(names) >= 5

        paged: list[str] = []
        token_in = ""
        while True:
            page = jobs.ListJobs(
                job_pb2.ListJobsRequest(page_size=2, page_token=token_in), metadata=metadata, timeout=5
            )
            assert len(page.jobs) <= 2
            paged += [job.job_name for job in page.jobs]
            if not page.next_page_token:
                break
            token_in = page.next_page_token
        assert paged == names

        first = apps.ListApps(app_pb2.ListAppsRequest(page_size=1), metadata=metadata, timeout=5)
        assert len(first.apps) == 1 and first.next_page_token
        for bad in (app_pb2.ListAppsRequest(page_size=-1), app_pb2.ListAppsRequest(page_token="%%%")):
            with pytest.raises(grpc.RpcError) as caught:
                apps.ListApps(bad, metadata=metadata, timeout=5)
            assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT

        array = jobs.ListJobsArray(empty_pb2.Empty(), metadata=metadata, timeout=5)
        assert array.content_type == "application/json"
        assert [job["jobName"] for job in json.loads(array.data)] == names
