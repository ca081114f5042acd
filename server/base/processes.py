"""Process groups: starting them, stopping them whole, and reaping those a previous run left.

Guarantees:

- Every process is started in a new session, so it leads its own process group (pgid == pid), and
  everything it forks stays in that group unless it deliberately leaves. Stopping acts on the
  whole group: SIGTERM, then SIGKILL once the grace period is over for anything still alive,
  including members the leader left behind when it exited.
- The child's environment is exactly the mapping given; nothing is inherited from the parent.
  stdin is ``/dev/null``; stdout and stderr are appended to the given files.
- Orphans, first line (Linux): the child gets the parent-death signal SIGKILL, so the leader dies
  when its parent dies. Linux sends it when the *thread* that started the child exits, so start
  processes from a thread that lives as long as the parent (its event-loop thread). It does not
  reach the leader's own children.
- Orphans, second line (Linux): a :class:`PidRegistry` file (in the agent's work directory) records
  each group with the leader's start time (``/proc/<pid>/stat`` field 22) and the boot id. On the
  next start, :meth:`PidRegistry.reap_orphans` kills the recorded groups that are still
  alive and provably ours, then clears the record. A pid whose start time differs from the
  recorded one belongs to someone else and is never signalled; records from another boot are
  dropped unread, since nothing from that boot can still run.

Residual risk: when a recorded leader has already exited but members of its group remain, they are
recognised by "started no earlier than the recorded leader" and "still in the recorded group". A
stranger would need the recycled pid, make itself a group leader with it, and exit; that case is
not distinguishable and would be reaped.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, BinaryIO

__all__ = [
    "Credentials",
    "ManagedProcess",
    "PidRecord",
    "PidRegistry",
    "ProcStat",
    "ProcessStartError",
    "become_subreaper",
    "live_processes",
    "proc_stat",
    "set_parent_death_signal",
    "start_process",
]

_POLL_INTERVAL = 0.02
#: After SIGKILL, how long ``terminate`` waits for the group to disappear before giving up.
_KILL_SETTLE_SECONDS = 2.0
_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
_PROC = Path("/proc")


class ProcessStartError(Exception):
    """The process could not be started (missing program, bad working directory, ...)."""


def _load_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    loaded: Callable[..., int] = prctl
    return loaded


# Resolved once in the parent: the child between fork and exec must not load libraries.
_PRCTL = _load_prctl()


def set_parent_death_signal(sig: signal.Signals, parent_pid: int) -> bool:
    """Have Linux send ``sig`` to this process when its parent exits, and send it at once if the
    parent (``parent_pid``, read before the fork) has already gone. Whether the kernel took it.

    The signal comes when the parent's *thread* that started this process exits; it survives
    ``exec`` and is not inherited by this process's own children. Safe between fork and exec:
    it loads nothing and allocates nothing.
    """
    if _PRCTL is None or _PRCTL(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
        return False
    if os.getppid() != parent_pid:
        os.kill(os.getpid(), sig)
    return True


def become_subreaper() -> bool:
    """Make this process the reaper of its orphaned descendants (Linux): one whose parent dies is
    re-parented to this process instead of init, so it stays findable (and must be reaped here).
    Whether the kernel took it."""
    return _PRCTL is not None and _PRCTL(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0


def _die_with_parent(parent_pid: int) -> None:
    """Runs in the child before exec: SIGKILL us when the parent goes, even if it already went."""
    set_parent_death_signal(signal.SIGKILL, parent_pid)


@dataclass(frozen=True, kw_only=True, slots=True)
class Credentials:
    """The user a child process runs as: uid, primary gid and supplementary groups."""

    uid: int
    gid: int
    groups: tuple[int, ...] = ()


@dataclass(frozen=True, kw_only=True, slots=True)
class ProcStat:
    """The fields of ``/proc/<pid>/stat`` this module reads."""

    state: str
    ppid: int
    pgid: int
    session: int
    start_ticks: int


def proc_stat(pid: int) -> ProcStat | None:
    """The fields of ``/proc/<pid>/stat`` we need, or ``None`` if there is no such process."""
    try:
        raw = (_PROC / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name (field 2) is in parentheses and may itself contain spaces and parentheses.
    fields = raw[raw.rfind(")") + 2 :].split()
    try:
        return ProcStat(
            state=fields[0],
            ppid=int(fields[1]),
            pgid=int(fields[2]),
            session=int(fields[3]),
            start_ticks=int(fields[19]),
        )
    except (IndexError, ValueError):
        return None


def _running(stat: ProcStat | None) -> bool:
    return stat is not None and stat.state not in ("Z", "X", "x")


def live_processes() -> dict[int, ProcStat]:
    """Every live (non-zombie) process on the machine, from one scan of ``/proc``."""
    found: dict[int, ProcStat] = {}
    try:
        entries = list(_PROC.iterdir())
    except OSError:
        return found
    for entry in entries:
        if not entry.name.isdigit():
            continue
        stat = proc_stat(int(entry.name))
        if _running(stat) and stat is not None:
            found[int(entry.name)] = stat
    return found


def _group_members(pgid: int) -> dict[int, ProcStat]:
    """Live (non-zombie) processes whose process group is ``pgid``."""
    if not group_exists(pgid):  # cheap: a group with no process at all needs no /proc scan
        return {}
    return {pid: stat for pid, stat in live_processes().items() if stat.pgid == pgid}


def group_exists(pgid: int) -> bool:
    """Whether any process (a zombie included) is still in process group ``pgid``."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _group_alive(pgid: int) -> bool:
    if _PROC.is_dir():
        return bool(_group_members(pgid))
    return group_exists(pgid)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


async def _wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` seconds pass; return whether it held."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(_POLL_INTERVAL)
    return True


def _boot_id() -> str | None:
    try:
        return (_PROC / "sys" / "kernel" / "random" / "boot_id").read_text().strip()
    except OSError:
        return None


@dataclass(frozen=True, kw_only=True, slots=True)
class PidRecord:
    """One process group that was started: its id, and when its leader started (clock ticks
    since boot, ``/proc/<pid>/stat`` field 22), in which boot."""

    pgid: int
    start_ticks: int
    boot_id: str | None


class PidRegistry:
    """The record of the process groups one parent started, kept in one JSON file.

    Every change rewrites the file atomically (temporary file, fsync, rename), so a crash leaves
    either the old or the new record. Records found in the file when the registry is opened are
    the previous agent run's; :meth:`reap_orphans` deals with them. Not safe for two agents
    sharing one file; one agent per work directory.
    """

    def __init__(self, path: Path) -> None:
        self._path = Path(path)
        self._boot_id = _boot_id()
        self._records: dict[int, PidRecord] = {}
        for record in self._load():
            self._records[record.pgid] = record
        self._inherited: set[int] = set(self._records)

    @property
    def path(self) -> Path:
        return self._path

    def records(self) -> list[PidRecord]:
        """Every group currently recorded (the previous run's, until reaped, and this run's)."""
        return list(self._records.values())

    def record(self, pid: int) -> PidRecord | None:
        """Record the group led by ``pid``; ``None`` if it and its whole group are already gone
        (a process that exits at once may be reaped before it can be recorded).

        If the leader has already gone, the earliest start time among its group's members stands
        in for it (every member started after the leader).
        """
        stat = proc_stat(pid)
        if stat is not None:
            start_ticks = stat.start_ticks
        else:
            members = _group_members(pid)
            if not members:
                return None
            start_ticks = min(member.start_ticks for member in members.values())
        entry = PidRecord(pgid=pid, start_ticks=start_ticks, boot_id=self._boot_id)
        self._records[pid] = entry
        self._inherited.discard(pid)
        self._save()
        return entry

    def forget(self, pgid: int) -> None:
        """Drop the record of a group that is known to be gone."""
        if self._records.pop(pgid, None) is not None:
            self._inherited.discard(pgid)
            self._save()

    async def reap_orphans(self, grace_period: float = 3.0) -> list[int]:
        """Kill what is left of the previous agent run's groups; return the pgids signalled.

        Each surviving group gets SIGTERM, then SIGKILL after ``grace_period`` seconds for any
        verified member still alive. Processes that cannot be proven ours are left alone. The
        previous run's records are cleared afterwards.
        """
        targets: dict[int, dict[int, int]] = {}
        for pgid in sorted(self._inherited):
            record = self._records[pgid]
            if record.boot_id != self._boot_id or self._boot_id is None:
                continue
            verified = _verified_members(record)
            if verified:
                targets[pgid] = verified
        for members in targets.values():
            _signal_verified(members, signal.SIGTERM)

        def all_gone() -> bool:
            return not any(_still_ours(members) for members in targets.values())

        if targets and not await _wait_until(all_gone, grace_period):
            for members in targets.values():
                _signal_verified(members, signal.SIGKILL)
            await _wait_until(all_gone, _KILL_SETTLE_SECONDS)
        for pgid in self._inherited:
            self._records.pop(pgid, None)
        self._inherited.clear()
        self._save()
        return sorted(targets)

    def _load(self) -> list[PidRecord]:
        try:
            data = json.loads(self._path.read_text())
        except FileNotFoundError:
            return []
        except (OSError, ValueError):
            return []
        loaded: list[PidRecord] = []
        for item in data.get("groups", []) if isinstance(data, dict) else []:
            try:
                loaded.append(
                    PidRecord(
                        pgid=int(item["pgid"]),
                        start_ticks=int(item["start_ticks"]),
                        boot_id=item.get("boot_id"),
                    )
                )
            except (KeyError, TypeError, ValueError):
                continue
        return loaded

    def _save(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        payload = json.dumps({"groups": [asdict(record) for record in self._records.values()]}, indent=1)
        partial = self._path.with_name(f".{self._path.name}.{uuid.uuid4().hex}.tmp")
        try:
            with partial.open("w") as handle:
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(partial, self._path)
        finally:
            partial.unlink(missing_ok=True)


def _verified_members(record: PidRecord) -> dict[int, int]:
    """Live members of the recorded group that are provably ours, as {pid: start_ticks}."""
    leader = proc_stat(record.pgid)
    if _running(leader) and leader is not None and leader.start_ticks != record.start_ticks:
        return {}  # the pid was recycled: the group now belongs to someone else
    members = _group_members(record.pgid)
    return {pid: stat.start_ticks for pid, stat in members.items() if stat.start_ticks >= record.start_ticks}


def _still_ours(members: Mapping[int, int]) -> bool:
    return any(_is_same_process(pid, start_ticks) for pid, start_ticks in members.items())


def _is_same_process(pid: int, start_ticks: int) -> bool:
    stat = proc_stat(pid)
    return _running(stat) and stat is not None and stat.start_ticks == start_ticks


def _signal_verified(members: Mapping[int, int], sig: signal.Signals) -> None:
    """Signal each member by pid, re-checking its start time right before, never by group."""
    for pid, start_ticks in members.items():
        if _is_same_process(pid, start_ticks):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)


class ManagedProcess:
    """A started process and its process group."""

    def __init__(self, process: asyncio.subprocess.Process, registry: PidRegistry | None) -> None:
        self._process = process
        self._registry = registry

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def pgid(self) -> int:
        """The process group id; the same as ``pid`` (the process leads its own group)."""
        return self._process.pid

    @property
    def returncode(self) -> int | None:
        """The exit status once the leader has exited, else ``None``."""
        return self._process.returncode

    async def wait(self) -> int:
        """Wait for the leader to exit; return its status (``-N`` when killed by signal N).

        If the whole group is gone by then, the registry record is dropped; if members linger,
        the record stays so a later :meth:`terminate` or the next run's reap deals with them.
        """
        returncode = await self._process.wait()
        if self._registry is not None and not _group_alive(self.pgid):
            self._registry.forget(self.pgid)
        return returncode

    async def terminate(self, grace_period: float = 3.0) -> int:
        """Stop the whole group and return the leader's exit status.

        Sends SIGTERM to the group, waits up to ``grace_period`` seconds for the leader and every
        other member to exit, then SIGKILLs the group if anything is left. Also sweeps members
        left behind when the leader has already exited. Safe to call more than once.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(grace_period, 0.0)
        _signal_group(self.pgid, signal.SIGTERM)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._process.wait(), timeout=max(deadline - loop.time(), 0.0))
        group_gone = await _wait_until(lambda: not _group_alive(self.pgid), max(deadline - loop.time(), 0.0))
        if not group_gone or self._process.returncode is None:
            _signal_group(self.pgid, signal.SIGKILL)
        returncode = await self._process.wait()
        settled = await _wait_until(lambda: not _group_alive(self.pgid), _KILL_SETTLE_SECONDS)
        if settled and self._registry is not None:
            self._registry.forget(self.pgid)
        return returncode

    def send_signal(self, sig: signal.Signals) -> None:
        """Send ``sig`` to the whole group (ignored if the group is gone)."""
        _signal_group(self.pgid, sig)


async def start_process(
    command: str | Sequence[str],
    *,
    shell: bool,
    cwd: Path,
    env: Mapping[str, str],
    stdout_path: Path,
    stderr_path: Path,
    pid_registry: PidRegistry | None = None,
    credentials: Credentials | None = None,
) -> ManagedProcess:
    """Start ``command`` as the leader of a new session and process group.

    ``shell=True`` runs the string ``command`` with ``/bin/sh -c``; otherwise ``command`` is an
    argv list, and a bare program name is looked up on the ``PATH`` of ``env`` (not the parent's).
    The environment is exactly ``env``. stdout and stderr are appended to the two files (created
    if missing; they may be the same file). With ``pid_registry``, the group is recorded there.
    Raises :class:`ProcessStartError` if the process cannot be started.
    """
    argv: list[str] | None = None
    if shell:
        if not isinstance(command, str):
            raise TypeError("shell=True needs the command as one string")
    else:
        if isinstance(command, str) or not command:
            raise TypeError("shell=False needs the command as a non-empty sequence of arguments")
        argv = [str(argument) for argument in command]
    child_setup = functools.partial(_die_with_parent, os.getpid())
    try:
        with _open_outputs(stdout_path, stderr_path) as (stdout, stderr):
            options: dict[str, Any] = {
                "stdin": asyncio.subprocess.DEVNULL,
                "stdout": stdout,
                "stderr": stderr,
                "cwd": os.fspath(cwd),
                "env": dict(env),
                "start_new_session": True,
                "preexec_fn": child_setup,
            }
            if credentials is not None:
                options.update(
                    user=credentials.uid, group=credentials.gid, extra_groups=list(credentials.groups)
                )
            if argv is None:
                assert isinstance(command, str)
                process = await asyncio.create_subprocess_shell(command, **options)
            else:
                process = await asyncio.create_subprocess_exec(*argv, **options)
    except (OSError, ValueError, subprocess.SubprocessError) as exc:
        raise ProcessStartError(f"cannot start {_describe(command)} in {cwd}: {exc}") from exc
    managed = ManagedProcess(process, pid_registry)
    if pid_registry is not None:
        pid_registry.record(process.pid)
    return managed


def _describe(command: str | Iterable[str]) -> str:
    if isinstance(command, str):
        return repr(command)
    return repr(list(command))


@contextlib.contextmanager
def _open_outputs(stdout_path: Path, stderr_path: Path) -> Iterator[tuple[BinaryIO, BinaryIO]]:
    stdout = open(stdout_path, "ab")  # noqa: SIM115 - closed below, after the child has its copy
    try:
        if Path(stderr_path) == Path(stdout_path):
            yield stdout, stdout
        else:
            with open(stderr_path, "ab") as stderr:
                yield stdout, stderr
    finally:
        stdout.close()
