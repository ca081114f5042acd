"""One run of a shard's bootstrap script, where its output goes, and how many run at once.

A run (:class:`ScriptRun`) is a process started by :func:`server.base.processes.start_process`:
its own session and process group (a kill reaches everything it forked), ``/dev/null`` as stdin,
exactly the environment given, SIGKILLed by the kernel if the executor dies (Linux). Its stdout
and stderr are pipes back to the executor, which copies every line

- to the executor's own stdout / stderr (the sandbox's ``stdout`` / ``stderr`` files, where the
  agent points them), prefixed with ``[job-item]``, with ``--- run ...`` lines where each run
  starts and ends, so one shard's lines can be told from another's; and
- unprefixed to ``<sandbox>/shards/<job>-<item>.log`` (stdout and stderr together), one file per
  shard that the README points newcomers at.

The last :data:`STDERR_TAIL_LINES` stderr lines of the latest run are kept (:meth:`ShardOutput.stderr_tail`)
for the failure cause a failed run is reported with.

A run ends when its leader process exits. Anything it left running in its process group is then
stopped (SIGTERM, SIGKILL one second later), so no run outlives its report and two runs of one
task never overlap. A run killed on request (:meth:`ScriptRun.terminate`) gets SIGTERM to the
whole group, then SIGKILL after the grace period.

:class:`RunSlots` limits concurrency: every run holds one of ``parallelism`` executor-wide slots
(``CPU``, the default: up to the core count at once), and runs of a ``SINGLE_THREAD`` job also
take that job's lock first, so its shards on this executor run one at a time, in launch order.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import re
import signal
from collections import deque
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from server.base.processes import ManagedProcess, group_exists, start_process
from server.domain.job import ExecutorServiceHandlerType

__all__ = ["RunResult", "RunSlots", "ScriptRun", "ShardOutput"]

#: Grace period for processes a run left behind in its group after its leader exited.
LEFTOVER_GRACE_PERIOD = 1.0
#: How long to wait for the output pipes to close once the run's group is gone.
_DRAIN_SECONDS = 2.0
_CHUNK = 64 * 1024
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
#: stderr lines of a run kept for its failure cause, and at most this many characters of them.
STDERR_TAIL_LINES = 20
STDERR_TAIL_CHARS = 3000


@dataclass(frozen=True, kw_only=True, slots=True)
class RunResult:
    """How a run ended: its leader's status, and whether it was killed on request."""

    returncode: int | None
    killed: bool = False
    start_error: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.start_error is None and not self.killed and self.returncode == 0

    def describe(self) -> str:
        """``exit code 3``, ``signal 9 (SIGKILL)`` or ``a start error (...)``."""
        if self.start_error is not None:
            return f"a start error ({self.start_error})"
        if self.returncode is None:
            return "no exit status"
        if self.returncode < 0:
            number = -self.returncode
            try:
                name = signal.Signals(number).name
            except ValueError:
                name = "unknown signal"
            return f"signal {number} ({name})"
        return f"exit code {self.returncode}"


class ShardOutput:
    """The destinations of one shard's output (see the module docstring)."""

    def __init__(self, sandbox: Path, label: str, *, stdout_fd: int = 1, stderr_fd: int = 2) -> None:
        self.label = label
        self.log_path = sandbox / "shards" / f"{_UNSAFE.sub('_', label)}.log"
        self._prefix = f"[{label}] ".encode()
        self._stdout_fd = stdout_fd
        self._stderr_fd = stderr_fd
        self._log: BinaryIO | None = None
        self._stderr_tail: deque[bytes] = deque(maxlen=STDERR_TAIL_LINES)

    def new_run(self) -> None:
        """A new run begins (started or not): the previous run's stderr tail is forgotten."""
        self._stderr_tail.clear()

    def open(self) -> None:
        """Open the shard's log for a run."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")

    def close(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def note(self, text: str) -> None:
        """A ``--- text`` line in the sandbox stdout and in the shard's log."""
        self.line(f"--- {text}".encode(), stderr=False)

    def stderr_tail(self) -> str:
        """The latest run's last stderr lines (at most ``STDERR_TAIL_CHARS`` characters, the end)."""
        text = b"\n".join(self._stderr_tail).decode("utf-8", errors="replace")
        return text[-STDERR_TAIL_CHARS:]

    def line(self, data: bytes, *, stderr: bool) -> None:
        if stderr:
            self._stderr_tail.append(data[:STDERR_TAIL_CHARS])
        _write(self._stderr_fd if stderr else self._stdout_fd, self._prefix + data + b"\n")
        if self._log is not None:
            self._log.write(data + b"\n")
            self._log.flush()


def _write(fd: int, data: bytes) -> None:
    with contextlib.suppress(OSError):  # a closed stdout must not stop the run
        while data:
            written = os.write(fd, data)
            data = data[written:]


class ScriptRun:
    """One run of a script; :meth:`start`, then :meth:`wait` (and :meth:`terminate` to kill it)."""

    def __init__(
        self, argv: Sequence[str], *, environment: Mapping[str, str], cwd: Path, output: ShardOutput
    ) -> None:
        self._argv = list(argv)
        self._environment = dict(environment)
        self._cwd = cwd
        self._output = output
        self._process: ManagedProcess | None = None
        self._pumps: list[asyncio.Task[None]] = []
        self._transports: list[asyncio.BaseTransport] = []
        self._killed = False

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    async def start(self) -> None:
        """Start the process; raises :class:`~server.base.processes.ProcessStartError`."""
        read_out, write_out = os.pipe()
        read_err, write_err = os.pipe()
        try:
            # start_process opens output *paths*; /dev/fd/N names our pipes' write ends.
            self._process = await start_process(
                self._argv,
                shell=False,
                cwd=self._cwd,
                env=self._environment,
                stdout_path=Path(f"/dev/fd/{write_out}"),
                stderr_path=Path(f"/dev/fd/{write_err}"),
            )
        except BaseException:
            for fd in (read_out, read_err):
                os.close(fd)
            raise
        finally:
            for fd in (write_out, write_err):
                os.close(fd)
        loop = asyncio.get_running_loop()
        readers: list[tuple[asyncio.StreamReader, bool]] = []
        for fd, is_stderr in ((read_out, False), (read_err, True)):
            reader = asyncio.StreamReader(limit=_CHUNK, loop=loop)
            pipe = os.fdopen(fd, "rb", buffering=0)
            protocol = asyncio.StreamReaderProtocol(reader, loop=loop)
            transport, _ = await loop.connect_read_pipe(functools.partial(_same, protocol), pipe)
            self._transports.append(transport)
            readers.append((reader, is_stderr))
        # Copying starts only now, so that the caller's "run started" line, written as soon as
        # this returns, comes before the run's first line of output.
        self._pumps = [asyncio.create_task(self._pump(reader, is_stderr)) for reader, is_stderr in readers]

    async def _pump(self, reader: asyncio.StreamReader, is_stderr: bool) -> None:
        pending = b""
        while chunk := await reader.read(_CHUNK):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                self._output.line(line, stderr=is_stderr)
            if len(pending) >= _CHUNK:
                self._output.line(pending, stderr=is_stderr)
                pending = b""
        if pending:
            self._output.line(pending, stderr=is_stderr)

    async def wait(self) -> RunResult:
        """Wait for the leader to exit, stop what it left behind, flush its output."""
        assert self._process is not None, "start() first"
        returncode = await self._process.wait()
        if group_exists(self._process.pgid):
            await self._process.terminate(LEFTOVER_GRACE_PERIOD)
        _, still_open = await asyncio.wait(self._pumps, timeout=_DRAIN_SECONDS) if self._pumps else ((), ())
        for transport in self._transports:
            transport.close()
        for pump in still_open:
            pump.cancel()
        return RunResult(returncode=returncode, killed=self._killed)

    async def terminate(self, grace_period: float) -> None:
        """Kill the run's process group: SIGTERM, then SIGKILL after ``grace_period`` seconds."""
        self._killed = True
        if self._process is not None:
            await self._process.terminate(grace_period)


def _same(protocol: asyncio.StreamReaderProtocol) -> asyncio.StreamReaderProtocol:
    return protocol


def timestamp() -> str:
    """Local time for ``--- run`` lines."""
    return datetime.now().astimezone().isoformat(timespec="milliseconds")


class RunSlots:
    """Executor-wide run slots plus one lock per SINGLE_THREAD job (see the module docstring)."""

    def __init__(self, parallelism: int) -> None:
        if parallelism < 1:
            raise ValueError("parallelism must be at least 1")
        self.parallelism = parallelism
        self._slots = asyncio.Semaphore(parallelism)
        self._job_locks: dict[str, asyncio.Lock] = {}

    @contextlib.asynccontextmanager
    async def hold(self, job_name: str, handler: ExecutorServiceHandlerType) -> AsyncIterator[None]:
        """Wait for a slot (and the job's lock for SINGLE_THREAD), hold it for the block."""
        async with contextlib.AsyncExitStack() as stack:
            if handler is ExecutorServiceHandlerType.SINGLE_THREAD:
                await stack.enter_async_context(self._job_locks.setdefault(job_name, asyncio.Lock()))
            await stack.enter_async_context(self._slots)
            yield
