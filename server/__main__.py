"""``python -m server``: run the API server (and, as issues add them, the scheduler) until SIGTERM."""

from __future__ import annotations

import logging
import signal
import sys
import threading

from server.api.server import create_server
from server.base.clock import SystemClock
from server.domain.errors import ConfigurationError
from server.registry.zookeeper import ZooKeeper
from server.scheduler.service import SchedulerService, SchedulerSettings
from server.settings import Settings

log = logging.getLogger("server")


def main() -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    logging.getLogger("kazoo.client").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per Mesos call otherwise
    try:
        settings = Settings.from_environment()
    except ConfigurationError as exc:
        log.error("%s", exc)
        return 2
    zookeeper = ZooKeeper(
        settings.zk_servers,
        namespace=settings.zk_namespace,
        digest=settings.zk_digest,
        timeout=settings.zk_timeout_seconds,
    )
    if not zookeeper.start(wait=settings.zk_timeout_seconds):
        log.warning(
            "ZooKeeper at %s not reachable yet; answering UNAVAILABLE until it is", settings.zk_servers
        )
    scheduler: SchedulerService | None = None
    if settings.mesos_url:
        scheduler = SchedulerService(
            zookeeper,
            SchedulerSettings(
                mesos_url=settings.mesos_url,
                executor_command=settings.executor_command,
                executor_uri=settings.executor_uri,
                mesos_user=settings.mesos_user,
                mesos_role=settings.mesos_role,
                # Executors evaluate DAEMON crons in the scheduler's zone, on any agent.
                executor_environment={"ELASTICJOB_TIMEZONE": settings.timezone} if settings.timezone else {},
                zone=settings.zone(),
            ),
            clock=SystemClock(),
        )
    else:
        log.warning("ELASTICJOB_MESOS_URL is not set: jobs are stored and queued but not run")
    try:
        api = create_server(settings, zookeeper, job_events=scheduler)
    except ConfigurationError as exc:
        log.error("%s", exc)
        zookeeper.stop()
        return 2
    if scheduler is not None:
        scheduler.start()
    stopping = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        log.info("received %s, shutting down", signal.Signals(signum).name)
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    api.start()
    log.info(
        "ElasticJob-Cloud API ready on %s (namespace %s, %s mode)",
        settings.grpc_address,
        settings.zk_namespace,
        "development" if settings.development else "production",
    )
    stopping.wait()
    if scheduler is not None:
        scheduler.stop()
    api.stop()
    zookeeper.stop()
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
