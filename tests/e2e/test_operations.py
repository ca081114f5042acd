"""Disabling, enabling and deleting through REST, with the real scheduler and the embedded cluster:
the shard processes stop, the app's executor leaves the agent (Mesos' ``SHUTDOWN``, "Scheduler HTTP
API"), and ElasticJob-Cloud 3.0's routes show what runs."""

from __future__ import annotations

import os

from testkit.e2e import System
from testkit.harness import snapshot
from testkit.polling import eventually


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def executors_of(system: System, app: str) -> list[str]:
    return [
        executor["executor_id"]
        for framework in system.cluster.state().get("frameworks", [])
        for executor in framework.get("executors", [])
        if executor["executor_id"].startswith(f"{app}@-@")
    ]


def test_disabling_a_job_stops_its_running_shard_and_enabling_lets_it_run_again(system: System) -> None:
    app = system.publish_app()
    job = system.register_job(app, jobParameter="sleep60")
    system.trigger(job)
    run = eventually(lambda: next(iter(system.runs(job)), None), timeout=30, what="the run to start")
    with system.rest() as client:
        running = client.get("/api/job/tasks/running").json()
        assert [task["id"] for task in running if task["metaInfo"]["jobName"] == job] == [run.task_id]
        assert client.post(f"/api/job/{job}/disable").status_code == 200
        eventually(lambda: not pid_alive(run.pid), timeout=15, what="the shard's process to stop")
        eventually(lambda: system.running_nodes(job) == [], timeout=15, what="its end recorded")
        assert client.post(f"/api/job/{job}/trigger").status_code == 400
        assert client.post(f"/api/job/{job}/enable").status_code == 200
        assert client.post(f"/api/job/{job}/trigger").status_code == 200
    eventually(lambda: len(system.runs(job)) == 2, timeout=30, what="a run after enabling")
    system.deregister(job)


def test_deleting_an_app_stops_its_shards_and_its_executor_and_leaves_nothing(system: System) -> None:
    app = system.publish_app()
    job = system.register_job(app, jobParameter="sleep60", shardingTotalCount=2)
    system.trigger(job)
    eventually(lambda: len(system.runs(job)) == 2, timeout=30, what="both shards to start")
    pids = [run.pid for run in system.runs(job)]
    assert executors_of(system, app)
    with system.rest() as client:
        response = client.delete(f"/api/app/{app}")
        assert response.status_code == 200, response.text
    eventually(lambda: not any(pid_alive(pid) for pid in pids), timeout=15, what="the shards to stop")
    eventually(lambda: executors_of(system, app) == [], timeout=15, what="the app's executor to leave")
    eventually(lambda: system.scheduler.core is not None and not system.scheduler.core.orphans, timeout=15)
    left = [
        path
        for path in snapshot(system.zookeeper.client, system.zookeeper.paths.root)
        if app in path or job in path
    ]
    assert left == []
