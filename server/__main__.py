"""``python -m server``: the API server (and, with ``ELASTICJOB_MESOS_URL``, the scheduler) until
SIGTERM or SIGINT. Exits with 2 when the settings are unusable."""

from __future__ import annotations

import logging
import signal
import sys
import threading

from server.domain.errors import ConfigurationError
from server.settings import Settings
from server.wiring import build

log = logging.getLogger("server")


def main() -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    logging.getLogger("kazoo.client").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per Mesos call otherwise
    try:
        settings = Settings.from_environment()
        server = build(settings)
    except ConfigurationError as exc:
        log.error("%s", exc)
        return 2
    if server.scheduler is None:
        log.warning("ELASTICJOB_MESOS_URL is not set: jobs are stored and queued but not run")
    if not server.start():
        log.warning(
            "ZooKeeper at %s not reachable yet; answering UNAVAILABLE until it is", settings.zk_servers
        )

    def on_signal(signum: int, _frame: object) -> None:
        log.info("received %s, shutting down", signal.Signals(signum).name)
        threading.Thread(target=server.stop, name="shutdown").start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    log.info(
        "ElasticJob-Cloud API ready on %s (namespace %s, %s mode)",
        settings.grpc_address,
        settings.zk_namespace,
        "development" if settings.development else "production",
    )
    server.wait()
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
