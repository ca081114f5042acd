"""``GET /metrics`` through the real Envoy to the real server: what a Prometheus scrape gets.

Prometheus scrapes without credentials by default and reads the text format 0.0.4 (content type
``text/plain; version=0.0.4``; Prometheus "Exposition formats"); Envoy's gRPC-JSON transcoder
answers a ``google.api.HttpBody`` response with its ``content_type`` and raw ``data`` (Envoy
"gRPC-JSON transcoder", "Sending arbitrary content")."""

from __future__ import annotations

import grpc
import httpx
from elasticjob.cloud.v1 import app_pb2, app_pb2_grpc, metrics_pb2, metrics_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from testkit.harness import Stack


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_metrics_are_served_without_a_token_and_parse(stack: Stack) -> None:
    with httpx.Client(base_url=stack.envoy.base_url, timeout=10) as client:
        response = client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert not any(name.startswith("grpc-") for name in response.headers)
    values = samples(response.text)
    names = {name for name, _ in values}
    assert "elasticjob_leader" in names
    assert "elasticjob_zookeeper_request_seconds_count" in names
    assert "elasticjob_trace_events_dropped_total" in names


def test_zookeeper_requests_of_an_api_call_show_in_the_next_scrape(stack: Stack, token: str) -> None:
    def acall_count() -> float:
        with httpx.Client(base_url=stack.envoy.base_url, timeout=10) as client:
            values = samples(client.get("/metrics").text)
        return sum(
            value
            for (name, labels), value in values.items()
            if name == "elasticjob_zookeeper_request_seconds_count"
        )

    before = acall_count()
    with stack.rest(token) as client:
        client.post(
            "/api/app",
            json={"appName": "metrics_probe_app", "appURL": "http://h/a.tgz", "bootstrapScript": "bin/s.sh"},
        )
    assert acall_count() > before


def test_only_metrics_is_exempt_from_the_token(stack: Stack) -> None:
    with grpc.insecure_channel(stack.grpc_target) as channel:
        body = metrics_pb2_grpc.MetricsServiceStub(channel).GetMetrics(metrics_pb2.GetMetricsRequest())
        assert body.content_type.startswith("text/plain; version=0.0.4")
        assert b"elasticjob_leader" in body.data
        try:
            app_pb2_grpc.AppServiceStub(channel).PublishApp(app_pb2.PublishAppRequest())
        except grpc.RpcError as exc:
            assert exc.code() is grpc.StatusCode.UNAUTHENTICATED
        else:
            raise AssertionError("PublishApp without a token was accepted")
    with httpx.Client(base_url=stack.envoy.base_url, timeout=10) as client:
        assert client.post("/metrics").status_code in (404, 405)
