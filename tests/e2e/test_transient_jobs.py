"""TRANSIENT jobs run for real: every shard, on every fire and trigger, with its own parameter."""

from __future__ import annotations

import os
import signal

from testkit.e2e import System
from testkit.polling import eventually


def test_a_cron_job_runs_every_shard_with_its_parameter_on_every_fire(system: System) -> None:
    app = system.publish_app()
    job = system.register_job(
        app, cron="0/2 * * * * ?", shardingTotalCount=3, shardingItemParameters="0=alpha,1=beta,2=gamma"
    )
    eventually(lambda: len(system.runs(job, "end")) >= 6, timeout=40, what="two fires of three shards")
    system.deregister(job)
    finished = system.runs(job, "end")
    assert {(run.item, run.parameter) for run in finished} == {(0, "alpha"), (1, "beta"), (2, "gamma")}
    by_item = {item: [run for run in finished if run.item == item] for item in range(3)}
    assert all(len(item_runs) >= 2 for item_runs in by_item.values())
    assert len({run.task_id for run in finished}) == len(finished)  # one task per shard per fire


def test_a_job_without_cron_runs_once_per_trigger(system: System) -> None:
    app = system.publish_app()
    job = system.register_job(app, shardingTotalCount=2)
    system.trigger(job)
    eventually(lambda: len(system.runs(job, "end")) == 2, timeout=30, what="first trigger")
    system.trigger(job)
    eventually(lambda: len(system.runs(job, "end")) == 4, timeout=30, what="second trigger")
    eventually(lambda: not system.running_nodes(job), timeout=10, what="tasks recorded as finished")
    assert sorted(run.item for run in system.runs(job, "end")) == [0, 0, 1, 1]


def test_a_shard_failing_under_throw_is_rerun_with_failover_on(system: System) -> None:
    app = system.publish_app()
    job = system.register_job(
        app,
        shardingTotalCount=2,
        shardingItemParameters="0=ok,1=fail-once",
        failover=True,
        jobErrorHandlerType="THROW",
    )
    system.trigger(job)
    eventually(
        lambda: [r.item for r in system.runs(job, "start")].count(1) == 2, timeout=30, what="shard 1 re-run"
    )
    starts = system.runs(job, "start")
    assert [r.item for r in starts].count(0) == 1  # only the failed shard runs again
    failover_run = [r for r in starts if r.item == 1][-1]
    assert "@-@FAILOVER@-@" in failover_run.task_id
    eventually(lambda: not system.running_nodes(job) and not system.failover_nodes(job), timeout=15)


def test_a_shard_failing_under_throw_is_not_rerun_with_failover_off(system: System) -> None:
    app = system.publish_app()
    job = system.register_job(
        app,
        shardingTotalCount=2,
        shardingItemParameters="0=ok,1=fail",
        failover=False,
        jobErrorHandlerType="THROW",
    )
    system.trigger(job)
    eventually(lambda: len(system.runs(job, "start")) == 2 and not system.running_nodes(job), timeout=30)
    task = next(t for t in system.tasks_history() if t["id"].startswith(f"{job}@-@1@-@"))
    assert task["state"] == "TASK_FAILED"
    assert [r.item for r in system.runs(job, "start")].count(1) == 1
    assert system.failover_nodes(job) == []


def test_a_failure_under_log_is_recorded_and_not_rerun(system: System) -> None:
    app = system.publish_app()
    job = system.register_job(app, shardingItemParameters="0=fail", failover=True, jobErrorHandlerType="LOG")
    system.trigger(job)
    eventually(lambda: system.runs(job, "start") and not system.running_nodes(job), timeout=30)
    task = next(t for t in system.tasks_history() if t["id"].startswith(f"{job}@-@0@-@"))
    assert task["state"] == "TASK_FINISHED"
    assert "exit code 3" in task["message"]
    assert len(system.runs(job, "start")) == 1


def test_a_shard_whose_process_is_killed_is_rerun_with_failover_on(system: System) -> None:
    app = system.publish_app()
    job = system.register_job(
        app,
        shardingTotalCount=1,
        shardingItemParameters="0=sleep30",
        failover=True,
        jobErrorHandlerType="THROW",
    )
    system.trigger(job)
    first = eventually(lambda: next(iter(system.runs(job)), None), timeout=30, what="the shard to start")
    os.kill(first.pid, signal.SIGKILL)
    rerun = eventually(
        lambda: next(iter(system.runs(job)[1:]), None), timeout=30, what="the shard to run again"
    )
    assert "@-@FAILOVER@-@" in rerun.task_id
    system.deregister(job)
