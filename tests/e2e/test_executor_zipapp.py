"""The executor shipped as a zipapp: with ELASTICJOB_EXECUTOR_URI the agent's fetcher brings it into
each executor sandbox and a bare ``python3`` runs it, with nothing of the project checkout."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from devstack.stack import ZooKeeperServer
from server.scheduler.taskinfo import fetched_executor_command
from testkit.e2e import System, eventually, running_system
from tools.build_executor import PROJECT_ROOT, build

ZIPAPP = "elasticjob-executor.pyz"


def agent_environment() -> dict[str, str]:
    """This process's environment as an agent machine would have it: no virtual environment on
    PATH (so ``python3`` is a plain interpreter) and no PYTHONPATH / PYTHONHOME."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV") and not name.startswith("MESOS_")
    }
    directories = [
        directory
        for directory in env.get("PATH", os.defpath).split(os.pathsep)
        if directory
        and not (Path(directory).parent / "pyvenv.cfg").exists()
        and not Path(directory).resolve().is_relative_to(PROJECT_ROOT)
    ]
    env["PATH"] = os.pathsep.join(directories)
    python3 = shutil.which("python3", path=env["PATH"])
    check = "import sys; sys.exit(sys.version_info < (3, 11))"
    if python3 is None or subprocess.run([python3, "-c", check], env=env, check=False).returncode:
        # The machines this project runs on (Debian 12) have one; without it nothing here is tested.
        pytest.fail("no python3 3.11+ outside a virtual environment on this machine")
    return env


@pytest.fixture(scope="module")
def zipapp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("dist") / ZIPAPP).output


@pytest.fixture(scope="module")
def system(
    zk_server: ZooKeeperServer, tmp_path_factory: pytest.TempPathFactory, zipapp: Path
) -> Iterator[System]:
    with running_system(
        zk_server.connect_string,
        tmp_path_factory.mktemp("e2e-zipapp"),
        settings={
            "executor_uri": zipapp.as_uri(),
            "executor_command": fetched_executor_command(zipapp.as_uri()),
        },
        cluster_env=agent_environment(),
    ) as running:
        yield running


@dataclass(frozen=True)
class ProcessView:
    pid: int
    argv: list[str]
    cwd: Path
    exe: str
    mapped_files: set[str]


def processes_in(sandbox: Path) -> list[ProcessView]:
    """The live processes whose working directory is ``sandbox``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = Path(os.readlink(entry / "cwd"))
            if cwd != sandbox.resolve():
                continue
            argv = (entry / "cmdline").read_bytes().rstrip(b"\0").split(b"\0")
            maps = (entry / "maps").read_text().splitlines()
            exe = os.readlink(entry / "exe")
        except OSError:  # gone, or not ours to look at
            continue
        mapped = {line.split(maxsplit=5)[5] for line in maps if len(line.split(maxsplit=5)) == 6}
        found.append(ProcessView(int(entry.name), [a.decode() for a in argv], cwd, exe, mapped))
    return found


def executor_process(sandbox: Path) -> ProcessView | None:
    for process in processes_in(sandbox):
        if process.argv[-1:] == [ZIPAPP] and Path(process.argv[0]).name.startswith("python"):
            return process
    return None


def test_every_shard_runs_in_an_executor_fetched_as_the_zipapp_and_run_by_a_bare_python3(
    system: System, zipapp: Path
) -> None:
    app = system.publish_app()
    job = system.register_job(app, shardingTotalCount=3, shardingItemParameters="0=red,1=green,2=blue")
    system.trigger(job)
    eventually(lambda: len(system.runs(job, "end")) == 3, timeout=60, what="three shards")

    finished = system.runs(job, "end")
    assert sorted((run.item, run.parameter) for run in finished) == [(0, "red"), (1, "green"), (2, "blue")]
    assert all(run.task_id.startswith(f"{job}@-@{run.item}@-@READY@-@") for run in finished)

    sandbox = next(path for path in system.sandboxes() if path.parent.parent.name.startswith(f"{app}@-@"))
    assert (sandbox / ZIPAPP).read_bytes() == zipapp.read_bytes()  # fetched next to the app
    assert (sandbox / "bin" / "run.sh").is_file()

    process = eventually(lambda: executor_process(sandbox), timeout=10, what="the executor process")
    assert Path(process.argv[0]).name.startswith("python3")
    assert process.argv[1:] == ["-I", "-S", ZIPAPP]
    checkout = str(PROJECT_ROOT)
    assert not [path for path in process.mapped_files if path.startswith(checkout)]
    assert not [path for path in process.mapped_files if "site-packages" in path]

    # Run as the executor was, its interpreter sees nothing of the project outside the archive.
    probe = subprocess.run(
        [process.exe, "-I", "-S", "-c", "import sys; print(sys.path); import server"],
        cwd=sandbox,
        env={},
        capture_output=True,
        text=True,
        check=False,
    )
    assert probe.returncode == 1
    assert "No module named 'server'" in probe.stderr
    assert checkout not in probe.stdout and "site-packages" not in probe.stdout

    executor_log = (sandbox / "stderr").read_text()
    assert checkout not in executor_log
    assert "Traceback" not in executor_log
