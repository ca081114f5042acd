"""``make run`` and ``python -m server`` as operators run them: killed, stopped, started twice.

Every stack here is the real ``python -m devstack`` (once through ``make run``) on free loopback
ports, with its own work directory. A job whose shard sleeps keeps an executor and a task alive,
so "nothing left" covers the whole tree: ZooKeeper, the cluster, the server, Envoy, the executor
and the task's processes. Processes are identified by pid *and* start time (``/proc/<pid>/stat``
field 22), so a recycled pid is never mistaken for a survivor, and never signalled in clean-up.

Linux facts relied on (prctl(2)): ``PR_SET_PDEATHSIG`` delivers its signal when the parent
*thread* exits, survives ``execve`` of a non-set-user-id program, and is cleared in the children
of ``fork``; a process whose parent already died before the call gets nothing, hence the check
of the parent after setting it.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from devstack.stack import PROJECT_ROOT, free_port
from testkit.e2e import build_app, runs
from testkit.polling import eventually

STARTUP_SECONDS = 60
READY = re.compile(r"ready: REST on http://127\.0\.0\.1:(\d+)/api")


# -- processes, by pid and start time ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Proc:
    pid: int
    start_ticks: int
    command: str


def _stat(pid: int) -> tuple[int, int, str] | None:
    """(parent pid, start ticks, state) of a live process, or None."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rfind(")") + 2 :].split()
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[1]), int(fields[19]), fields[0]


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "?"


def tree(root: int) -> set[Proc]:
    """``root`` and every live descendant of it."""
    parents: dict[int, list[int]] = {}
    ticks: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None:
            parents.setdefault(stat[0], []).append(int(entry.name))
            ticks[int(entry.name)] = stat[1]
    found: set[Proc] = set()
    pending = [root]
    while pending:
        pid = pending.pop()
        if pid in ticks:
            found.add(Proc(pid, ticks[pid], _command(pid)))
        pending.extend(parents.get(pid, ()))
    return found


def alive(processes: set[Proc]) -> set[Proc]:
    return {p for p in processes if (stat := _stat(p.pid)) is not None and stat[1] == p.start_ticks}


def kill_survivors(processes: set[Proc]) -> None:
    for proc in alive(processes):
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


# -- a stack ----------------------------------------------------------------------------------


@dataclass
class Stack:
    process: subprocess.Popen[bytes]
    log: Path
    ports: dict[str, int]
    results: Path
    archive: Path

    @property
    def rest(self) -> str:
        return f"http://127.0.0.1:{self.ports['ELASTICJOB_REST_PORT']}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if READY.search(self.output()):
                return
            assert self.process.poll() is None, (
                f"the stack exited with {self.process.returncode}:\n{self.output()}"
            )
            time.sleep(0.1)
        raise AssertionError(f"not ready after {STARTUP_SECONDS}s:\n{self.output()}")

    def run_a_sleeping_job(self) -> None:
        """Publish an app, register a job whose shard sleeps, trigger it, wait until it runs."""
        with httpx.Client(base_url=self.rest, timeout=10) as client:
            login = client.post("/api/login", json={"username": "root", "password": "pwd"})
            assert login.status_code == 200, login.text
            client.headers["accessToken"] = login.json()["accessToken"]
            app = {
                "appName": "sleeper",
                "appURL": self.archive.as_uri(),
                "bootstrapScript": "bin/run.sh",
                "cpuCount": 0.1,
                "memoryMB": 32.0,
            }
            assert client.post("/api/app", json=app).status_code == 200
            job = {
                "appName": "sleeper",
                "jobName": "sleeper_job",
                "cpuCount": 0.1,
                "memoryMB": 16.0,
                "jobExecutionType": "TRANSIENT",
                "cron": "0 0 0 1 1 ? 2099",
                "shardingTotalCount": 1,
                "jobParameter": "sleep60",
            }
            assert client.post("/api/job/register", json=job).status_code == 200
            trigger = client.post(
                "/api/job/trigger", content="sleeper_job", headers={"Content-Type": "application/json"}
            )
            assert trigger.status_code == 200, trigger.text
        eventually(lambda: runs(self.results, "sleeper_job"), timeout=30)
        # The shard writes its start line, then starts ``sleep 60``: wait for the process too, so a
        # snapshot of the tree taken now holds it.
        eventually(
            lambda: any("sleep 60" in p.command for p in tree(self.process.pid)),
            timeout=10,
            what="the shard's sleep 60 running",
        )

    def ports_taken(self) -> list[str]:
        return [name for name, port in self.ports.items() if port_in_use(port)]


def stack_ports() -> dict[str, int]:
    ports: set[int] = set()
    while len(ports) < 5:
        ports.add(free_port())
    rest, zk, cluster, agent, grpc = sorted(ports)
    return {
        "ELASTICJOB_REST_PORT": rest,
        "ELASTICJOB_ZK_PORT": zk,
        "ELASTICJOB_CLUSTER_PORT": cluster,
        "ELASTICJOB_CLUSTER_AGENT_PORT": agent,
        "GRPC": grpc,
    }


def stack_environment(ports: Mapping[str, int], work_dir: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("ELASTICJOB_")}
    env.update({name: str(port) for name, port in ports.items() if name != "GRPC"})
    env["ELASTICJOB_GRPC_ADDRESS"] = f"127.0.0.1:{ports['GRPC']}"
    env["ELASTICJOB_DEVSTACK_DIR"] = str(work_dir)
    return env


@contextlib.contextmanager
def started_stack(
    tmp_path: Path,
    *,
    through_make: bool = False,
    env: Mapping[str, str] | None = None,
    hold: str | None = None,
) -> Iterator[Stack]:
    """A stack being started (not yet ready), with ``env`` added to its environment and the port
    named ``hold`` held by a listening socket of ours; everything it ran is killed afterwards."""
    ports = stack_ports()
    log = tmp_path / "stack.log"
    argv = (
        ["make", "--no-print-directory", "-C", str(PROJECT_ROOT), "run"]
        if through_make
        else [sys.executable, "-m", "devstack"]
    )
    with contextlib.ExitStack() as resources:
        if hold is not None:
            holder = resources.enter_context(socket.socket())
            holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            holder.bind(("127.0.0.1", ports[hold]))
            holder.listen()
        with open(log, "wb") as output:
            process = subprocess.Popen(
                argv,
                cwd=PROJECT_ROOT,
                env={**stack_environment(ports, tmp_path / "var"), **(env or {})},
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        results = tmp_path / "results"
        stack = Stack(process, log, ports, results, build_app(tmp_path / "app", results))
        try:
            yield stack
        finally:
            seen = tree(process.pid) if process.poll() is None else set()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            kill_survivors(seen | _leftovers(ports, tmp_path / "var"))


def _leftovers(ports: Mapping[str, int], work_dir: Path) -> set[Proc]:
    """Processes whose command line or environment names one of our ports or our work directory
    (clean-up only: what a failing stack left behind)."""
    needles = [str(work_dir).encode(), *(f"127.0.0.1:{port}".encode() for port in ports.values())]
    needles += [f"PORT={port}".encode() for port in ports.values()]
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        if (stat := _stat(int(entry.name))) is None:
            continue
        try:
            text = (entry / "cmdline").read_bytes() + b"\0" + (entry / "environ").read_bytes()
        except OSError:
            continue
        if any(needle in text for needle in needles):
            found.add(Proc(int(entry.name), stat[1], _command(int(entry.name))))
    return found


def wait_gone(processes: set[Proc], timeout: float) -> set[Proc]:
    """Wait up to ``timeout`` seconds for all of ``processes`` to end; those still alive."""
    deadline = time.monotonic() + timeout
    while (left := alive(processes)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def describe(processes: set[Proc]) -> str:
    return "\n".join(f"  {p.pid}: {p.command[:160]}" for p in sorted(processes, key=lambda p: p.pid))


# -- the tests --------------------------------------------------------------------------------


@pytest.mark.timeout(120)
@pytest.mark.parametrize("through_make", [False, True], ids=["python", "make"])
def test_sigkill_of_the_parent_leaves_no_process_and_no_port(tmp_path: Path, through_make: bool) -> None:
    """SIGKILL of ``make run`` (or of ``python -m devstack``) takes the whole stack down within
    10 s: every process that was in its tree, executor and task included, and every port."""
    with started_stack(tmp_path, through_make=through_make) as stack:
        stack.wait_ready()
        stack.run_a_sleeping_job()
        processes = tree(stack.process.pid)
        commands = " ".join(p.command for p in processes)
        for part in ("server.cluster", "-m server", "envoy", "QuorumPeerMain", "server.executor", "sleep 60"):
            assert part in commands, f"{part!r} is not running:\n{describe(processes)}"

        stack.process.kill()  # the parent only: its children are not signalled
        stack.process.wait()

        left = wait_gone(processes, 10)
        assert not left, f"alive 10 s after SIGKILL of the parent:\n{describe(left)}"
        assert stack.ports_taken() == []


@pytest.mark.timeout(120)
@pytest.mark.parametrize("hung", [None, "QuorumPeerMain"], ids=["all-well", "zookeeper-hung"])
def test_sigterm_stops_everything_within_ten_seconds(tmp_path: Path, hung: str | None) -> None:
    """SIGTERM to the stack's process group (what a terminal's Ctrl-C or a supervisor does) stops
    all of it, a running task included, within 10 s, and the stack exits 0 -- also when a part
    does not answer at all (ZooKeeper paused with SIGSTOP: the server cannot leave the election,
    ZooKeeper itself cannot act on SIGTERM)."""
    with started_stack(tmp_path) as stack:
        stack.wait_ready()
        stack.run_a_sleeping_job()
        processes = tree(stack.process.pid)
        if hung is not None:
            (part,) = [p for p in processes if hung in p.command]
            os.kill(part.pid, signal.SIGSTOP)
            time.sleep(1)

        os.killpg(stack.process.pid, signal.SIGTERM)
        started = time.monotonic()
        left = wait_gone(processes, 10)
        assert not left, f"alive 10 s after SIGTERM:\n{describe(left)}\n{stack.output()[-3000:]}"
        assert stack.process.wait(1) == 0
        assert time.monotonic() - started < 10
        assert stack.ports_taken() == []
        assert "all stopped" in stack.output()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("taken", ["ELASTICJOB_REST_PORT", "ELASTICJOB_ZK_PORT", "GRPC"])
def test_a_taken_port_is_refused_before_anything_starts(tmp_path: Path, taken: str) -> None:
    """A port the stack needs that something else holds (Envoy's, the last one it would bind;
    ZooKeeper's, the first; the server's gRPC port): a message naming the port, exit status 1,
    and nothing started, so no other port of the stack is taken."""
    with started_stack(tmp_path, hold=taken) as stack:
        code = stack.process.wait(30)
        out = stack.output()
        assert code == 1, out
        assert f"port {stack.ports[taken]} " in out and "already in use" in out, out
        assert "ready:" not in out and "starting" not in out, out
        assert [name for name in stack.ports_taken() if name != taken] == []


@pytest.mark.timeout(60)
def test_a_part_that_fails_to_start_makes_the_stack_exit_non_zero(tmp_path: Path) -> None:
    """A part that cannot start (the server, refused by production mode's checks: no token
    secret) stops what was started (ZooKeeper, the cluster) and exits 1, leaving no port taken."""
    with started_stack(tmp_path, env={"ELASTICJOB_MODE": "production"}) as stack:
        code = stack.process.wait(50)
        out = stack.output()
        assert code == 1, out
        assert "ready:" not in out and "all stopped" in out, out
        assert stack.ports_taken() == []


# -- python -m server alone -------------------------------------------------------------------


@contextlib.contextmanager
def silent_listener() -> Iterator[int]:
    """A port that accepts connections and never answers (a hung Mesos master)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield sock.getsockname()[1]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("mesos", ["silent", "refused", "none"])
def test_server_exits_within_five_seconds_of_sigterm_with_zookeeper_unreachable(
    tmp_path: Path, mesos: str
) -> None:
    """``python -m server`` with no ZooKeeper at its address (and a Mesos master that never
    answers, refuses connections, or none) exits 0 within 5 s of SIGTERM."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("ELASTICJOB_")}
    env.update(
        ELASTICJOB_MODE="development",
        ELASTICJOB_ZK_SERVERS=f"127.0.0.1:{free_port()}",
        ELASTICJOB_GRPC_ADDRESS=f"127.0.0.1:{free_port()}",
        ELASTICJOB_ZK_TIMEOUT_SECONDS="1",
    )
    with silent_listener() as silent_port, open(tmp_path / "server.log", "wb") as output:
        if mesos == "silent":
            env["ELASTICJOB_MESOS_URL"] = f"http://127.0.0.1:{silent_port}"
        elif mesos == "refused":
            env["ELASTICJOB_MESOS_URL"] = f"http://127.0.0.1:{free_port()}"
        process = subprocess.Popen(
            [sys.executable, "-m", "server"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            log = tmp_path / "server.log"
            eventually(lambda: "API ready" in log.read_text(), timeout=30)
            time.sleep(1)  # let the connection retries and the scheduler get going
            process.send_signal(signal.SIGTERM)
            started = time.monotonic()
            try:
                code = process.wait(10)
            except subprocess.TimeoutExpired:
                code = None
            took = time.monotonic() - started
            assert code == 0 and took < 5, f"exit {code} after {took:.1f}s:\n{log.read_text()[-3000:]}"
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("lost", "how"),
    [("zookeeper", signal.SIGSTOP), ("zookeeper", signal.SIGKILL)],
    ids=["zookeeper-paused", "zookeeper-killed"],
)
def test_a_leading_server_exits_within_five_seconds_of_sigterm_once_a_dependency_died(
    tmp_path: Path, lost: str, how: signal.Signals
) -> None:
    """The server of a running stack (leading, subscribed, a task running) whose ZooKeeper was
    paused (connections open, nothing answers: leaving the election waits on it) or killed
    exits within 5 s of SIGTERM."""
    with started_stack(tmp_path) as stack:
        stack.wait_ready()
        stack.run_a_sleeping_job()
        processes = tree(stack.process.pid)
        needle = {"zookeeper": "QuorumPeerMain", "cluster": "-m server.cluster"}[lost]
        (victim,) = [p for p in processes if needle in p.command]
        (server,) = [p for p in processes if p.command.strip().endswith("-m server")]
        os.kill(victim.pid, how)
        time.sleep(2)  # the server notices and starts retrying
        with contextlib.suppress(ProcessLookupError):  # a stack that lost its cluster stops itself
            os.kill(server.pid, signal.SIGTERM)
        left = wait_gone({server}, 5)
        assert not left, f"the server is alive 5 s after SIGTERM:\n{stack.output()[-3000:]}"
        if how == signal.SIGKILL:  # a part that died stops the stack, which says so in its status
            assert stack.process.wait(10) == 1, stack.output()[-3000:]
            assert "zookeeper exited unexpectedly" in stack.output()
