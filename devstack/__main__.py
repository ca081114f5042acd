"""``python -m devstack`` (what ``make run`` calls): the development stack on loopback, in the
foreground, until Ctrl-C or SIGTERM.

It starts ZooKeeper (data in ``var/zookeeper``; skipped when ``ELASTICJOB_ZK_SERVERS`` names
one), the embedded single-node cluster (work dir ``var/cluster``; skipped when
``ELASTICJOB_MESOS_URL`` names a master), ``python -m server`` with the scheduler, and Envoy, with
development credentials (root / pwd) unless ``ELASTICJOB_MODE`` says otherwise
(``ELASTICJOB_DEVSTACK_DIR`` moves ``var/``).

Guarantees (Linux):

- Every port it needs is checked before anything starts; one that is taken is refused with a
  message naming it and its variable, exit status 1. Any failure to start exits 1 after stopping
  what was started; a part that exits on its own stops the rest, exit status 1.
- SIGTERM or SIGINT stops everything, running executors and tasks included, within
  :data:`STOP_SECONDS` (then exit status 0): the server and Envoy first, then the cluster, then
  ZooKeeper, each with SIGTERM, then SIGKILL for whatever is left.
- Nothing outlives it, even when it is killed with SIGKILL. The process that was started (the
  *launcher*) only forks the *keeper*, relays SIGTERM and SIGINT to it and exits with its
  status. The keeper runs the stack as a child subreaper, so every descendant whose parent dies
  is re-parented to it and is still found and killed at the end; it gets SIGTERM when the
  launcher dies, and the launcher gets SIGTERM when its own parent (``make``) dies. Each part
  gets SIGKILL when the keeper dies.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devstack.stack import (
    PROJECT_ROOT,
    ChildProcess,
    EnvoyProxy,
    StartupCancelled,
    StartupError,
    ZooKeeperServer,
    port_taken,
    wait_for_port,
)
from server.base.processes import become_subreaper, live_processes, set_parent_death_signal
from server.base.signals import StopSignals
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
    #: Where ZooKeeper's data, the cluster's sandboxes and Envoy's config go
    #: (``ELASTICJOB_DEVSTACK_DIR``).
    work_dir: Path = PROJECT_ROOT / "var"

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> StackSettings:
        """Read the variables that are set; a port that is not a number raises StartupError."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for name, variable in _TEXT.items():
            if variable in env:
                values[name] = env[variable]
        if "ELASTICJOB_DEVSTACK_DIR" in env:
            values["work_dir"] = Path(env["ELASTICJOB_DEVSTACK_DIR"]).resolve()
        for name, variable in _PORTS.items():
            if variable in env:
                try:
                    values[name] = int(env[variable])
                except ValueError:
                    raise StartupError(f"{variable} must be a port number, not {env[variable]!r}") from None
        return cls(**values)

    def needed_ports(self) -> list[tuple[str, int, str, str]]:
        """(host, port, variable, what) of every port the stack will listen on."""
        grpc_host, _, grpc_port = self.grpc_address.rpartition(":")
        try:
            grpc = int(grpc_port)
        except ValueError:
            raise StartupError(
                f"ELASTICJOB_GRPC_ADDRESS must be host:port, not {self.grpc_address!r}"
            ) from None
        ports = [
            ("127.0.0.1", self.rest_port, "ELASTICJOB_REST_PORT", "Envoy's REST and gRPC port"),
            (grpc_host or "127.0.0.1", grpc, "ELASTICJOB_GRPC_ADDRESS", "the server's gRPC port"),
        ]
        if self.zk_servers is None:
            ports.append(("127.0.0.1", self.zk_port, "ELASTICJOB_ZK_PORT", "ZooKeeper's port"))
        if self.mesos_url is None:
            ports.append(
                ("127.0.0.1", self.cluster_port, "ELASTICJOB_CLUSTER_PORT", "the cluster master's port")
            )
            ports.append(
                (
                    "127.0.0.1",
                    self.cluster_agent_port,
                    "ELASTICJOB_CLUSTER_AGENT_PORT",
                    "the cluster agent's port",
                )
            )
        return ports

    def check_ports(self) -> None:
        """StartupError naming the first port that is not a number, is given twice, or is taken."""
        seen: dict[int, str] = {}
        for host, port, variable, what in self.needed_ports():
            if not 0 < port < 65536:
                raise StartupError(f"{variable}: {port} is not a port number (1-65535)")
            if port in seen:
                raise StartupError(f"{variable} and {seen[port]} both ask for port {port}; give each its own")
            seen[port] = variable
            if port_taken(host, port):
                raise StartupError(
                    f"port {port} ({what}, {variable}) is already in use on {host}: is another stack "
                    f"running? Stop it, or choose another port with {variable}. Nothing was started."
                )

    def server_environment(self, base: Mapping[str, str], zk_servers: str, mesos_url: str) -> dict[str, str]:
        """``python -m server``'s environment: ``base`` with the stack's ZooKeeper and master, and
        run history in ``var/trace.db`` unless ``base`` names a trace store."""
        return {
            "ELASTICJOB_EVENT_TRACE_RDB_URL": f"sqlite:///{self.work_dir / 'trace.db'}",
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


#: Longest time from the stop signal until every process of the stack is gone.
STOP_SECONDS = 8.0


def main() -> int:
    """The launcher: fork the keeper, relay stop signals to it, exit with its status."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    launcher, parent = os.getpid(), os.getppid()
    keeper = os.fork()
    if keeper == 0:
        code = 1
        try:
            code = keep(launcher)
        finally:
            logging.shutdown()
            os._exit(code)

    def relay(_signum: int, _frame: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(keeper, signal.SIGTERM)

    signal.signal(signal.SIGTERM, relay)
    signal.signal(signal.SIGINT, relay)
    set_parent_death_signal(signal.SIGTERM, parent)  # make (or the shell) died: stop the stack
    _, status = os.waitpid(keeper, 0)
    code = os.waitstatus_to_exitcode(status)
    return code if code >= 0 else 128 - code


def keep(launcher: int) -> int:
    """The keeper: start the stack, watch it, stop all of it; the exit status."""
    stopping = StopSignals(signal.SIGTERM, signal.SIGINT).event
    set_parent_death_signal(signal.SIGTERM, launcher)
    if not become_subreaper():
        log.warning("cannot become a child subreaper: processes orphaned inside the stack may outlive it")
    started: list[ChildProcess] = []
    try:
        start_stack(StackSettings.from_environment(), started, stopping)
        while not stopping.wait(0.5):
            _reap_orphans(started)
            for part in started:
                if not part.alive:
                    log.error("%s exited unexpectedly with %s; stopping", part.name, part.process.returncode)
                    return 1
        return 0
    except StartupCancelled:
        log.info("stopped while starting")
        return 0
    except StartupError as exc:
        log.error("%s", exc)
        return 1
    except Exception:
        log.exception("the stack failed; stopping")
        return 1
    finally:
        stop_stack(started)
        log.info("all stopped")


def start_stack(settings: StackSettings, started: list[ChildProcess], stopping: threading.Event) -> None:
    """Start every part, appending each to ``started`` as soon as it runs; StartupError (or
    StartupCancelled once ``stopping`` is set) when one does not come up."""
    settings.check_ports()
    var = settings.work_dir
    grpc_host, _, grpc_port = settings.grpc_address.rpartition(":")
    zk_servers = settings.zk_servers
    if zk_servers is None:
        zookeeper = ZooKeeperServer(var / "zookeeper", port=settings.zk_port)
        log.info("starting ZooKeeper on %s (log %s)", zookeeper.connect_string, var / "zookeeper")
        try:
            zookeeper.start(cancel=stopping)
        finally:
            if zookeeper.process is not None:
                started.append(zookeeper.process)
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
        wait_for_port("127.0.0.1", settings.cluster_port, 30, cluster.process, stopping)
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
    wait_for_port(grpc_host or "127.0.0.1", int(grpc_port), 30, api.process, stopping)
    envoy = EnvoyProxy(
        var / "envoy",
        grpc_host=grpc_host,
        grpc_port=int(grpc_port),
        listen_port=settings.rest_port,
        log_to_terminal=True,
    )
    try:
        envoy.start(cancel=stopping)
    finally:
        if envoy.process is not None:
            started.append(envoy.process)
    log.info(
        "ready: REST on http://127.0.0.1:%d/api (login root / pwd), console on http://127.0.0.1:%d/, gRPC on %s",
        settings.rest_port,
        settings.rest_port,
        settings.grpc_address,
    )


def stop_stack(started: Sequence[ChildProcess], budget: float = STOP_SECONDS) -> None:
    """Stop every part within ``budget`` seconds: SIGTERM to Envoy and the server, then to the
    cluster (which stops its executors and tasks), then to ZooKeeper, each given a share of the
    time; SIGKILL to any part still running; last, SIGKILL to every remaining descendant (the
    orphans re-parented to us), until none is left."""
    begin = time.monotonic()
    by_name = {part.name: part for part in started}
    stages = (("envoy", "server"), ("cluster",), ("zookeeper",))
    shares = (0.5, 0.85, 0.95)  # fraction of the budget by which each stage must be done
    for names, share in zip(stages, shares, strict=True):
        parts = [by_name[name] for name in names if name in by_name]
        for part in parts:
            part.terminate()
        for part in parts:
            if not part.wait_until(begin + budget * share):
                log.warning("%s did not stop in time; killing it", part.name)
    for part in started:
        part.kill()
    _kill_descendants(deadline=begin + budget + 1.0)


def _reap_orphans(started: Sequence[ChildProcess]) -> None:
    """Reap descendants re-parented to us that have exited (leave our own children to Popen)."""
    ours = {part.process.pid for part in started}
    while True:
        try:
            exited = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return
        if exited is None or exited.si_pid in ours:
            return
        with contextlib.suppress(ChildProcessError):
            os.waitpid(exited.si_pid, 0)


def _kill_descendants(deadline: float) -> None:
    """SIGKILL every live descendant (and the group each leads), reaping them, until none is left
    or ``deadline`` passes."""
    while True:
        found = _descendants(os.getpid())
        for pid in found:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass
        if not found:
            return
        if time.monotonic() > deadline:
            log.warning("still running after the stop: pids %s", sorted(found))
            return
        time.sleep(0.05)


def _descendants(root: int) -> list[int]:
    """Pids of the live (not zombie) descendants of ``root``, from ``/proc``."""
    children: dict[int, list[int]] = {}
    for pid, stat in live_processes().items():
        children.setdefault(stat.ppid, []).append(pid)
    found: list[int] = []
    pending = list(children.get(root, ()))
    while pending:
        pid = pending.pop()
        found.append(pid)
        pending.extend(children.get(pid, ()))
    return found


if __name__ == "__main__":
    raise SystemExit(main())
