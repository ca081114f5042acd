"""The server factory: ``create_server(address, ...)`` builds a grpcio server, not yet started, with
every servicer, the interceptors, health and reflection, bound to ``address`` (port 0 picks a free
port, which tests use). The caller hands in what the servicers use: the credentials, the token
signer, the use cases (apps, jobs, history), and the registry connection whose state health reports."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass
from datetime import tzinfo
from typing import Protocol

import grpc
from elasticjob.cloud.v1 import (
    app_pb2,
    app_pb2_grpc,
    auth_pb2,
    auth_pb2_grpc,
    console_pb2,
    console_pb2_grpc,
    cron_pb2,
    cron_pb2_grpc,
    event_pb2,
    event_pb2_grpc,
    job_pb2,
    job_pb2_grpc,
    metrics_pb2,
    metrics_pb2_grpc,
    operate_pb2,
    operate_pb2_grpc,
    statistics_pb2,
    statistics_pb2_grpc,
    task_output_pb2,
    task_output_pb2_grpc,
)
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from server.api.console_servicer import ConsoleServicer
from server.api.cron_servicer import CronServicer
from server.api.event_servicer import EventServicer
from server.api.interceptors import AuthInterceptor, ErrorInterceptor
from server.api.metrics_servicer import MetricsServicer
from server.api.operate_servicer import OperateServicer
from server.api.servicers import AppServicer, AuthServicer, JobServicer
from server.api.statistics_servicer import StatisticsServicer
from server.api.task_output_servicer import TaskOutputReader, TaskOutputServicer
from server.api.tokens import Credentials, TokenSigner
from server.base.zones import local_zone
from server.console.assets import ConsoleAssets
from server.domain.errors import ConfigurationError
from server.usecases.apps import AppManager
from server.usecases.history import History
from server.usecases.jobs import JobManager
from server.usecases.operate import OperateManager

log = logging.getLogger("server.api")

SERVICE_NAMES = (
    auth_pb2.DESCRIPTOR.services_by_name["AuthService"].full_name,
    app_pb2.DESCRIPTOR.services_by_name["AppService"].full_name,
    job_pb2.DESCRIPTOR.services_by_name["JobService"].full_name,
    cron_pb2.DESCRIPTOR.services_by_name["CronService"].full_name,
    console_pb2.DESCRIPTOR.services_by_name["ConsoleService"].full_name,
    task_output_pb2.DESCRIPTOR.services_by_name["TaskOutputService"].full_name,
    event_pb2.DESCRIPTOR.services_by_name["EventService"].full_name,
    statistics_pb2.DESCRIPTOR.services_by_name["StatisticsService"].full_name,
    metrics_pb2.DESCRIPTOR.services_by_name["MetricsService"].full_name,
    operate_pb2.DESCRIPTOR.services_by_name["OperateService"].full_name,
)
# Health reports these: the overall server ("") and every API service.
HEALTH_NAMES = ("", *SERVICE_NAMES)


class RegistryConnection(Protocol):
    """The registry connection as health sees it (``server.registry.zookeeper.ZooKeeper``)."""

    @property
    def connected(self) -> bool: ...

    def add_state_listener(self, listener: Callable[[str], None]) -> None:
        """``listener`` hears "CONNECTED", "SUSPENDED" or "LOST" at every change."""
        ...


@dataclass(slots=True)
class ApiServer:
    """A built server: start it, read its port, stop it gracefully."""

    server: grpc.Server
    port: int
    health: health.HealthServicer

    def start(self) -> None:
        self.server.start()
        log.info("gRPC API listening on port %d", self.port)

    def stop(self, grace: float = 5.0) -> None:
        """Report NOT_SERVING, let calls in flight finish (up to ``grace`` s), then stop."""
        self.health.enter_graceful_shutdown()
        self.server.stop(grace).wait(grace + 1)


def create_server(
    address: str,
    *,
    credentials: Credentials,
    signer: TokenSigner,
    apps: AppManager,
    jobs: JobManager,
    history: History,
    operate: OperateManager,
    registry: RegistryConnection,
    zone: tzinfo | None = None,
    task_output: TaskOutputReader | None = None,
    max_workers: int = 16,
) -> ApiServer:
    """Build the server; ConfigurationError when ``address`` cannot be listened on. ``zone`` is the
    one job crons are read in (default: the machine's), which the cron preview uses by default;
    ``task_output`` reads tasks' sandbox files (without it TaskOutputService is not served)."""
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="grpc"),
        interceptors=[ErrorInterceptor(), AuthInterceptor(signer)],
        options=[("grpc.max_receive_message_length", 1 << 20)],
    )
    auth_pb2_grpc.add_AuthServiceServicer_to_server(AuthServicer(credentials, signer), server)
    app_pb2_grpc.add_AppServiceServicer_to_server(AppServicer(apps), server)
    job_pb2_grpc.add_JobServiceServicer_to_server(JobServicer(jobs), server)
    cron_pb2_grpc.add_CronServiceServicer_to_server(CronServicer(zone or local_zone()), server)
    console_pb2_grpc.add_ConsoleServiceServicer_to_server(ConsoleServicer(ConsoleAssets.packaged()), server)
    if task_output is not None:
        task_output_pb2_grpc.add_TaskOutputServiceServicer_to_server(TaskOutputServicer(task_output), server)
    event_pb2_grpc.add_EventServiceServicer_to_server(EventServicer(history), server)
    statistics_pb2_grpc.add_StatisticsServiceServicer_to_server(StatisticsServicer(history), server)
    metrics_pb2_grpc.add_MetricsServiceServicer_to_server(MetricsServicer(), server)
    operate_pb2_grpc.add_OperateServiceServicer_to_server(OperateServicer(operate), server)

    health_servicer = health.HealthServicer(experimental_non_blocking=True)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    _follow_registry(registry, health_servicer)
    reflection.enable_server_reflection(
        (*SERVICE_NAMES, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME),
        server,
    )
    try:  # grpcio raises RuntimeError where its core returns port 0
        port = server.add_insecure_port(address)
    except RuntimeError:
        port = 0
    if port == 0:
        raise ConfigurationError(f"cannot listen on {address!r}")
    return ApiServer(server=server, port=port, health=health_servicer)


def _follow_registry(registry: RegistryConnection, health_servicer: health.HealthServicer) -> None:
    """Health follows ZooKeeper: SERVING while connected, NOT_SERVING while suspended or lost."""

    def report(state: str) -> None:
        serving = health_pb2.HealthCheckResponse.SERVING
        status = serving if state == "CONNECTED" else health_pb2.HealthCheckResponse.NOT_SERVING
        for name in HEALTH_NAMES:
            health_servicer.set(name, status)

    registry.add_state_listener(report)
    report("CONNECTED" if registry.connected else "SUSPENDED")
