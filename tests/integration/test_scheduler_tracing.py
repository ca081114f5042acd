"""The scheduler traces every task and every run: the scheduling rig (a real ZooKeeper, the real
Mesos client, the master double) with an in-memory trace sink.

ElasticJob 3.0's scheduler wrote a ``TASK_STAGING`` status trace when it launched a task and one
for every Mesos status update after (source ``CLOUD_SCHEDULER``, the task's agent as
``slave_id``, READY or FAILOVER, the sharding items); executions carry the agent's hostname and
IP and why the run happened (``NORMAL_TRIGGER``, ``MISFIRE``, ``FAILOVER``). Mesos offers name
their agent's hostname and address (``Offer.hostname``, ``Offer.url.address.ip``), and a
``TaskStatus`` names a failure's ``reason`` (Mesos "Task State Reasons")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from devstack.stack import ZooKeeperServer
from server.domain.execution_report import ExecutionReport, encode_report
from server.domain.job import JobExecutionType
from server.domain.task import TaskId
from server.domain.trace import ExecutionSource, StatusSource
from testkit.scheduling import scheduler_rig, task_ids
from testkit.trace_sink import ListSink

STARTED = datetime(2026, 12, 2, 4, 0, 0, tzinfo=UTC)


def start_of(run_id: str, task_id: str = "") -> ExecutionReport:
    return ExecutionReport(id=run_id, task_id=task_id, start_time=STARTED)


def completion_of(
    run_id: str, *, success: bool, task_id: str = "", cause: str | None = None
) -> ExecutionReport:
    return ExecutionReport(
        id=run_id,
        task_id=task_id,
        start_time=STARTED,
        complete_time=STARTED + timedelta(seconds=1),
        success=success,
        failure_cause=cause,
        exit_code=0 if success else 3,
    )


async def test_a_run_is_traced_from_staging_to_finished_with_its_executions(
    zk_server: ZooKeeperServer,
) -> None:
    sink = ListSink()
    async with scheduler_rig(zk_server.connect_string, trace=sink) as rig:
        app = await rig.publish_app()
        job = await rig.register_job(app, sharding_total_count=2, cron="")
        await rig.trigger(job.job_name)
        await rig.offer(agent_id="agent-7", hostname="worker-7.example.test")
        tasks = task_ids(await rig.wait_for_accept(1))
        assert len(tasks) == 2

        for text in tasks:
            (staging,) = [t for t in sink.statuses if t.task_id == text]
            task_id = TaskId.parse(text)
            assert staging.state == "TASK_STAGING"
            assert staging.job_name == job.job_name
            assert staging.slave_id == "agent-7"
            assert staging.source is StatusSource.CLOUD_SCHEDULER
            assert staging.execution_type == "READY"
            assert staging.sharding_items == (task_id.item,)

        first, second = tasks
        await rig.update(first, "TASK_RUNNING", data=encode_report(start_of("run-a")))
        await rig.update(first, "TASK_FINISHED", data=encode_report(completion_of("run-a", success=True)))
        await rig.update(second, "TASK_RUNNING", data=encode_report(start_of("run-b")))
        cause = "run failed with exit code 3 (jobErrorHandlerType LOG)\nboom"
        await rig.update(
            second,
            "TASK_FINISHED",
            message="run failed with exit code 3 (jobErrorHandlerType LOG)",
            data=encode_report(completion_of("run-b", success=False, cause=cause)),
        )

        assert sink.states_of(first) == ["TASK_STAGING", "TASK_RUNNING", "TASK_FINISHED"]
        finished = [t for t in sink.statuses if t.task_id == second][-1]
        assert finished.message == "run failed with exit code 3 (jobErrorHandlerType LOG)"
        assert len({t.id for t in sink.statuses}) == len(sink.statuses)

        events = {(e.id, e.is_completion): e for e in sink.executions_of(job.job_name)}
        assert set(events) == {("run-a", False), ("run-a", True), ("run-b", False), ("run-b", True)}
        for event in events.values():
            assert event.hostname == "worker-7.example.test"
            assert event.ip == "127.0.0.1"
            assert event.execution_source is ExecutionSource.NORMAL_TRIGGER
        assert events["run-a", False].is_success is None
        assert events["run-a", True].is_success is True
        failed = events["run-b", True]
        assert failed.is_success is False and failed.failure_cause == cause
        assert failed.task_id == second and failed.sharding_item == TaskId.parse(second).item
        rig.assert_acknowledgements_exact()


async def test_a_failure_is_traced_with_its_reason_and_the_rerun_as_failover(
    zk_server: ZooKeeperServer,
) -> None:
    sink = ListSink()
    async with scheduler_rig(zk_server.connect_string, trace=sink) as rig:
        app = await rig.publish_app()
        job = await rig.register_job(app, sharding_total_count=1, cron="", failover=True)
        await rig.trigger(job.job_name)
        await rig.offer()
        (task,) = task_ids(await rig.wait_for_accept(1))
        await rig.update(
            task,
            "TASK_FAILED",
            source="SOURCE_AGENT",
            reason="REASON_CONTAINER_LAUNCH_FAILED",
            message="Failed to fetch 'http://repo.test/app.tar.gz': 404 Not Found",
        )
        failed = [t for t in sink.statuses if t.task_id == task][-1]
        assert failed.state == "TASK_FAILED"
        assert failed.message == (
            "REASON_CONTAINER_LAUNCH_FAILED: Failed to fetch 'http://repo.test/app.tar.gz': 404 Not Found"
        )

        await rig.offer()
        (rerun,) = task_ids(await rig.wait_for_accept(2))
        assert "@-@FAILOVER@-@" in rerun
        staging = [t for t in sink.statuses if t.task_id == rerun]
        assert [(t.state, t.execution_type) for t in staging] == [("TASK_STAGING", "FAILOVER")]
        await rig.update(rerun, "TASK_RUNNING", data=encode_report(start_of("rerun")))
        (event,) = [e for e in sink.executions if e.id == "rerun"]
        assert event.execution_source is ExecutionSource.FAILOVER


async def test_a_run_queued_while_its_job_ran_is_traced_as_misfire(zk_server: ZooKeeperServer) -> None:
    sink = ListSink()
    async with scheduler_rig(zk_server.connect_string, trace=sink) as rig:
        app = await rig.publish_app()
        job = await rig.register_job(app, sharding_total_count=1, cron="", misfire=True)
        await rig.trigger(job.job_name)
        await rig.offer()
        (first,) = task_ids(await rig.wait_for_accept(1))
        await rig.update(first, "TASK_RUNNING", data=encode_report(start_of("first")))
        await rig.trigger(job.job_name)  # falls into the running run: it waits
        await rig.offer()
        assert len(rig.accepts()) == 1
        await rig.update(first, "TASK_FINISHED", data=encode_report(completion_of("first", success=True)))
        await rig.offer()
        (second,) = task_ids(await rig.wait_for_accept(2))
        await rig.update(second, "TASK_RUNNING", data=encode_report(start_of("second")))
        await rig.update(second, "TASK_FINISHED", data=encode_report(completion_of("second", success=True)))
        await rig.trigger(job.job_name)  # the job idle: a normal run again
        await rig.offer()
        (third,) = task_ids(await rig.wait_for_accept(3))
        await rig.update(third, "TASK_RUNNING", data=encode_report(start_of("third")))
        sources = {e.id: e.execution_source for e in sink.executions_of(job.job_name)}
        assert sources == {
            "first": ExecutionSource.NORMAL_TRIGGER,
            "second": ExecutionSource.MISFIRE,
            "third": ExecutionSource.NORMAL_TRIGGER,
        }


async def test_a_refused_accept_is_traced_as_dropped_with_the_masters_answer(
    zk_server: ZooKeeperServer,
) -> None:
    sink = ListSink()
    async with scheduler_rig(zk_server.connect_string, trace=sink) as rig:
        app = await rig.publish_app()
        job = await rig.register_job(app, sharding_total_count=1, cron="")
        rig.master.fail_next_call("ACCEPT", 400, "offer is no longer valid")
        await rig.trigger(job.job_name)
        await rig.offer()
        await rig.wait_until(lambda: any(t.state == "TASK_DROPPED" for t in sink.of_job(job.job_name)))
        (dropped,) = [t for t in sink.of_job(job.job_name) if t.state == "TASK_DROPPED"]
        assert dropped.message.startswith("REASON_INVALID_OFFERS: ")
        assert "offer is no longer valid" in dropped.message
        assert not any(t.state == "TASK_STAGING" for t in sink.of_job(job.job_name)), "never launched"


async def test_daemon_runs_arrive_as_executor_messages(zk_server: ZooKeeperServer) -> None:
    sink = ListSink()
    async with scheduler_rig(zk_server.connect_string, trace=sink) as rig:
        app = await rig.publish_app()
        job = await rig.register_job(
            app, sharding_total_count=1, cron="* * * * * ?", job_execution_type=JobExecutionType.DAEMON
        )
        await rig.offer(agent_id="agent-3", hostname="daemon-host")
        (launched,) = await rig.wait_for_accept(1)
        task = launched["task_id"]["value"]
        executor_id = launched["executor"]["executor_id"]["value"]
        await rig.update(task, "TASK_RUNNING")

        report = completion_of("daemon-run-4", success=False, task_id=task, cause="exit code 3")
        await rig.master.send_message("agent-3", executor_id, encode_report(report))
        await rig.master.send_message("agent-3", executor_id, b"just a note, not a report")
        await rig.master.send_message("agent-3", executor_id, b'{"execution": {"id": 7}}')
        await rig.master.send_message(
            "agent-3",
            executor_id,
            encode_report(completion_of("stranger", success=True, task_id="not-a-task-id")),
        )
        await rig.update(task, "TASK_RUNNING")  # events are handled in stream order: the messages were
        (event,) = sink.executions_of(job.job_name)
        assert event.id == "daemon-run-4" and event.task_id == task
        assert event.is_success is False and event.failure_cause == "exit code 3"
        assert event.hostname == "daemon-host"
        assert event.execution_source is ExecutionSource.NORMAL_TRIGGER
