"""One launched task's life on the executor, from TASK_STARTING to its terminal update.

TRANSIENT: STARTING; wait for a run slot; start the script; RUNNING; one run. Then:

=========================  ===================  ============================================
run                        jobErrorHandlerType  terminal update
=========================  ===================  ============================================
exit 0                     any                  TASK_FINISHED
failed                     LOG (default)        TASK_FINISHED, ``message`` records the failure
failed                     THROW                TASK_FAILED with that message
failed                     IGNORE               TASK_FINISHED, no message
killed by KILL / SHUTDOWN  any                  TASK_KILLED
=========================  ===================  ============================================

Every run is reported (:mod:`server.domain.execution_report`): the ``TASK_RUNNING`` that says the
script started carries its start in ``TaskStatus.data``, the terminal update its completion:
``success`` true only for exit 0; a failed or killed run is reported failed with its cause (the
message above, then the last lines the script wrote to stderr) and exit code, under every
``jobErrorHandlerType``: as in ElasticJob, whose executor records the failed execution before the
error handler decides what the failure means, so IGNORE changes the task's state, not the record.

A run *failed* when it exited non-zero, died of a signal nobody here sent (a user's ``kill``,
the OOM killer), or could not be started. A signal death is a failure like any other: under LOG
the task finishes with e.g. "run failed with signal 9 (SIGKILL) (jobErrorHandlerType LOG)" and
is not re-run, under THROW it fails (and the scheduler fails it over when ``failover`` is on).

DAEMON: STARTING, RUNNING, then one run per cron fire (see :mod:`server.executor.schedule` for
misfire and sampling), each sampled run wrapped in TASK_RUNNING updates with message ``BEGIN`` and
``COMPLETE``, and reported (start and completion) in executor ``MESSAGE`` calls naming the task. A failed run under THROW ends the task with TASK_FAILED; under LOG it is logged
(and the task stays RUNNING); under IGNORE nothing happens. A cron with no fire left keeps the
task RUNNING and idle until it is killed.

KILL (and SHUTDOWN) stop the task wherever it is: waiting for a slot or for the next fire, it
ends at once; during a run, the run's process group gets SIGTERM, then SIGKILL after the grace
period; either way the task ends with TASK_KILLED. Exactly one terminal update is sent per task.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Protocol

from server.base.clock import Clock
from server.base.processes import ProcessStartError
from server.domain.execution_report import ExecutionReport, encode_report
from server.domain.job import ErrorHandlerType, JobExecutionType
from server.executor.runs import RunResult, RunSlots, ScriptRun, ShardOutput, timestamp
from server.executor.sandbox import ScriptRefused, resolve_bootstrap
from server.executor.schedule import EventSampler, FireBacklog, cron_fires
from server.executor.shard import LaunchedShard

__all__ = ["SendMessage", "SendUpdate", "ShardTask", "failure_message"]

log = logging.getLogger("server.executor.tasks")


class SendUpdate(Protocol):
    """Record and send one status update (``data``: its ``TaskStatus.data``)."""

    def __call__(
        self, task_id: str, state: str, message: str | None, *, data: bytes | None = None
    ) -> object: ...


#: ``send_message(data)``: send one executor MESSAGE to the framework (best effort).
SendMessage = Callable[[bytes], object]

CONTEXT_VARIABLE = "ELASTICJOB_SHARDING_CONTEXT"
#: Executor variables a shard's process does not inherit.
PRIVATE_VARIABLES = frozenset({"MESOS_EXECUTOR_AUTHENTICATION_TOKEN"})


def failure_message(result: RunResult, handler: ErrorHandlerType, run_number: int | None = None) -> str:
    """The status message recording a failed run."""
    which = f"run {run_number}" if run_number is not None else "run"
    return f"{which} failed with {result.describe()} (jobErrorHandlerType {handler.value})"


def failure_cause(message: str, output: ShardOutput) -> str:
    """A failed run's cause for its report: ``message``, then the run's last stderr lines."""
    tail = output.stderr_tail()
    return f"{message}\n{tail}" if tail else message


class _Finished(Exception):
    """Internal: the task's terminal update is decided (``report``: the run's completion)."""

    def __init__(self, state: str, message: str | None, report: ExecutionReport | None = None) -> None:
        super().__init__(state)
        self.state = state
        self.message = message
        self.report = report


class ShardTask:
    """A launched task: :meth:`start` it, :meth:`kill` it; :attr:`done` is set when it ended."""

    def __init__(
        self,
        shard: LaunchedShard,
        *,
        sandbox: Path,
        base_environment: Mapping[str, str],
        slots: RunSlots,
        send: SendUpdate,
        zone: tzinfo,
        clock: Clock,
        on_done: Callable[[ShardTask], object] | None = None,
        send_message: SendMessage | None = None,
    ) -> None:
        self.shard = shard
        self._sandbox = sandbox
        self._slots = slots
        self._send = send
        self._send_message = send_message
        self._zone = zone
        self._clock = clock
        self._on_done = on_done
        self._environment = {k: v for k, v in base_environment.items() if k not in PRIVATE_VARIABLES}
        self._environment.update(shard.environment)
        self._environment[CONTEXT_VARIABLE] = shard.document_text
        self._output = ShardOutput(sandbox, shard.label)
        self._main: asyncio.Task[None] | None = None
        self._run: ScriptRun | None = None
        self._starting_run = False
        self._run_started: datetime | None = None
        self._kill_grace: float | None = None
        self._killers: set[asyncio.Task[None]] = set()
        self.done = asyncio.Event()

    @property
    def task_id(self) -> str:
        return self.shard.task_id

    @property
    def kill_requested(self) -> bool:
        return self._kill_grace is not None

    def start(self) -> None:
        """Send TASK_STARTING and begin (the caller has checked the script already)."""
        self._send(self.task_id, "TASK_STARTING", None)
        self._main = asyncio.create_task(self._life(), name=f"task {self.task_id}")

    def kill(self, grace_period: float) -> None:
        """Stop the task (see the module docstring); a later call may shorten the grace period."""
        self._kill_grace = grace_period
        if self._main is None or self._main.done():
            return
        if self._run is not None:
            killer = asyncio.create_task(self._run.terminate(grace_period))
            self._killers.add(killer)
            killer.add_done_callback(self._killers.discard)
        elif not self._starting_run:
            self._main.cancel()
        # while a run is being started, _run_once sees the request once the process exists

    async def wait(self) -> None:
        await self.done.wait()

    # -- the task's life -------------------------------------------------------------------------------

    async def _life(self) -> None:
        state: str
        message: str | None
        report: ExecutionReport | None = None
        try:
            try:
                if self.shard.execution_type is JobExecutionType.DAEMON:
                    await self._daemon()
                else:
                    await self._transient()
                state, message = "TASK_FAILED", "the task ended without a verdict"  # not reached
            except _Finished as finished:
                state, message, report = finished.state, finished.message, finished.report
            except asyncio.CancelledError:
                if not self.kill_requested:
                    raise
                state, message = "TASK_KILLED", "killed before its run started"
            except Exception as exc:
                log.exception("task %s: executor error", self.task_id)
                state, message = "TASK_FAILED", f"executor error: {exc}"
            self._send(self.task_id, state, message, data=encode_report(report) if report else None)
        finally:
            self.done.set()
            if self._on_done is not None:
                self._on_done(self)

    async def _transient(self) -> None:
        run_id = str(uuid.uuid4())
        async with self._slots.hold(self.shard.context.job_name, self.shard.service_handler):
            result = await self._run_once(run_number=None, announce_running=True, run_id=run_id)
        if result.killed:
            message = "killed during its run"
            raise _Finished("TASK_KILLED", message, self._completion(run_id, result, message))
        if result.succeeded:
            raise _Finished("TASK_FINISHED", None, self._completion(run_id, result, None))
        handler = self.shard.error_handler
        message = failure_message(result, handler)
        log.warning("task %s: %s", self.task_id, message)
        report = self._completion(run_id, result, message)
        if handler is ErrorHandlerType.THROW:
            raise _Finished("TASK_FAILED", message, report)
        raise _Finished("TASK_FINISHED", message if handler is ErrorHandlerType.LOG else None, report)

    def _now(self) -> datetime:
        return self._clock.now(UTC)

    def _start_report(self, run_id: str, *, with_task: bool) -> ExecutionReport:
        self._run_started = started = self._now()
        return ExecutionReport(id=run_id, task_id=self.task_id if with_task else "", start_time=started)

    def _completion(
        self, run_id: str, result: RunResult, message: str | None, *, with_task: bool = False
    ) -> ExecutionReport:
        """The run's completion report (``message``: why it failed, None when it succeeded)."""
        completed = self._now()
        return ExecutionReport(
            id=run_id,
            task_id=self.task_id if with_task else "",
            start_time=self._run_started or completed,
            complete_time=completed,
            success=result.succeeded,
            failure_cause=None
            if result.succeeded
            else failure_cause(message or result.describe(), self._output),
            exit_code=result.returncode,
        )

    def _report_daemon_run(self, report: ExecutionReport) -> None:
        if self._send_message is not None:
            self._send_message(encode_report(report))

    async def _daemon(self) -> None:
        assert self.shard.cron is not None
        self._send(self.task_id, "TASK_RUNNING", None)
        backlog = FireBacklog(misfire=self.shard.context.misfire)
        sampler = EventSampler(self.shard.context.event_trace_sampling_count)
        timer = asyncio.create_task(self._count_fires(backlog))
        try:
            while True:
                await backlog.next_run()
                sampled = sampler.next_run_sampled()
                run_id = str(uuid.uuid4()) if sampled else None
                async with self._slots.hold(self.shard.context.job_name, self.shard.service_handler):
                    if sampled:
                        self._send(self.task_id, "TASK_RUNNING", "BEGIN")
                    result = await self._run_once(
                        run_number=sampler.runs, announce_running=False, run_id=run_id
                    )
                    if sampled and not result.killed:
                        self._send(self.task_id, "TASK_RUNNING", "COMPLETE")
                handler = self.shard.error_handler
                message = (
                    f"killed during run {sampler.runs}"
                    if result.killed
                    else None
                    if result.succeeded
                    else failure_message(result, handler, sampler.runs)
                )
                if run_id is not None:
                    self._report_daemon_run(self._completion(run_id, result, message, with_task=True))
                if result.killed:
                    raise _Finished("TASK_KILLED", message)
                if message is None:
                    continue
                if handler is ErrorHandlerType.THROW:
                    raise _Finished("TASK_FAILED", message)
                if handler is ErrorHandlerType.LOG:
                    log.warning("task %s: %s; the task goes on", self.task_id, message)
        finally:
            timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await timer

    async def _count_fires(self, backlog: FireBacklog) -> None:
        assert self.shard.cron is not None
        async for fire in cron_fires(self.shard.cron, self._zone, self._clock):
            log.debug("task %s: cron fire at %s", self.task_id, fire.isoformat())
            backlog.fire()
        log.info(
            "task %s: cron %r has no fire left; idle until killed", self.task_id, self.shard.context.cron
        )

    async def _run_once(
        self, *, run_number: int | None, announce_running: bool, run_id: str | None = None
    ) -> RunResult:
        """Start the script (re-checking it), wait for the run to end; never raises for the run.
        With ``run_id`` the run's start is reported: in the announcing TASK_RUNNING, else (DAEMON)
        in a MESSAGE."""
        which = f"run {run_number}" if run_number is not None else "run"
        self._run_started = None  # this run's start and stderr: none yet
        self._output.new_run()
        try:
            command = resolve_bootstrap(self._sandbox, self.shard.context.bootstrap_script)
        except ScriptRefused as exc:
            if announce_running:
                raise _Finished(
                    "TASK_FAILED",
                    str(exc),
                    self._completion(run_id, RunResult(returncode=None, start_error=str(exc)), str(exc))
                    if run_id is not None
                    else None,
                ) from None
            return RunResult(returncode=None, start_error=str(exc))
        argv = command.argv(self.shard.document_text)
        run = ScriptRun(argv, environment=self._environment, cwd=self._sandbox, output=self._output)
        self._output.open()
        try:
            self._starting_run = True
            try:
                await run.start()
            except ProcessStartError as exc:
                self._output.note(f"{which} of task {self.task_id} could not start: {exc}")
                return RunResult(returncode=None, start_error=str(exc))
            finally:
                self._starting_run = False
            self._run = run
            self._output.note(f"{which} of task {self.task_id} started at {timestamp()} (pid {run.pid})")
            log.info("task %s: %s started (pid %s)", self.task_id, which, run.pid)
            start = self._start_report(run_id, with_task=not announce_running) if run_id else None
            if announce_running:
                self._send(self.task_id, "TASK_RUNNING", None, data=encode_report(start) if start else None)
            elif start is not None:
                self._report_daemon_run(start)
            if self._kill_grace is not None:
                self.kill(self._kill_grace)
            result = await run.wait()
            ended = "was killed" if result.killed else f"ended with {result.describe()}"
            self._output.note(f"{which} of task {self.task_id} {ended} at {timestamp()}")
            log.info("task %s: %s %s", self.task_id, which, ended)
            return result
        finally:
            self._run = None
            self._output.close()
