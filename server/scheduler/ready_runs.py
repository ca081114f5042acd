"""Queuing runs in the ready queue, and re-reading it, with memory's mirror kept in step.

Changes are split into transactions within the registry's budget, one job's count whole in one.
Each commits on its own: one that fails (a concurrent change) leaves its jobs to be re-read and
tried again, and those already committed stand, so no run is lost or queued twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping

from server.registry.ready import ReadyQueue
from server.registry.state_transactions import StateTransactions
from server.scheduler.job_reads import JobReads
from server.scheduler.state import TRANSACTION_ATTEMPTS, ReadyEntry, SchedulerState

log = logging.getLogger("server.scheduler")


class ReadyRuns:
    def __init__(
        self,
        state: SchedulerState,
        queue: ReadyQueue,
        transactions: StateTransactions,
        job_reads: JobReads,
    ) -> None:
        self._state = state
        self._queue = queue
        self._transactions = transactions
        self._job_reads = job_reads

    async def add(
        self,
        names: list[str],
        recorded: Callable[[Iterable[str]], None] | None = None,
        *,
        runs: Mapping[str, int] | None = None,
    ) -> None:
        """Queue one run of each job (``runs[job]`` runs of a TRANSIENT job with misfire on).
        ``recorded`` hears each job whose runs ZooKeeper holds, or that needs none (one already
        waits and misfire is off; it is gone)."""
        state = self._state
        pending = list(names)
        for _ in range(TRANSACTION_ATTEMPTS):
            changes: dict[str, ReadyEntry] = {}
            for name in pending:
                job = state.jobs.get(name)
                if job is None:
                    continue  # removed meanwhile: nothing to queue
                count, version = state.ready.get(name, (0, None))
                more = runs.get(name, 1) if runs is not None else 1
                wanted = count + more if (job.misfire and not job.is_daemon) else max(count, 1)
                if wanted != count:
                    changes[name] = (wanted, version)
            if recorded is not None:
                recorded([name for name in pending if name not in changes])
            if not changes:
                return
            lost: list[str] = []
            for batch in self._transactions.ready_ops(changes, state.job_stamps):
                result = await self._transactions.commit([batch.ops])
                batch_names = [name for name in changes if name in batch.names]
                if not result.committed:
                    lost += batch_names
                    continue
                for name in batch_names:
                    count, version = changes[name]
                    state.touch(name)
                    state.ready[name] = (count, 0 if version is None else version + 1)
                if recorded is not None:
                    recorded(batch_names)
                state.wake.set()  # work waits: the next step asks for offers
            if not lost:
                return
            await self.reload(lost)
            # A job changed since it was read: its runs came from the earlier configuration and
            # are not queued (an idle DAEMON job is, with the new one).
            replaced = await self._job_reads.refresh(lost)
            if recorded is not None:
                recorded(replaced)
            idle_daemons = state.idle_daemons(state.jobs[name] for name in replaced if name in state.jobs)
            pending = [name for name in lost if name not in replaced] + idle_daemons
        log.warning("could not queue runs of %s: the ready queue kept changing", ", ".join(pending))

    async def reload(self, names: Iterable[str]) -> None:
        """Re-read the jobs' ready counts."""
        names = list(names)
        entries = await self._queue.aget_many(names)
        for name in names:
            self._state.touch(name)
            entry = entries.get(name)
            if entry is None:
                self._state.ready.pop(name, None)
            else:
                self._state.ready[name] = entry
