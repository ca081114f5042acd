"""``kill -9`` of the embedded cluster (its whole process group) and a restart on the same ports:
the new agent has a new id and knows none of the old tasks, so the master answers their
reconciliation with TASK_UNKNOWN (the framework is partition-aware). Mesos "Reconciliation":
such a task is not running and will never report again, so the scheduler ends it as lost, and
every job runs again within 30 s: the cron job's next fire is no longer blocked by a "running"
shard, the DAEMON job is relaunched."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from devstack.stack import ZooKeeperServer
from server.wiring import build_scheduler
from testkit.e2e import System, kill_process_group_of, running_system
from testkit.polling import eventually


@pytest.fixture
def system(zk_server: ZooKeeperServer, tmp_path: Path) -> Iterator[System]:
    """The system with the production interval of periodic reconciliation (600 s): what follows
    a restart must not wait for it."""
    with running_system(zk_server.connect_string, tmp_path) as running:
        stopped = running.scheduler
        stopped.stop()
        running.server.scheduler = build_scheduler(
            running.zookeeper, replace(stopped.settings, reconcile_interval_seconds=600.0)
        )
        running.server.scheduler.start()
        eventually(
            lambda: running.scheduler.core is not None and running.scheduler.core.framework_id,
            what="subscribed",
        )
        yield running


def restart_cluster(system: System) -> None:
    old = system.cluster
    assert old.process is not None
    master_port = int(old.master_url.rsplit(":", 1)[1])
    agent_port = int(str(old.endpoints["agent_url"]).rsplit(":", 1)[1])
    kill_process_group_of(old.process.process.pid)
    old.process.process.wait(timeout=10)
    old.process = None
    # The same ClusterProcess starts again, so the system's own clean-up stops the restarted one.
    old.argv[old.argv.index("--port") + 1] = str(master_port)
    old.argv[old.argv.index("--agent-port") + 1] = str(agent_port)
    old.start()


def running_task_of(system: System, job: str) -> list[str]:
    return [
        task["id"]
        for framework in system.cluster.state().get("frameworks", [])
        for task in framework.get("tasks", [])
        if task["id"].startswith(f"{job}@-@") and task.get("state") == "TASK_RUNNING"
    ]


def test_every_job_runs_again_within_30_s_of_a_cluster_restart(system: System) -> None:
    app = system.publish_app()
    cron_job = system.register_job(app, cron="0/2 * * * * ?", jobParameter="sleep60")
    daemon = system.register_job(app, jobExecutionType="DAEMON", cron="* * * * * ?")
    eventually(lambda: system.runs(cron_job) and system.runs(daemon, "end"), timeout=20, what="both run")
    eventually(lambda: running_task_of(system, daemon), timeout=10, what="daemon task running")
    before_cron, before_daemon = len(system.runs(cron_job)), len(system.runs(daemon))

    restart_cluster(system)
    restarted = time.monotonic()
    eventually(lambda: len(system.runs(cron_job)) > before_cron, timeout=30, what="the cron job runs again")
    eventually(
        lambda: running_task_of(system, daemon) and len(system.runs(daemon)) > before_daemon,
        timeout=max(1.0, 30 - (time.monotonic() - restarted)),
        what="the DAEMON job relaunched",
    )
    elapsed = time.monotonic() - restarted
    print(f"every job ran again {elapsed:.1f} s after the cluster restart")
    assert elapsed < 30
