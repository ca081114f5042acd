"""A throwaway PostgreSQL from Debian's package, for the trace store's tests.

``PostgresServer`` runs ``initdb`` in a fresh temporary directory and ``postgres`` on a free
loopback port with trust authentication on loopback, and removes the directory when stopped.
Running as root, both run as the ``postgres`` system user (they refuse root), in a directory that
user owns. ``stop()`` / ``start()`` may be called again on the same data (tests stop the database
mid-run and bring it back); ``pause()`` / ``resume()`` freeze and thaw every process of the server
(SIGSTOP / SIGCONT to the postmaster and each of its children, which run in sessions of their
own), so connections hang instead of being refused.
"""

from __future__ import annotations

import contextlib
import functools
import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg

from devstack.stack import StartupError, free_port
from server.base.processes import set_parent_death_signal

if TYPE_CHECKING:
    import pytest

__all__ = ["PostgresServer", "postgres_binaries", "postgres_server"]


def postgres_binaries() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` holding ``initdb`` and ``postgres``."""
    found = [
        Path(path).parent
        for path in glob.glob("/usr/lib/postgresql/*/bin/postgres")
        if (Path(path).parent / "initdb").exists()
    ]

    def version(directory: Path) -> tuple[int, ...]:
        return tuple(int(part) for part in directory.parent.name.split(".") if part.isdigit())

    return max(found, key=version) if found else None


class PostgresServer:
    """One PostgreSQL cluster in a temporary directory, listening on ``127.0.0.1:port``."""

    def __init__(self, port: int | None = None) -> None:
        binaries = postgres_binaries()
        if binaries is None:
            raise StartupError("PostgreSQL is not installed: run 'make deps' (apt-get install postgresql)")
        self.binaries = binaries
        self.host = "127.0.0.1"
        self.port = port or free_port(self.host)
        self.data_dir = Path(tempfile.mkdtemp(prefix="elasticjob-pg-"))
        self._user = "postgres" if os.geteuid() == 0 else None
        if self._user is not None:
            os.chmod(self.data_dir, 0o700)
            try:
                shutil.chown(self.data_dir, self._user, self._user)
            except LookupError:
                shutil.rmtree(self.data_dir, ignore_errors=True)
                raise StartupError(
                    "running as root needs the 'postgres' user (Debian's postgresql package creates it)"
                ) from None
        self.process: subprocess.Popen[bytes] | None = None
        self._initialised = False
        self._paused: list[int] = []

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of ``database`` (psycopg 3 driver)."""
        return f"postgresql+psycopg://postgres@{self.host}:{self.port}/{database}"

    def _run(self, *argv: str, log: Path | None = None) -> subprocess.Popen[bytes]:
        output = open(log, "ab") if log is not None else subprocess.DEVNULL  # noqa: SIM115
        try:
            return subprocess.Popen(
                list(argv),
                user=self._user,
                group=self._user,
                extra_groups=[] if self._user else None,
                cwd=self.data_dir,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=functools.partial(set_parent_death_signal, signal.SIGKILL, os.getpid()),
            )
        finally:
            if log is not None and not isinstance(output, int):
                output.close()

    def start(self, timeout: float = 30.0) -> None:
        data = self.data_dir / "data"
        log = self.data_dir / "postgres.log"
        if not self._initialised:
            init = self._run(
                str(self.binaries / "initdb"),
                "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync",
                log=log,
            )  # fmt: skip
            if init.wait(120) != 0:
                raise StartupError(f"initdb failed: {self.describe_failure()}")
            self._initialised = True
        self.process = self._run(
            str(self.binaries / "postgres"),
            "-D", str(data), "-p", str(self.port), "-h", self.host, "-k", str(self.data_dir),
            "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
            "-c", "max_connections=60", "-c", "shared_buffers=16MB",
            log=log,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise StartupError(f"postgres exited: {self.describe_failure()}")
            if self.ready():
                return
            time.sleep(0.1)
        raise StartupError(f"postgres not ready after {timeout:.0f}s: {self.describe_failure()}")

    def ready(self) -> bool:
        try:
            with psycopg.connect(
                host=self.host, port=self.port, user="postgres", dbname="postgres", connect_timeout=1
            ):
                return True
        except psycopg.Error:
            return False

    def create_database(self, prefix: str = "trace") -> str:
        """A new, empty database; its SQLAlchemy URL."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(
            host=self.host, port=self.port, user="postgres", dbname="postgres", autocommit=True
        ) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def pause(self) -> None:
        """Freeze the postmaster and its backends: connects and queries hang until ``resume()``.

        The postmaster is frozen first, so that it forks no backend meanwhile; its children call
        ``setsid()``, so each is signalled by its pid rather than through the postmaster's group.
        """
        if self.process is None or self.process.poll() is not None:
            raise RuntimeError("postgres is not running")
        os.kill(self.process.pid, signal.SIGSTOP)
        self._paused = [self.process.pid, *_children_of(self.process.pid)]
        for pid in self._paused[1:]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)

    def resume(self) -> None:
        """Thaw what ``pause()`` froze (nothing when not paused)."""
        paused, self._paused = self._paused, []
        for pid in reversed(paused):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGCONT)

    def stop(self, grace: float = 10.0) -> None:
        """Fast shutdown (SIGINT: open sessions are ended), then SIGKILL if it lingers; a paused
        server is resumed first, so that it can shut down."""
        self.resume()
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def remove(self) -> None:
        """Stop and delete the data directory."""
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def describe_failure(self) -> str:
        log = self.data_dir / "postgres.log"
        tail = log.read_text(errors="replace").splitlines()[-15:] if log.exists() else []
        return f"postgres (log {log}):\n" + "\n".join(tail)


def _children_of(pid: int) -> list[int]:
    """The pids of ``pid``'s live children (from ``/proc/<pid>/stat``, whose 4th field is the
    parent's pid; the 2nd, the command in parentheses, may hold spaces)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields and int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return children


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    server = PostgresServer()
    try:
        server.start()
        yield server
    finally:
        server.remove()


def trace_database_url(request: pytest.FixtureRequest, kind: str, directory: Path) -> str:
    """A fresh trace store URL of ``kind`` (a parametrized fixture's ``sqlite`` or
    ``postgresql``): a SQLite file in ``directory``, or a new database on the session PostgreSQL."""
    if kind == "sqlite":
        return f"sqlite:///{directory / 'trace.db'}"
    postgres: PostgresServer = request.getfixturevalue("postgres")
    return postgres.create_database()
