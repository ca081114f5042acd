"""Modifying an app through REST while its executor lives, on the real embedded cluster.

The embedded cluster refuses, as a Mesos master does (``validateCompatibleExecutorInfo``), a task
whose ExecutorInfo differs from that of the live executor of the same id: TASK_ERROR with
REASON_TASK_INVALID, logged by its master as "task ... refused: ExecutorInfo is not compatible".
A cached app keeps its executor on the agent between runs, and a DAEMON job's task never leaves
it, so a change of ``cpuCount`` meets a live executor. After the change both jobs must keep
running, on a new executor, with no task refused, and the old executor process must exit (the
scheduler's v1 ``SHUTDOWN`` call once no task of ours runs on it).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from devstack.stack import ZooKeeperServer
from testkit.e2e import System, running_system
from testkit.polling import eventually

#: From the change of the app until both jobs run on the new executor and the old one is gone.
SETTLE_SECONDS = 20.0


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def executors_of(system: System, app: str) -> list[dict[str, Any]]:
    """The live executors of ``app`` in the cluster's state."""
    return [executor for executor in system.cluster.executors() if executor["id"].startswith(f"{app}@-@")]


def executor_of_task(system: System) -> dict[str, str]:
    """Every task the cluster knows (live or completed) -> the executor it ran under."""
    return {task["id"]: task["executor_id"] for task in system.tasks_history()}


def refusals(system: System) -> list[str]:
    log = system.cluster.work_dir / "cluster.log"
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    return [line for line in lines if "refused:" in line or "not compatible" in line]


def test_changing_cpu_count_of_a_cached_app_moves_its_jobs_to_a_new_executor_with_nothing_refused(
    zk_server: ZooKeeperServer, tmp_path: Path
) -> None:
    with running_system(zk_server.connect_string, tmp_path) as system:
        app = system.publish_app(appCacheEnable=True, cpuCount=0.1)
        daemon = system.register_job(app, jobExecutionType="DAEMON", cron="* * * * * ?")
        cron = system.register_job(app, cron="* * * * * ?")
        eventually(
            lambda: len(system.runs(daemon, "end")) >= 2 and len(system.runs(cron, "end")) >= 2,
            timeout=30,
            what="both jobs running before the change",
        )
        (old,) = eventually(lambda: executors_of(system, app) or None, what="the app's executor")
        assert old["pid"] is not None and pid_alive(old["pid"])

        with system.rest() as client:
            response = client.put("/api/app", json={"appName": app, "cpuCount": 0.2})
        assert response.status_code == 200, response.text
        changed_at = time.monotonic()

        def moved() -> bool:
            executors = executor_of_task(system)
            live = [e for e in executors_of(system, app) if e["id"] != old["id"]]
            if len(live) != 1 or any(e["id"] == old["id"] for e in executors_of(system, app)):
                return False
            new = live[0]["id"]
            since = [
                run for job in (daemon, cron) for run in system.runs(job, "end") if run.at > time.time() - 3
            ]
            jobs_on_new = {run.job_name for run in since if executors.get(run.task_id) == new}
            return jobs_on_new == {daemon, cron}

        eventually(
            moved, timeout=SETTLE_SECONDS, what="both jobs running on the new executor, the old one gone"
        )
        settled = time.monotonic() - changed_at
        eventually(lambda: not pid_alive(old["pid"]), timeout=5, what="the old executor's process exiting")

        time.sleep(2)  # later launches are not refused either
        assert refusals(system) == []
        (new,) = executors_of(system, app)
        assert new["id"].startswith(f"{app}@-@")
        daemon_tasks = {run.task_id for run in system.runs(daemon)}
        assert len(daemon_tasks) == 2  # moved once: the first task, then one on the new executor
        assert settled < SETTLE_SECONDS
