"""The agent's process runner and orphan registry, specified by what happens to real processes."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from server.base.processes import ManagedProcess, PidRegistry, ProcessStartError, start_process
from testkit.polling import until

pytestmark = [
    pytest.mark.timeout(30),
    pytest.mark.skipif(
        not sys.platform.startswith("linux"), reason="process groups and /proc are Linux facts"
    ),
]

REPO_ROOT = Path(__file__).resolve().parents[2]
BASE_ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}


def is_running(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie (a zombie has already died)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat[stat.rfind(")") + 2] not in "ZXx"


def read_pid(path: Path) -> int:
    return int(path.read_text().strip())


def has_pid(path: Path) -> Callable[[], bool]:
    return lambda: path.exists() and path.read_text().strip().isdigit()


class Launcher:
    """Starts processes in a test's own directory and terminates whatever is left at the end."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.started: list[ManagedProcess] = []

    async def __call__(
        self, command: str | list[str], *, shell: bool = True, registry: PidRegistry | None = None
    ) -> ManagedProcess:
        process = await start_process(
            command,
            shell=shell,
            cwd=self.directory,
            env=BASE_ENV,
            stdout_path=self.directory / "stdout",
            stderr_path=self.directory / "stderr",
            pid_registry=registry,
        )
        self.started.append(process)
        return process


@pytest.fixture
async def launch(tmp_path: Path) -> AsyncIterator[Launcher]:
    launcher = Launcher(tmp_path)
    yield launcher
    for process in launcher.started:
        await process.terminate(0.1)


# --- starting and waiting ------------------------------------------------------------------------


async def test_stdout_and_stderr_are_appended_to_their_files(launch: Launcher, tmp_path: Path) -> None:
    for _ in range(2):
        process = await launch("echo out; echo err >&2; exit 3")
        assert await process.wait() == 3

    assert (tmp_path / "stdout").read_text() == "out\nout\n"
    assert (tmp_path / "stderr").read_text() == "err\nerr\n"


async def test_argv_runs_in_cwd_with_exactly_the_given_environment(tmp_path: Path) -> None:
    env_program = shutil.which("env")
    assert env_program is not None
    process = await start_process(
        [env_program],
        shell=False,
        cwd=tmp_path,
        env={"ONLY": "this", "MESOS_SANDBOX": str(tmp_path)},
        stdout_path=tmp_path / "out",
        stderr_path=tmp_path / "out",
    )

    assert await process.wait() == 0
    assert sorted((tmp_path / "out").read_text().splitlines()) == [f"MESOS_SANDBOX={tmp_path}", "ONLY=this"]


async def test_process_leads_its_own_session_and_group(launch: Launcher, tmp_path: Path) -> None:
    process = await launch("exec sleep 30")

    assert process.pgid == process.pid
    assert os.getpgid(process.pid) == process.pid
    assert os.getsid(process.pid) == process.pid


async def test_exit_status_is_negative_for_a_signal(launch: Launcher) -> None:
    process = await launch("kill -KILL $$")

    assert await process.wait() == -signal.SIGKILL


async def test_missing_program_is_a_process_start_error(tmp_path: Path) -> None:
    with pytest.raises(ProcessStartError, match="no-such-program") as caught:
        await start_process(
            ["no-such-program"],
            shell=False,
            cwd=tmp_path,
            env=BASE_ENV,
            stdout_path=tmp_path / "out",
            stderr_path=tmp_path / "err",
        )
    assert isinstance(caught.value.__cause__, FileNotFoundError)


# --- terminating ---------------------------------------------------------------------------------


async def test_terminate_stops_a_cooperative_process_with_sigterm(launch: Launcher) -> None:
    process = await launch("exec sleep 30")
    started = time.monotonic()

    assert await process.terminate(grace_period=5.0) == -signal.SIGTERM
    assert time.monotonic() - started < 2.0


async def test_terminate_kills_a_process_ignoring_sigterm_after_the_grace_period(
    launch: Launcher, tmp_path: Path
) -> None:
    process = await launch(
        [
            sys.executable,
            "-c",
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "print('ready', flush=True); time.sleep(30)",
        ],
        shell=False,
    )
    await until(lambda: (tmp_path / "stdout").read_text() == "ready\n")
    started = time.monotonic()

    status = await process.terminate(grace_period=0.3)

    elapsed = time.monotonic() - started
    assert status == -signal.SIGKILL
    assert 0.3 <= elapsed < 2.0


async def test_terminate_kills_grandchildren_in_the_group(launch: Launcher, tmp_path: Path) -> None:
    process = await launch("sleep 30 & echo $! > grandchild.pid; wait")
    await until(has_pid(tmp_path / "grandchild.pid"))
    grandchild = read_pid(tmp_path / "grandchild.pid")
    assert is_running(grandchild)

    await process.terminate(grace_period=1.0)

    await until(lambda: not is_running(grandchild), timeout=2.0)


async def test_terminate_sweeps_members_left_behind_by_an_exited_leader(
    launch: Launcher, tmp_path: Path
) -> None:
    # The leader exits at once, leaving a grandchild that ignores SIGTERM in its group.
    process = await launch("(trap '' TERM; exec sleep 30) & echo $! > grandchild.pid")
    assert await process.wait() == 0
    grandchild = read_pid(tmp_path / "grandchild.pid")
    assert is_running(grandchild)

    assert await process.terminate(grace_period=0.3) == 0

    assert not is_running(grandchild)


async def test_child_dies_when_the_agent_process_dies(tmp_path: Path) -> None:
    agent_script = (
        "import asyncio, os, sys\n"
        "from pathlib import Path\n"
        "from server.base.processes import start_process\n"
        "async def main():\n"
        "    d = Path(sys.argv[1])\n"
        "    child = await start_process(['sleep', '30'], shell=False, cwd=d,\n"
        "        env={'PATH': os.environ['PATH']}, stdout_path=d / 'out', stderr_path=d / 'err')\n"
        "    (d / 'child.pid').write_text(str(child.pid))\n"
        "    await asyncio.sleep(30)\n"
        "asyncio.run(main())\n"
    )
    agent = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        agent_script,
        str(tmp_path),
        cwd=REPO_ROOT,
        env={**BASE_ENV, "PYTHONPATH": str(REPO_ROOT)},
    )
    try:
        await until(has_pid(tmp_path / "child.pid"), timeout=10.0)
        child = read_pid(tmp_path / "child.pid")
        assert is_running(child)

        agent.kill()
        await agent.wait()

        await until(lambda: not is_running(child), timeout=2.0)
    finally:
        if agent.returncode is None:
            agent.kill()
            await agent.wait()


# --- the pid registry ----------------------------------------------------------------------------


async def test_registry_records_a_group_and_forgets_it_once_the_group_has_exited(
    launch: Launcher, tmp_path: Path
) -> None:
    registry = PidRegistry(tmp_path / "agent" / "pids.json")
    process = await launch("while [ ! -e go ]; do sleep 0.01; done", registry=registry)
    assert [record.pgid for record in PidRegistry(registry.path).records()] == [process.pgid]

    (tmp_path / "go").touch()
    assert await process.wait() == 0

    assert registry.records() == []
    assert PidRegistry(registry.path).records() == []


async def test_registry_forgets_a_terminated_group(launch: Launcher, tmp_path: Path) -> None:
    registry = PidRegistry(tmp_path / "agent" / "pids.json")
    process = await launch("exec sleep 30", registry=registry)

    await process.terminate(grace_period=1.0)

    assert PidRegistry(registry.path).records() == []


async def test_reap_orphans_kills_a_live_group_left_by_a_previous_run(
    launch: Launcher, tmp_path: Path
) -> None:
    path = tmp_path / "agent" / "pids.json"
    # "Previous run": a leader and a grandchild that both ignore SIGTERM, so SIGKILL is needed.
    previous = await launch(
        "trap '' TERM; sleep 30 & echo $! > grandchild.pid; wait", registry=PidRegistry(path)
    )
    await until(has_pid(tmp_path / "grandchild.pid"))
    grandchild = read_pid(tmp_path / "grandchild.pid")

    reaped = await PidRegistry(path).reap_orphans(grace_period=0.3)

    assert reaped == [previous.pgid]
    assert await previous.wait() == -signal.SIGKILL
    assert not is_running(grandchild)
    assert PidRegistry(path).records() == []


async def test_reap_orphans_never_kills_a_pid_whose_start_time_differs(
    launch: Launcher, tmp_path: Path
) -> None:
    path = tmp_path / "agent" / "pids.json"
    stranger = await launch("exec sleep 30")
    PidRegistry(path).record(stranger.pid)
    recorded = json.loads(path.read_text())
    recorded["groups"][0]["start_ticks"] -= 1  # same pid, but not the process that was launched
    path.write_text(json.dumps(recorded))

    reaped = await PidRegistry(path).reap_orphans(grace_period=0.3)

    assert reaped == []
    assert is_running(stranger.pid)
    assert stranger.returncode is None
    assert PidRegistry(path).records() == []


async def test_reap_orphans_ignores_records_from_another_boot(launch: Launcher, tmp_path: Path) -> None:
    path = tmp_path / "agent" / "pids.json"
    survivor = await launch("exec sleep 30")
    PidRegistry(path).record(survivor.pid)
    recorded = json.loads(path.read_text())
    recorded["groups"][0]["boot_id"] = "some-earlier-boot"
    path.write_text(json.dumps(recorded))

    assert await PidRegistry(path).reap_orphans(grace_period=0.3) == []
    assert is_running(survivor.pid)
    assert PidRegistry(path).records() == []


async def test_reap_orphans_keeps_this_runs_own_groups(launch: Launcher, tmp_path: Path) -> None:
    registry = PidRegistry(tmp_path / "agent" / "pids.json")
    current = await launch("exec sleep 30", registry=registry)

    assert await registry.reap_orphans(grace_period=0.3) == []
    assert is_running(current.pid)
    assert [record.pgid for record in registry.records()] == [current.pgid]
