"""One launched task's life on the executor, from TASK_STARTING to its terminal update.

TRANSIENT: STARTING; wait for a run slot; start the script; RUNNING; one run. Then:

=========================  ===================  ============================================
run                        jobErrorHandlerType  terminal update
=========================  ===================  ============================================
exit 0                     any                  TASK_FINISHED
failed                     LOG (default)        TASK_FINISHED, ``message`` records the failure
failed                     THROW                TASK_FAILED with that message
failed                     IGNORE               TASK_FINISHED, nothing recorded
killed by KILL / SHUTDOWN  any                  TASK_KILLED
=========================  ===================  ============================================

A run *failed* when it exited non-zero, died of a signal nobody here sent (a user's ``kill``,
the OOM killer), or could not be started. A signal death is a failure like any other: under LOG
the task finishes with e.g. "run failed with signal 9 (SIGKILL) (jobErrorHandlerType LOG)" and
is not re-run, under THROW it fails (and the scheduler fails it over when ``failover`` is on).

DAEMON: STARTING, RUNNING, then one run per cron fire (see :mod:`server.executor.schedule` for
misfire and sampling), each sampled run wrapped in TASK_RUNNING updates with message ``BEGIN`` and
``COMPLETE``. A failed run under THROW ends the task with TASK_FAILED; under LOG it is logged
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
from collections.abc import Callable, Mapping
from datetime import tzinfo
from pathlib import Path

from server.base.clock import Clock
from server.base.processes import ProcessStartError
from server.domain.job import ErrorHandlerType, JobExecutionType
from server.executor.runs import RunResult, RunSlots, ScriptRun, ShardOutput, timestamp
from server.executor.sandbox import ScriptRefused, resolve_bootstrap
from server.executor.schedule import EventSampler, FireBacklog, cron_fires
from server.executor.shard import LaunchedShard

__all__ = ["SendUpdate", "ShardTask", "failure_message"]

log = logging.getLogger("server.executor.tasks")

#: ``send(task_id, state, message)``: record and send one status update.
SendUpdate = Callable[[str, str, str | None], object]

CONTEXT_VARIABLE = "ELASTICJOB_SHARDING_CONTEXT"
#: Executor variables a shard's process does not inherit.
PRIVATE_VARIABLES = frozenset({"MESOS_EXECUTOR_AUTHENTICATION_TOKEN"})


def failure_message(result: RunResult, handler: ErrorHandlerType, run_number: int | None = None) -> str:
    """The status message recording a failed run."""
    which = f"run {run_number}" if run_number is not None else "run"
    return f"{which} failed with {result.describe()} (jobErrorHandlerType {handler.value})"


class _Finished(Exception):
    """Internal: the task's terminal update is decided."""

    def __init__(self, state: str, message: str | None) -> None:
        super().__init__(state)
        self.state = state
        self.message = message


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
    ) -> None:
        self.shard = shard
        self._sandbox = sandbox
        self._slots = slots
        self._send = send
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
        try:
            try:
                if self.shard.execution_type is JobExecutionType.DAEMON:
                    await self._daemon()
                else:
                    await self._transient()
                state, message = "TASK_FAILED", "the task ended without a verdict"  # not reached
            except _Finished as finished:
                state, message = finished.state, finished.message
            except asyncio.CancelledError:
                if not self.kill_requested:
                    raise
                state, message = "TASK_KILLED", "killed before its run started"
            except Exception as exc:
                log.exception("task %s: executor error", self.task_id)
                state, message = "TASK_FAILED", f"executor error: {exc}"
            self._send(self.task_id, state, message)
        finally:
            self.done.set()
            if self._on_done is not None:
                self._on_done(self)

    async def _transient(self) -> None:
        async with self._slots.hold(self.shard.context.job_name, self.shard.service_handler):
            result = await self._run_once(run_number=None, announce_running=True)
        if result.killed:
            raise _Finished("TASK_KILLED", "killed during its run")
        if result.succeeded:
            raise _Finished("TASK_FINISHED", None)
        handler = self.shard.error_handler
        message = failure_message(result, handler)
        log.warning("task %s: %s", self.task_id, message)
        if handler is ErrorHandlerType.THROW:
            raise _Finished("TASK_FAILED", message)
        raise _Finished("TASK_FINISHED", message if handler is ErrorHandlerType.LOG else None)

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
                async with self._slots.hold(self.shard.context.job_name, self.shard.service_handler):
                    if sampled:
                        self._send(self.task_id, "TASK_RUNNING", "BEGIN")
                    result = await self._run_once(run_number=sampler.runs, announce_running=False)
                    if sampled and not result.killed:
                        self._send(self.task_id, "TASK_RUNNING", "COMPLETE")
                if result.killed:
                    raise _Finished("TASK_KILLED", f"killed during run {sampler.runs}")
                if result.succeeded:
                    continue
                handler = self.shard.error_handler
                message = failure_message(result, handler, sampler.runs)
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

    async def _run_once(self, *, run_number: int | None, announce_running: bool) -> RunResult:
        """Start the script (re-checking it), wait for the run to end; never raises for the run."""
        which = f"run {run_number}" if run_number is not None else "run"
        try:
            command = resolve_bootstrap(self._sandbox, self.shard.context.bootstrap_script)
        except ScriptRefused as exc:
            if announce_running:
                raise _Finished("TASK_FAILED", str(exc)) from None
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
            if announce_running:
                self._send(self.task_id, "TASK_RUNNING", None)
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
