"""The server factory: ``create_server(settings, zookeeper)`` builds a started-able grpcio server
with every servicer, the interceptors, health and reflection, bound to ``settings.grpc_address``
(port 0 picks a free port, which tests use)."""

from __future__ import annotations

import logging
from concurrent import futures
from dataclasses import dataclass

import grpc
from elasticjob.cloud.v1 import app_pb2, app_pb2_grpc, auth_pb2, auth_pb2_grpc, job_pb2, job_pb2_grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from server.api.interceptors import AuthInterceptor, ErrorInterceptor
from server.api.servicers import AppServicer, AuthServicer, JobServicer
from server.api.tokens import Credentials, TokenSigner
from server.domain.errors import ConfigurationError
from server.registry.apps import AppRepository
from server.registry.disabled import DisabledFlags
from server.registry.jobs import JobRepository
from server.registry.ready import ReadyQueue
from server.registry.zookeeper import ZooKeeper
from server.settings import Settings
from server.usecases.apps import AppManager
from server.usecases.jobs import JobEvents, JobManager

log = logging.getLogger("server.api")

SERVICE_NAMES = (
    auth_pb2.DESCRIPTOR.services_by_name["AuthService"].full_name,
    app_pb2.DESCRIPTOR.services_by_name["AppService"].full_name,
    job_pb2.DESCRIPTOR.services_by_name["JobService"].full_name,
)
# Health reports these: the overall server ("") and every API service.
HEALTH_NAMES = ("", *SERVICE_NAMES)


@dataclass(slots=True)
class ApiServer:
    """A built server: start it, read its port, stop it gracefully."""

    server: grpc.Server
    port: int
    health: health.HealthServicer
    job_manager: JobManager

    def start(self) -> None:
        self.server.start()
        log.info("gRPC API listening on port %d", self.port)

    def stop(self, grace: float = 5.0) -> None:
        """Report NOT_SERVING, let calls in flight finish (up to ``grace`` s), then stop."""
        self.health.enter_graceful_shutdown()
        self.server.stop(grace).wait(grace + 1)


def create_server(
    settings: Settings, zookeeper: ZooKeeper, *, job_events: JobEvents | None = None, max_workers: int = 16
) -> ApiServer:
    signer = TokenSigner(settings.token_secret, settings.token_ttl_seconds)
    job_manager = JobManager(
        JobRepository(zookeeper), ReadyQueue(zookeeper), DisabledFlags(zookeeper), job_events
    )
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="grpc"),
        interceptors=[ErrorInterceptor(), AuthInterceptor(signer)],
        options=[("grpc.max_receive_message_length", 1 << 20)],
    )
    auth_pb2_grpc.add_AuthServiceServicer_to_server(
        AuthServicer(Credentials(settings.auth_username, settings.auth_password), signer), server
    )
    app_pb2_grpc.add_AppServiceServicer_to_server(AppServicer(AppManager(AppRepository(zookeeper))), server)
    job_pb2_grpc.add_JobServiceServicer_to_server(JobServicer(job_manager), server)

    health_servicer = health.HealthServicer(experimental_non_blocking=True)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    _follow_registry(zookeeper, health_servicer)
    reflection.enable_server_reflection(
        (*SERVICE_NAMES, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME),
        server,
    )
    port = server.add_insecure_port(settings.grpc_address)
    if port == 0:
        raise ConfigurationError(f"cannot listen on ELASTICJOB_GRPC_ADDRESS {settings.grpc_address!r}")
    return ApiServer(server=server, port=port, health=health_servicer, job_manager=job_manager)


def _follow_registry(zookeeper: ZooKeeper, health_servicer: health.HealthServicer) -> None:
    """Health follows ZooKeeper: SERVING while connected, NOT_SERVING while suspended or lost."""

    def report(state: str) -> None:
        serving = health_pb2.HealthCheckResponse.SERVING
        status = serving if state == "CONNECTED" else health_pb2.HealthCheckResponse.NOT_SERVING
        for name in HEALTH_NAMES:
            health_servicer.set(name, status)

    zookeeper.add_state_listener(report)
    report("CONNECTED" if zookeeper.connected else "SUSPENDED")
