"""Why a job does not run, as the job state call tells it, on the embedded cluster with 2 CPUs.

The scheduler's reason comes from the offers it receives (Mesos docs, "Scheduler HTTP API":
OFFERS events carry each agent's unreserved scalar ``cpus`` / ``mem``); the first task of an app
on an agent also needs the executor's resources (ExecutorInfo). Reconciliation follows the same
document's RECONCILE call (explicit: the tasks named; implicit: an empty list).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import grpc
import pytest
from elasticjob.cloud.v1 import operate_pb2, operate_pb2_grpc
from kazoo.exceptions import NoNodeError

from devstack.stack import ZooKeeperServer
from server.domain.app import AppConfig
from server.domain.job import JobConfig, JobExecutionType
from server.registry.diagnosis import Diagnosis, DiagnosisStore
from server.registry.zookeeper import ZooKeeper
from server.scheduler.diagnosis import Diagnoser
from server.scheduler.offers import Offer
from server.scheduler.settings import CoreSettings
from server.scheduler.state import SchedulerState
from server.wiring import build
from testkit.clock import ManualClock
from testkit.e2e import System, running_system
from testkit.harness import grpc_metadata, unique_name
from testkit.polling import eventually


@pytest.fixture(scope="module")
def system(zk_server: ZooKeeperServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    with running_system(
        zk_server.connect_string, tmp_path_factory.mktemp("diagnosis"), cpus=2, mem=2048
    ) as running:
        yield running


def job_state(system: System, job_name: str) -> dict[str, Any]:
    with system.rest() as client:
        response = client.get(f"/api/job/{job_name}/state")
    assert response.status_code == 200, response.text
    return dict(response.json())


class OfferCycles:
    """Counts the offer events the leading core has handled (launch and diagnosis included)."""

    def __init__(self, system: System) -> None:
        core = system.scheduler.core
        assert core is not None
        self.handled = 0
        original = core.offers_received

        async def counted(offers: list[dict[str, Any]]) -> None:
            await original(offers)
            self.handled += 1

        core.offers_received = counted  # type: ignore[method-assign]


def diagnosis_node(system: System, job_name: str) -> bytes | None:
    try:
        return bytes(system.zookeeper.client.get(system.zookeeper.paths.diagnosis_job(job_name))[0])
    except NoNodeError:
        return None


def test_an_unschedulable_job_says_why_within_one_offer_cycle_once_and_clears_when_it_runs(
    system: System, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="server.scheduler")
    app = system.publish_app(cpuCount=0.1, memoryMB=32)
    job = system.register_job(app, cpuCount=100, memoryMB=16)
    cycles = OfferCycles(system)
    system.trigger(job)
    eventually(lambda: cycles.handled >= 1, timeout=20, what="an offer cycle after the trigger")

    state = job_state(system, job)  # no further wait: the first offer cycle gave the reason
    assert state["readyRuns"] == 1
    assert state["shards"] == []
    assert state["waitingReason"] == (
        "needs 100 cpus + 0.1 for the executor; the largest offer in the last 5 minutes had 2"
    )
    assert state["waitingSince"]

    seen = cycles.handled
    eventually(lambda: cycles.handled >= seen + 2, timeout=30, what="more offer cycles")
    logged = [r for r in caplog.records if job in r.getMessage() and "does not run" in r.getMessage()]
    assert len(logged) == 1, [r.getMessage() for r in logged]  # said once, not per offer

    body = {
        "appName": app,
        "jobName": job,
        "cpuCount": 0.2,
        "memoryMB": 16,
        "jobExecutionType": "TRANSIENT",
        "shardingTotalCount": 1,
    }
    with system.rest() as client:
        assert client.put("/api/job/update", json=body).status_code == 200
    eventually(lambda: len(system.runs(job, "end")) == 1, timeout=30, what="the job ran once it fit")
    eventually(lambda: diagnosis_node(system, job) is None, timeout=10, what="the reason cleared")
    assert job_state(system, job)["waitingReason"] == ""


def test_a_run_needing_more_memory_than_offered_names_the_memory(system: System) -> None:
    app = system.publish_app(cpuCount=0.1, memoryMB=32)
    job = system.register_job(app, cpuCount=0.1, memoryMB=1_000_000)
    system.trigger(job)
    eventually(lambda: job_state(system, job)["waitingReason"] != "", timeout=20, what="a reason")
    reason = job_state(system, job)["waitingReason"]
    assert (
        reason
        == "needs 1000000 MB of memory + 32 for the executor; the largest offer in the last 5 minutes had 2048"
    )
    system.deregister(job)
    eventually(
        lambda: diagnosis_node(system, job) is None, timeout=15, what="the reason removed with the job"
    )


def test_a_running_task_shows_its_state_as_the_leader_knows_it(system: System) -> None:
    app = system.publish_app()
    job = system.register_job(app, jobParameter="sleep8")
    system.trigger(job)

    def running_task() -> dict[str, Any] | None:
        shards = job_state(system, job)["shards"]
        task = shards[0].get("currentTask") if shards else None
        return task if task and task["state"] == "TASK_RUNNING" else None

    eventually(lambda: running_task() is not None, timeout=30, what="the task running")
    task = running_task()
    assert task is not None
    assert task["taskId"].startswith(f"{job}@-@0@-@READY@-@")
    assert task["agentId"] == task["taskId"].split("@-@")[3]
    system.deregister(job)


def test_a_reconcile_asked_for_through_a_standby_is_carried_out_by_the_leader_and_the_window_is_shared(
    system: System, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="server.scheduler")
    standby = build(
        dataclasses.replace(system.server.settings, grpc_address="127.0.0.1:0"),
        scheduler_settings=system.scheduler.settings,
    )
    standby.start(zookeeper_wait=10)
    try:
        assert not standby.scheduler or not standby.scheduler.leading.is_set()
        with grpc.insecure_channel(f"127.0.0.1:{standby.port}") as channel:
            stub = operate_pb2_grpc.OperateServiceStub(channel)
            stub.ReconcileTasks(
                operate_pb2.ReconcileTasksRequest(kind="explicit"), metadata=grpc_metadata(system.token)
            )
        eventually(
            lambda: any("explicit reconciliation sent" in r.getMessage() for r in caplog.records),
            timeout=10,
            what="the leader reconciled",
        )
        with system.rest() as client:
            refused = client.post("/api/operate/reconcile/implicit")  # through the leader's replica
        assert refused.status_code == 429, refused.text
    finally:
        standby.stop(grace=0.5)


# The diagnoser alone, on a real ZooKeeper, with the scheduler's memory and a manual clock.


@pytest.fixture
def diagnosing(
    zk_server: ZooKeeperServer,
) -> Iterator[tuple[Diagnoser, SchedulerState, ManualClock, ZooKeeper]]:
    zookeeper = ZooKeeper(zk_server.connect_string, namespace=unique_name("diag"), timeout=5.0)
    zookeeper.start(wait=10)
    clock = ManualClock(datetime(2026, 12, 2, 4, 0, tzinfo=UTC))
    state = SchedulerState(CoreSettings(executor_command="true"), clock)
    try:
        yield Diagnoser(state, DiagnosisStore(zookeeper)), state, clock, zookeeper
    finally:
        zookeeper.stop()


class SubscribedNoCalls:
    """Stands for a subscription; the diagnoser makes no Mesos call."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the diagnoser called Mesos: {name}")


def waiting_job(state: SchedulerState, cpus: float = 0.5) -> str:
    app = AppConfig(
        app_name="app", app_url="http://repo.test/app.tar.gz", bootstrap_script="run.sh", cpu_count=0.5
    )
    job = JobConfig(
        job_name=unique_name("job"),
        app_name="app",
        cpu_count=cpus,
        memory_mb=16,
        job_execution_type=JobExecutionType.TRANSIENT,
        sharding_total_count=1,
    )
    state.apps[app.app_name] = app
    state.jobs[job.job_name] = job
    state.ready[job.job_name] = (1, 0)
    return job.job_name


def test_without_offers_the_reason_comes_after_a_grace_and_names_the_window_once_it_is_covered(
    diagnosing: tuple[Diagnoser, SchedulerState, ManualClock, ZooKeeper],
) -> None:
    diagnoser, state, clock, zookeeper = diagnosing
    store = DiagnosisStore(zookeeper)
    job = waiting_job(state)
    asyncio.run(diagnoser.step([]))
    assert store.get(job) is None  # offers may just not have come yet
    clock.advance(state.settings.revive_retry_seconds)
    asyncio.run(diagnoser.step([]))
    unsubscribed = store.get(job)
    assert (
        unsubscribed is not None
        and unsubscribed.reason == "the scheduler is not subscribed to a Mesos master"
    )
    state.mesos = SubscribedNoCalls()  # type: ignore[assignment]
    asyncio.run(diagnoser.step([]))
    first = store.get(job)
    assert first is not None
    assert (
        first.reason == "no offers received since this scheduler began leading at 2026-12-02T04:00:00+00:00"
    )
    clock.advance(300)
    asyncio.run(diagnoser.step([]))
    later = store.get(job)
    assert later is not None and later.reason == "no offers received in the last 5 minutes"


def test_a_reason_is_written_only_when_it_changes_and_deleted_when_the_work_is_gone(
    diagnosing: tuple[Diagnoser, SchedulerState, ManualClock, ZooKeeper],
) -> None:
    diagnoser, state, _, zookeeper = diagnosing
    job = waiting_job(state, cpus=100)
    offers = [Offer(offer_id="o1", agent_id="a1", hostname="h", cpus=2, mem=1024, executor_ids=frozenset())]
    diagnoser.offered(offers)
    asyncio.run(diagnoser.step(offers))
    path = zookeeper.paths.diagnosis_job(job)
    data, stat = zookeeper.client.get(path)
    assert b"needs 100 cpus + 0.5 for the executor" in data
    for _ in range(3):
        asyncio.run(diagnoser.step(offers))
    assert zookeeper.client.get(path)[1].mzxid == stat.mzxid  # not rewritten

    state.disabled_jobs.add(job)
    asyncio.run(diagnoser.step([]))
    assert b"is disabled" in zookeeper.client.get(path)[0]

    state.forget_job(job)
    state.ready.pop(job)
    asyncio.run(diagnoser.step([]))
    assert zookeeper.client.exists(path) is None


def test_a_new_leader_deletes_the_reasons_left_for_work_that_no_longer_waits(
    diagnosing: tuple[Diagnoser, SchedulerState, ManualClock, ZooKeeper],
) -> None:
    diagnoser, _, _, zookeeper = diagnosing
    path = zookeeper.paths.diagnosis_job("gone_job")
    zookeeper.client.create(path, Diagnosis("old", 0.0).encode(), makepath=True)
    asyncio.run(diagnoser.step([]))
    assert zookeeper.client.exists(path) is None
