"""``python -m devstack`` (what ``make run`` calls): the development stack on loopback, in the
foreground, until Ctrl-C or SIGTERM.

It starts ZooKeeper (data in ``var/zookeeper``; skipped when ``ELASTICJOB_ZK_SERVERS`` names
one), the embedded single-node cluster (work dir ``var/cluster``; skipped when
``ELASTICJOB_MESOS_URL`` names a master), ``python -m server`` with the scheduler, and Envoy, with
development credentials (root / pwd) unless ``ELASTICJOB_MODE`` says otherwise. Each is a child
process; they are stopped in reverse order, and one that exits stops the rest.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from devstack.stack import (
    PROJECT_ROOT,
    ChildProcess,
    EnvoyProxy,
    StartupError,
    ZooKeeperServer,
    wait_for_port,
)
from server.settings import DEFAULT_GRPC_ADDRESS

log = logging.getLogger("devstack")


@dataclass(frozen=True, kw_only=True, slots=True)
class StackSettings:
    """What the launcher reads from its environment; the server reads its own settings itself."""

    #: Envoy's REST and gRPC port (``ELASTICJOB_REST_PORT``).
    rest_port: int = 8899
    #: Where the server listens (``ELASTICJOB_GRPC_ADDRESS``, which the server reads too).
    grpc_address: str = DEFAULT_GRPC_ADDRESS
    #: An existing ZooKeeper (``ELASTICJOB_ZK_SERVERS``); None starts one on ``zk_port``.
    zk_servers: str | None = None
    zk_port: int = 2181
    #: An existing Mesos master (``ELASTICJOB_MESOS_URL``); None starts the embedded cluster.
    mesos_url: str | None = None
    cluster_port: int = 5050
    cluster_agent_port: int = 5051
    #: The server's ``ELASTICJOB_MODE``.
    mode: str = "development"

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> StackSettings:
        """Read the variables that are set; a port that is not a number raises StartupError."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for name, variable in _TEXT.items():
            if variable in env:
                values[name] = env[variable]
        for name, variable in _PORTS.items():
            if variable in env:
                try:
                    values[name] = int(env[variable])
                except ValueError:
                    raise StartupError(f"{variable} must be a port number, not {env[variable]!r}") from None
        return cls(**values)

    def server_environment(self, base: Mapping[str, str], zk_servers: str, mesos_url: str) -> dict[str, str]:
        """``python -m server``'s environment: ``base`` with the stack's ZooKeeper and master."""
        return {
            **base,
            "ELASTICJOB_MODE": self.mode,
            "ELASTICJOB_ZK_SERVERS": zk_servers,
            "ELASTICJOB_GRPC_ADDRESS": self.grpc_address,
            "ELASTICJOB_MESOS_URL": mesos_url,
        }


# field -> variable
_TEXT = {
    "grpc_address": "ELASTICJOB_GRPC_ADDRESS",
    "zk_servers": "ELASTICJOB_ZK_SERVERS",
    "mesos_url": "ELASTICJOB_MESOS_URL",
    "mode": "ELASTICJOB_MODE",
}
_PORTS = {
    "rest_port": "ELASTICJOB_REST_PORT",
    "zk_port": "ELASTICJOB_ZK_PORT",
    "cluster_port": "ELASTICJOB_CLUSTER_PORT",
    "cluster_agent_port": "ELASTICJOB_CLUSTER_AGENT_PORT",
}


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    var = PROJECT_ROOT / "var"
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    started: list[ZooKeeperServer | ChildProcess | EnvoyProxy] = []
    try:
        settings = StackSettings.from_environment()
        grpc_host, _, grpc_port = settings.grpc_address.rpartition(":")
        zk_servers = settings.zk_servers
        if zk_servers is None:
            zookeeper = ZooKeeperServer(var / "zookeeper", port=settings.zk_port)
            log.info("starting ZooKeeper on %s (log %s)", zookeeper.connect_string, var / "zookeeper")
            zookeeper.start()
            started.append(zookeeper)
            zk_servers = zookeeper.connect_string
        mesos_url = settings.mesos_url
        if mesos_url is None:
            log.info(
                "starting the embedded single-node cluster on 127.0.0.1:%d (work dir %s)",
                settings.cluster_port,
                var / "cluster",
            )
            cluster = ChildProcess(
                "cluster",
                [
                    sys.executable,
                    "-m",
                    "server.cluster",
                    "--port",
                    str(settings.cluster_port),
                    "--agent-port",
                    str(settings.cluster_agent_port),
                    "--work-dir",
                    str(var / "cluster"),
                ],
                cwd=PROJECT_ROOT,
            )
            started.append(cluster)
            wait_for_port("127.0.0.1", settings.cluster_port, 30, cluster.process)
            mesos_url = f"http://127.0.0.1:{settings.cluster_port}"
        else:
            log.info("using the Mesos master at %s", mesos_url)
        api = ChildProcess(
            "server",
            [sys.executable, "-m", "server"],
            env=settings.server_environment(os.environ, zk_servers, mesos_url),
            cwd=PROJECT_ROOT,
        )
        started.append(api)
        wait_for_port(grpc_host or "127.0.0.1", int(grpc_port), 30, api.process)
        envoy = EnvoyProxy(
            var / "envoy",
            grpc_host=grpc_host,
            grpc_port=int(grpc_port),
            listen_port=settings.rest_port,
            log_to_terminal=True,
        )
        envoy.start()
        started.append(envoy)
        log.info(
            "ready: REST on http://127.0.0.1:%d/api (login root / pwd), gRPC on %s",
            settings.rest_port,
            settings.grpc_address,
        )
        while not stopping.wait(0.5):
            for part in started:
                process = part if isinstance(part, ChildProcess) else part.process
                if process is not None and not process.alive:
                    log.error("%s exited unexpectedly; stopping", process.name)
                    stopping.set()
        return 0
    except StartupError as exc:
        log.error("%s", exc)
        return 1
    finally:
        for part in reversed(started):
            part.stop()
        log.info("all stopped")


if __name__ == "__main__":
    raise SystemExit(main())
