"""``python -m server.cluster``: run the embedded single-node cluster until SIGTERM / SIGINT.

Once both APIs listen, the bound addresses are written to ``<work-dir>/cluster.json``
(``{"master_url", "agent_url", "agent_id", "pid"}``), which is how a caller that asked for port 0
learns the ports. On SIGTERM or SIGINT every executor and task is killed before exit.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from server.cluster.cluster import EmbeddedCluster
from server.cluster.resources import Ranges, ResourceError, format_ranges, parse_ranges
from server.cluster.settings import AgentSettings, ClusterSettings, MasterSettings

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


def _ports(text: str) -> Ranges:
    try:
        return parse_ranges(text)
    except ResourceError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _boolean(text: str) -> bool:
    if text.lower() in ("true", "1", "yes", "on"):
        return True
    if text.lower() in ("false", "0", "no", "off"):
        return False
    raise argparse.ArgumentTypeError("must be true or false")


# (flag, settings object, field, type, help): the defaults are the settings' own.
_FLAGS: tuple[tuple[str, type[Any], str, Callable[[str], Any], str], ...] = (
    ("--host", ClusterSettings, "host", str, "address both APIs listen on"),
    ("--port", ClusterSettings, "port", int, "master port, scheduler API (0: any)"),
    ("--agent-port", ClusterSettings, "agent_port", int, "agent port, executor API (0: any)"),
    ("--work-dir", ClusterSettings, "work_dir", Path, "sandboxes, fetch cache, pid records"),
    ("--hostname", ClusterSettings, "hostname", str, "agent hostname in offers (default: --host)"),
    ("--cpus", ClusterSettings, "cpus", float, "cpus to offer (default: this machine's CPU count)"),
    ("--mem", ClusterSettings, "mem", float, "memory to offer in MB (default: this machine's total)"),
    (
        "--disk",
        ClusterSettings,
        "disk",
        float,
        "disk to offer in MB (default: the work dir's file system less 5 GB, or half of it under 10 GB)",
    ),
    ("--ports", ClusterSettings, "ports", _ports, "port ranges to offer, as [31000-32000] ('[]': none)"),
    ("--heartbeat-interval", MasterSettings, "heartbeat_interval", float, "seconds between HEARTBEAT events"),
    (
        "--offer-timeout",
        MasterSettings,
        "offer_timeout",
        _seconds_or_none,
        "rescind unused offers after this many seconds ('none': never)",
    ),
    (
        "--failover-timeout-cap",
        MasterSettings,
        "failover_timeout_cap",
        _cap_or_none,
        "upper bound on frameworks' failover_timeout, in seconds ('none': no bound)",
    ),
    (
        "--executor-registration-timeout",
        AgentSettings,
        "executor_registration_timeout",
        float,
        "seconds an executor has to subscribe",
    ),
    (
        "--executor-shutdown-grace-period",
        AgentSettings,
        "executor_shutdown_grace_period",
        float,
        "seconds between SHUTDOWN and SIGKILL",
    ),
    (
        "--update-retry-interval",
        AgentSettings,
        "update_retry_interval",
        float,
        "seconds before an unacknowledged update is resent (doubling after each resend)",
    ),
    (
        "--update-retry-interval-max",
        AgentSettings,
        "update_retry_interval_max",
        float,
        "longest wait between resends of an unacknowledged update, in seconds",
    ),
    (
        "--switch-user",
        AgentSettings,
        "switch_user",
        _boolean,
        "as root, run tasks as their CommandInfo.user or FrameworkInfo.user (true/false)",
    ),
)


def _default(owner: type[Any], name: str) -> Any:
    (declared,) = [item for item in dataclasses.fields(owner) if item.name == name]
    return declared.default


def parse_arguments(argv: list[str] | None = None) -> ClusterSettings:
    """The cluster's settings from its command line (flags not given keep the settings' defaults);
    also sets up logging."""
    parser = argparse.ArgumentParser(
        prog="python -m server.cluster",
        description="One Mesos-compatible master and agent on this machine (v1 scheduler and executor HTTP APIs).",
    )
    for flag, owner, name, kind, text in _FLAGS:
        default = _default(owner, name)
        shown = (
            "" if default is None else f" (default {format_ranges(default) if name == 'ports' else default})"
        )
        parser.add_argument(
            flag,
            dest=f"{owner.__name__}.{name}",
            metavar=name.upper(),
            type=kind,
            default=argparse.SUPPRESS,
            help=text + shown,
        )
    parser.add_argument("--log-level", default="INFO", help="logging level (default %(default)s)")
    arguments = vars(parser.parse_args(argv))
    logging.basicConfig(
        level=arguments.pop("log_level").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    given: dict[str, dict[str, Any]] = {}
    for key, value in arguments.items():
        owner_name, name = key.split(".")
        given.setdefault(owner_name, {})[name] = value
    return ClusterSettings(
        **given.get(ClusterSettings.__name__, {}),
        master=MasterSettings(**given.get(MasterSettings.__name__, {})),
        agent=AgentSettings(**given.get(AgentSettings.__name__, {})),
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
