"""The metrics servicer: the process's Prometheus metrics as an ``HttpBody`` (``GET /metrics``)."""

from __future__ import annotations

import grpc
from elasticjob.cloud.v1 import metrics_pb2, metrics_pb2_grpc
from google.api import httpbody_pb2

from server.telemetry import metrics


class MetricsServicer(metrics_pb2_grpc.MetricsServiceServicer):
    def GetMetrics(
        self, request: metrics_pb2.GetMetricsRequest, context: grpc.ServicerContext
    ) -> httpbody_pb2.HttpBody:
        return httpbody_pb2.HttpBody(content_type=metrics.CONTENT_TYPE, data=metrics.exposition())
