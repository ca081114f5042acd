"""``python -m server.cluster`` as a process: endpoints file, SIGKILL and restart on the same work
directory (the new agent kills what the old one left running), SIGTERM stops cleanly."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from testkit.cluster import command_task, group_alive, launch, subscribed, wait_gone
from testkit.polling import until

REPO_ROOT = Path(__file__).resolve().parents[2]


def _start_cluster(work_dir: Path, log: Path) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "server.cluster",
        "--port",
        "0",
        "--agent-port",
        "0",
        "--work-dir",
        str(work_dir),
        "--cpus",
        "2",
        "--mem",
        "512",
    ]
    with log.open("ab") as output:
        return subprocess.Popen(command, cwd=REPO_ROOT, stdout=output, stderr=subprocess.STDOUT)


async def _endpoints(work_dir: Path, process: subprocess.Popen[bytes]) -> dict[str, str]:
    """The endpoints the process wrote (a file left by an earlier, killed run does not count)."""
    endpoints = work_dir / "cluster.json"

    def written() -> bool:
        try:
            return bool(json.loads(endpoints.read_text())["pid"] == process.pid)
        except (OSError, ValueError, KeyError):
            return False

    await until(lambda: written() or process.poll() is not None, timeout=10.0, what="cluster.json")
    assert process.poll() is None, "the cluster process exited"
    return dict(json.loads(endpoints.read_text()))


async def _wait_exit(process: subprocess.Popen[bytes], timeout: float = 10.0) -> int:
    await until(lambda: process.poll() is not None, timeout=timeout, what="process exit")
    return int(process.returncode)


async def test_restart_after_sigkill_reaps_the_orphans_and_sigterm_stops_cleanly(tmp_path: Path) -> None:
    work_dir = tmp_path / "cluster"
    log = tmp_path / "cluster.log"
    first = _start_cluster(work_dir, log)
    try:
        endpoints = await _endpoints(work_dir, first)
        async with subscribed(endpoints["master_url"]) as (client, scheduler):
            offer = await scheduler.next_offer(after=0)
            # The shell leads the task's process group; the background sleep is its child in the
            # same group, which the parent-death signal does not reach.
            task = command_task(offer, "survivor", "sleep 300 & echo $! > child.pid; wait")
            await client.accept([offer["id"]["value"]], launch(task))
            await scheduler.wait_for_state("survivor", "TASK_RUNNING")
            sandbox = next(work_dir.glob("slaves/*/frameworks/*/executors/survivor/runs/latest"))
            await until(lambda: (sandbox / "child.pid").is_file(), what="child.pid")
            child = int((sandbox / "child.pid").read_text())
            pgid = os.getpgid(child)
            first.send_signal(signal.SIGKILL)
            assert await _wait_exit(first) == -signal.SIGKILL
        await asyncio.sleep(0.2)
        assert group_alive(pgid), "the crashed agent left an orphan behind"

        second = _start_cluster(work_dir, log)
        try:
            endpoints = await _endpoints(work_dir, second)
            assert await wait_gone(pgid, timeout=5.0)
            async with subscribed(endpoints["master_url"]) as (client, scheduler):
                offer = await scheduler.next_offer(after=0)
                await client.accept([offer["id"]["value"]], launch(command_task(offer, "later", "sleep 300")))
                await scheduler.wait_for_state("later", "TASK_RUNNING")
                sandbox = next(work_dir.glob("slaves/*/frameworks/*/executors/later/runs/latest")).resolve()
                async with httpx.AsyncClient() as http:
                    document = (await http.get(endpoints["agent_url"] + "/state")).json()
                    containers = await http.post(
                        endpoints["agent_url"] + "/api/v1", json={"type": "GET_CONTAINERS"}
                    )
                assert str(pgid) in log.read_text(), "the restarted agent says which orphans it killed"
                (executor,) = document["frameworks"][0]["executors"]
                assert executor["directory"] == str(sandbox)
                (container,) = containers.json()["get_containers"]["containers"]
                later_group = int(container["container_status"]["executor_pid"])
                second.send_signal(signal.SIGTERM)
                assert await _wait_exit(second) == 0
            assert not group_alive(later_group)
            assert not (work_dir / "cluster.json").exists()
        finally:
            if second.poll() is None:
                second.kill()
    finally:
        if first.poll() is None:
            first.kill()
