"""``python -m server``: the API server (and, with ``ELASTICJOB_MESOS_URL``, the scheduler) until
SIGTERM or SIGINT. Exits with 2 when the settings are unusable.

On the first SIGTERM or SIGINT it stops in order (calls in flight, the scheduler, the ZooKeeper
connection) and exits 0 within :data:`SHUTDOWN_SECONDS`, whether or not ZooKeeper and the Mesos
master answer: what has not finished by then (a call or the election still waiting on an
unreachable ZooKeeper) is abandoned, and the exit is immediate.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading

from server.base.signals import StopSignals
from server.domain.errors import ConfigurationError
from server.settings import Settings
from server.wiring import build

log = logging.getLogger("server")

#: Longest time from the stop signal to the exit.
SHUTDOWN_SECONDS = 4.5
#: How long calls in flight may take to finish once the stop has begun.
CALL_GRACE_SECONDS = 1.5


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

    stop_signals = StopSignals(signal.SIGTERM, signal.SIGINT)
    log.info(
        "ElasticJob-Cloud API ready on %s (namespace %s, %s mode)",
        settings.grpc_address,
        settings.zk_namespace,
        "development" if settings.development else "production",
    )
    stop_signals.event.wait()
    received = stop_signals.received
    log.info("received %s, shutting down", received.name if received is not None else "a stop signal")
    threading.Thread(
        target=server.stop,
        kwargs={"grace": CALL_GRACE_SECONDS, "timeout": SHUTDOWN_SECONDS - 0.5},
        name="shutdown",
        daemon=True,
    ).start()
    if server.wait(SHUTDOWN_SECONDS):
        log.info("stopped")
    else:
        log.warning("not stopped cleanly within %.1fs; exiting anyway", SHUTDOWN_SECONDS)
    # Threads still waiting on an unreachable ZooKeeper (a call's handler, the election) would
    # hold a normal interpreter exit: leave without them.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
