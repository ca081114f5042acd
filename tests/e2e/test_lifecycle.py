"""Misfire, resident jobs, removal, app caching, hostile apps and a scheduler restart, for real."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

from server.registry.ready import ReadyQueue
from testkit.e2e import System, http_server, kill_process_group_of
from testkit.polling import eventually


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_misfire_on_queues_fires_that_arrive_during_a_long_run(system: System) -> None:
    app = system.publish_app()
    queued = system.register_job(app, cron="0/1 * * * * ?", misfire=True, jobParameter="sleep4")
    collapsed = system.register_job(app, cron="0/1 * * * * ?", misfire=False, jobParameter="sleep4")
    ready = ReadyQueue(system.zookeeper)
    eventually(lambda: ready.count(queued) >= 3, timeout=20, what="fires queued behind the running job")
    assert ready.count(collapsed) <= 1
    for job in (queued, collapsed):
        system.deregister(job)
    assert len(system.runs(collapsed, "start")) <= 2


def test_a_daemon_job_stays_resident_runs_per_cron_and_comes_back_when_its_executor_dies(
    system: System,
) -> None:
    app = system.publish_app()
    job = system.register_job(app, jobExecutionType="DAEMON", cron="* * * * * ?")
    eventually(lambda: len(system.runs(job, "end")) >= 3, timeout=30, what="three cron runs of the daemon")
    first_task = system.runs(job)[0].task_id
    assert {run.task_id for run in system.runs(job)} == {first_task}  # one resident task

    executor_pid = eventually(
        lambda: next(
            (e["pid"] for e in system.cluster.executors() if e["id"].startswith(f"{app}@-@") and e["pid"]),
            None,
        ),
        what="the executor's pid",
    )
    kill_process_group_of(executor_pid)
    eventually(
        lambda: any(run.task_id != first_task for run in system.runs(job, "end")),
        timeout=40,
        what="the daemon relaunched in a new task",
    )
    system.deregister(job)


def test_deregister_stops_a_running_task_within_seconds(system: System) -> None:
    app = system.publish_app()
    job = system.register_job(app, jobParameter="sleep60")
    system.trigger(job)
    run = eventually(lambda: next(iter(system.runs(job)), None), timeout=30, what="the run to start")
    system.deregister(job)
    eventually(lambda: not pid_alive(run.pid), timeout=15, what="the shard's process to stop")
    assert system.runs(job, "end") == []
    assert system.running_nodes(job) == []


def test_app_cache_enabled_downloads_once_and_disabled_downloads_every_launch(
    system: System, tmp_path: Path
) -> None:
    served = tmp_path / "served"
    served.mkdir()
    (served / "cached.tar.gz").write_bytes(system.app_archive.read_bytes())
    (served / "fresh.tar.gz").write_bytes(system.app_archive.read_bytes())
    with http_server(served) as (base_url, requested):
        cached_app = system.publish_app(f"{base_url}/cached.tar.gz", appCacheEnable=True)
        fresh_app = system.publish_app(f"{base_url}/fresh.tar.gz", appCacheEnable=False)
        cached_job = system.register_job(cached_app)
        fresh_job = system.register_job(fresh_app)
        for launch in range(1, 4):
            system.trigger(cached_job)
            system.trigger(fresh_job)
            eventually(
                lambda n=launch: (
                    len(system.runs(cached_job, "end")) == n and len(system.runs(fresh_job, "end")) == n
                ),
                timeout=30,
                what=f"launch {launch}",
            )
            eventually(
                lambda: not system.running_nodes(cached_job) and not system.running_nodes(fresh_job),
                timeout=15,
            )
    assert requested.count("/cached.tar.gz") == 1
    assert requested.count("/fresh.tar.gz") == 3


def test_a_tar_slip_archive_fails_the_task_and_writes_nothing_outside(system: System, tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    archive = tmp_path / "evil.tar.gz"
    payload = b"owned\n"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo(f"../../../../../../../..{victim}")
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
        script = b"#!/bin/sh\necho ran\n"
        info = tarfile.TarInfo("bin/run.sh")
        info.size, info.mode = len(script), 0o755
        tar.addfile(info, io.BytesIO(script))
    app = system.publish_app(archive.as_uri())
    job = system.register_job(app)
    system.trigger(job)
    task = eventually(
        lambda: next(
            (
                t
                for t in system.tasks_history()
                if t["id"].startswith(f"{job}@-@") and t["state"] == "TASK_FAILED"
            ),
            None,
        ),
        timeout=30,
        what="the task to fail",
    )
    assert "escapes" in task["message"]
    assert not victim.exists()
    assert system.runs(job) == []


def test_a_bootstrap_script_linking_out_of_the_sandbox_fails_the_task(system: System, tmp_path: Path) -> None:
    outside = tmp_path / "outside.sh"
    witness = tmp_path / "witness"
    outside.write_text(f"#!/bin/sh\ntouch {witness}\n")
    outside.chmod(0o755)
    archive = tmp_path / "linked.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        link = tarfile.TarInfo("bin/run.sh")
        link.type, link.linkname = tarfile.SYMTYPE, str(outside)
        tar.addfile(link)
    app = system.publish_app(archive.as_uri())
    job = system.register_job(app)
    system.trigger(job)
    task = eventually(
        lambda: next(
            (
                t
                for t in system.tasks_history()
                if t["id"].startswith(f"{job}@-@") and t["state"] == "TASK_FAILED"
            ),
            None,
        ),
        timeout=30,
        what="the task to fail",
    )
    assert "'bin/run.sh' links to the absolute path" in task["message"]  # refused before anything runs
    assert not witness.exists()


def test_a_scheduler_restart_in_the_middle_of_a_run_neither_loses_nor_repeats_it(system: System) -> None:
    app = system.publish_app()
    job = system.register_job(app, shardingTotalCount=2, jobParameter="sleep4")
    system.trigger(job)
    eventually(lambda: len(system.runs(job)) == 2, timeout=30, what="both shards to start")
    system.restart_scheduler()
    eventually(lambda: len(system.runs(job, "end")) == 2, timeout=30, what="the run to finish")
    eventually(lambda: not system.running_nodes(job), timeout=30, what="the new leader to record the end")
    assert len(system.runs(job)) == 2  # not repeated
    assert system.failover_nodes(job) == []
