"""``python -m server.cluster``: run the embedded single-node cluster until SIGTERM / SIGINT.

Once both APIs listen, the bound addresses are written to ``<work-dir>/cluster.json``
(``{"master_url", "agent_url", "agent_id", "pid"}``), which is how a caller that asked for port 0
learns the ports. On SIGTERM or SIGINT every executor and task is killed before exit.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from pathlib import Path

from server.cluster.cluster import ClusterSettings, EmbeddedCluster

log = logging.getLogger("server.cluster")

ENDPOINTS_FILE = "cluster.json"


def _cap_or_none(text: str) -> float | None:
    if text.lower() == "none":
        return None
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError("must be a number of seconds (0 or more), or 'none'")
    return value


def _seconds_or_none(text: str) -> float | None:
    if text.lower() in ("none", "off", "0"):
        return None
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError("must be a positive number of seconds, or 'none'")
    return value


def parse_arguments(argv: list[str] | None = None) -> ClusterSettings:
    parser = argparse.ArgumentParser(
        prog="python -m server.cluster",
        description="One Mesos-compatible master and agent on this machine (v1 scheduler and executor HTTP APIs).",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address both APIs listen on (default %(default)s)"
    )
    parser.add_argument(
        "--port", type=int, default=5050, help="master port, scheduler API (default %(default)s; 0: any)"
    )
    parser.add_argument(
        "--agent-port", type=int, default=5051, help="agent port, executor API (default %(default)s; 0: any)"
    )
    parser.add_argument(
        "--work-dir", type=Path, default=Path("var/cluster"), help="sandboxes, fetch cache, pid records"
    )
    parser.add_argument("--hostname", default=None, help="agent hostname in offers (default: --host)")
    parser.add_argument(
        "--cpus", type=float, default=None, help="cpus to offer (default: this machine's CPU count)"
    )
    parser.add_argument(
        "--mem", type=float, default=None, help="memory to offer in MB (default: this machine's total)"
    )
    parser.add_argument(
        "--disk", type=float, default=None, help="disk to offer in MB (default: none offered)"
    )
    parser.add_argument(
        "--heartbeat-interval", type=float, default=15.0, help="seconds between HEARTBEAT events"
    )
    parser.add_argument(
        "--offer-timeout",
        type=_seconds_or_none,
        default=30.0,
        help="rescind unused offers after this many seconds ('none': never)",
    )
    parser.add_argument(
        "--failover-timeout-cap",
        type=_cap_or_none,
        default=None,
        help="upper bound on frameworks' failover_timeout, in seconds (default: none)",
    )
    parser.add_argument(
        "--executor-registration-timeout",
        type=float,
        default=60.0,
        help="seconds an executor has to subscribe",
    )
    parser.add_argument(
        "--executor-shutdown-grace-period",
        type=float,
        default=5.0,
        help="seconds between SHUTDOWN and SIGKILL",
    )
    parser.add_argument(
        "--update-retry-interval",
        type=float,
        default=10.0,
        help="seconds between resends of an unacknowledged update",
    )
    parser.add_argument("--log-level", default="INFO", help="logging level (default %(default)s)")
    arguments = parser.parse_args(argv)
    logging.basicConfig(
        level=arguments.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    return ClusterSettings(
        work_dir=arguments.work_dir,
        host=arguments.host,
        port=arguments.port,
        agent_port=arguments.agent_port,
        hostname=arguments.hostname,
        cpus=arguments.cpus,
        mem=arguments.mem,
        disk=arguments.disk,
        heartbeat_interval=arguments.heartbeat_interval,
        offer_timeout=arguments.offer_timeout,
        failover_timeout_cap=arguments.failover_timeout_cap,
        executor_registration_timeout=arguments.executor_registration_timeout,
        executor_shutdown_grace_period=arguments.executor_shutdown_grace_period,
        update_retry_interval=arguments.update_retry_interval,
    )


async def serve(settings: ClusterSettings) -> None:
    """Run the cluster until SIGTERM or SIGINT, then stop it cleanly."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    endpoints = settings.work_dir.resolve() / ENDPOINTS_FILE
    with contextlib.suppress(FileNotFoundError):
        endpoints.unlink()  # left by a run that was killed: nobody must read it as ours
    cluster = EmbeddedCluster(settings)
    await cluster.start()
    try:
        _write_endpoints(
            endpoints,
            {
                "master_url": cluster.master_url,
                "agent_url": cluster.agent_url,
                "agent_id": cluster.agent_id,
                "pid": os.getpid(),
            },
        )
        await stop.wait()
        log.info("signal received: stopping the embedded cluster")
    finally:
        await cluster.stop()
        with contextlib.suppress(FileNotFoundError):
            endpoints.unlink()


def _write_endpoints(path: Path, content: dict[str, object]) -> None:
    partial = path.with_name(f".{path.name}.tmp")
    partial.write_text(json.dumps(content, indent=1) + "\n")
    os.replace(partial, path)


def main(argv: list[str] | None = None) -> int:
    settings = parse_arguments(argv)
    try:
        asyncio.run(serve(settings))
    except OSError as exc:
        log.error("cannot start the embedded cluster: %s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
