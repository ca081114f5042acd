"""Why waiting work does not run: the leader's reasons, from the offers it saw.

After each launch step the core asks ``Diagnoser.step`` about every job with work waiting (a
ready run, a failover shard whose retry time has come) and nothing running. A job that cannot
launch for a reason of its own (disabled, app disabled or missing, a run too large to record) gets
that reason at once; one that could launch gets a reason from the offers: what one shard (and the
app's executor) needs beyond the largest offer of an agent in the last ``OFFER_WINDOW_SECONDS``,
what a whole READY run needs beyond the most offered at once, no offers at all, or resources on
hand that are in use. The reason is written to the registry (``server.registry.diagnosis``) and
logged only when it changes, and deleted once the job runs or has nothing waiting.

The text functions are pure (``blocked_reason``, ``need_reason``); ``OfferWindow`` keeps the
offers' peaks; ``Diagnoser`` holds the state between steps. No IO but the registry writes.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from server.domain.app import AppConfig
from server.domain.errors import ElasticJobError
from server.domain.job import JobConfig
from server.registry.diagnosis import Diagnosis, DiagnosisStore
from server.registry.failover import FailoverEntry
from server.scheduler.matching import EPSILON
from server.scheduler.offers import Offer
from server.scheduler.state import SchedulerState

log = logging.getLogger("server.scheduler")

OFFER_WINDOW_SECONDS = 300.0
"""How far back the offers' peaks are remembered (seconds)."""


@dataclass(frozen=True, slots=True)
class OfferPeak:
    """The most offered: by one agent (its offers pooled, as matching pools them) and by all
    agents at once, in cpus and MB."""

    cpus: float
    mem: float
    total_cpus: float
    total_mem: float

    def covers(self, other: OfferPeak) -> bool:
        """Whether this peak is at least ``other`` in every amount."""
        return (
            self.cpus >= other.cpus
            and self.mem >= other.mem
            and self.total_cpus >= other.total_cpus
            and self.total_mem >= other.total_mem
        )

    def combined(self, other: OfferPeak) -> OfferPeak:
        return OfferPeak(
            max(self.cpus, other.cpus),
            max(self.mem, other.mem),
            max(self.total_cpus, other.total_cpus),
            max(self.total_mem, other.total_mem),
        )

    @classmethod
    def of(cls, offers: Sequence[Offer]) -> OfferPeak | None:
        """The peak of one batch of offers; None for no offers."""
        if not offers:
            return None
        agents: dict[tuple[str, str], tuple[float, float]] = {}
        for offer in offers:
            cpus, mem = agents.get((offer.agent_id, offer.role), (0.0, 0.0))
            agents[(offer.agent_id, offer.role)] = (cpus + offer.cpus, mem + offer.mem)
        return cls(
            cpus=max(cpus for cpus, _ in agents.values()),
            mem=max(mem for _, mem in agents.values()),
            total_cpus=sum(cpus for cpus, _ in agents.values()),
            total_mem=sum(mem for _, mem in agents.values()),
        )


class OfferWindow:
    """The peaks of the offer batches received in the last ``seconds`` (monotonic time). A batch
    whose peak a later one covers is forgotten when the later one comes (it would leave the window
    first), so offers seen again at every step keep one batch, not one per step."""

    def __init__(self, seconds: float = OFFER_WINDOW_SECONDS) -> None:
        self.seconds = seconds
        self._batches: deque[tuple[float, OfferPeak]] = deque()

    def record(self, offers: Sequence[Offer], at: float) -> None:
        peak = OfferPeak.of(offers)
        if peak is None:
            return
        batches = self._batches
        while batches and peak.covers(batches[-1][1]):
            batches.pop()
        batches.append((at, peak))

    def peak(self, now: float) -> OfferPeak | None:
        """The peak over the window ending at ``now``; None when no offer came in it."""
        while self._batches and now - self._batches[0][0] > self.seconds:
            self._batches.popleft()
        found: OfferPeak | None = None
        for _, peak in self._batches:
            found = peak if found is None else found.combined(peak)
        return found


def amount(value: float) -> str:
    """A resource amount as people write it: 2, 0.1, 4096 (at most three decimals)."""
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


def duration(seconds: float) -> str:
    """``300`` → ``5 minutes``, ``90`` → ``90 seconds``, ``60`` → ``1 minute``."""
    whole = max(1, round(seconds))
    if whole % 60 == 0:
        minutes = whole // 60
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"{whole} second{'s' if whole != 1 else ''}"


def blocked_reason(
    job: JobConfig,
    app: AppConfig | None,
    *,
    job_disabled: bool,
    app_disabled: bool,
    unrecordable: bool,
) -> str | None:
    """Why ``job`` cannot launch whatever is offered; None when nothing of its own holds it back."""
    if job_disabled:
        return f"job '{job.job_name}' is disabled: its waiting runs start when it is enabled"
    if app_disabled:
        return f"app '{job.app_name}' is disabled: the job's waiting runs start when it is enabled"
    if app is None:
        return f"app '{job.app_name}' does not exist"
    if unrecordable:
        return (
            f"its READY run of {job.sharding_total_count} shards is too large to record in one "
            "ZooKeeper transaction; lower shardingTotalCount"
        )
    return None


def need_reason(
    job: JobConfig, app: AppConfig, shards: int, peak: OfferPeak | None, window: float
) -> str | None:
    """Why the work (``shards`` shards launched together: a READY run's all, a failover's one)
    does not fit what was offered in the last ``window`` seconds (``peak``); None when it fits.
    The first task of an app on an agent also starts the app's executor, so its resources count."""
    within = f"in the last {duration(window)}"
    if peak is None:
        return f"no offers received {within}"
    reasons = []
    if job.cpu_count + app.cpu_count > peak.cpus + EPSILON:
        reasons.append(
            f"needs {amount(job.cpu_count)} cpus + {amount(app.cpu_count)} for the executor; "
            f"the largest offer {within} had {amount(peak.cpus)}"
        )
    if job.memory_mb + app.memory_mb > peak.mem + EPSILON:
        reasons.append(
            f"needs {amount(job.memory_mb)} MB of memory + {amount(app.memory_mb)} for the executor; "
            f"the largest offer {within} had {amount(peak.mem)}"
        )
    if reasons or shards <= 1:
        return "; ".join(reasons) or None
    all_cpus = shards * job.cpu_count + app.cpu_count
    all_mem = shards * job.memory_mb + app.memory_mb
    if all_cpus > peak.total_cpus + EPSILON:
        reasons.append(
            f"needs {shards} shards of {amount(job.cpu_count)} cpus + {amount(app.cpu_count)} for the "
            f"executor at once; the most offered at once {within} was {amount(peak.total_cpus)}"
        )
    if all_mem > peak.total_mem + EPSILON:
        reasons.append(
            f"needs {shards} shards of {amount(job.memory_mb)} MB of memory + {amount(app.memory_mb)} "
            f"for the executor at once; the most offered at once {within} was {amount(peak.total_mem)}"
        )
    return "; ".join(reasons) or None


def busy_reason(job: JobConfig, app: AppConfig, shards: int) -> str:
    """The work fits an offer seen, but not the offers on hand: their resources are in use."""
    cpus = shards * job.cpu_count + app.cpu_count
    mem = shards * job.memory_mb + app.memory_mb
    return (
        f"waiting for resources in use: needs {amount(cpus)} cpus and {amount(mem)} MB at once "
        "(with the executor), more than the offers on hand"
    )


class Diagnoser:
    """The leader's reasons, kept between steps and written to ``store`` when they change."""

    def __init__(self, state: SchedulerState, store: DiagnosisStore) -> None:
        self._state = state
        self._store = store
        self._offers = OfferWindow()
        self._started = state.clock.monotonic()
        self._started_at = state.now().replace(microsecond=0).isoformat()
        self._waiting_since: dict[str, float] = {}  # monotonic; since when each job waits
        #: the reason each job's node holds (None: a node found at start, reason not known)
        self._written: dict[str, str | None] | None = None
        self._write_failed = False
        self._from_offers: set[str] = set()  # jobs whose reason came from the offers

    def offered(self, offers: Sequence[Offer]) -> None:
        self._offers.record(offers, self._state.clock.monotonic())

    async def step(self, offers_on_hand: Sequence[Offer]) -> None:
        """Work out every waiting job's reason (``offers_on_hand``: what the launch just matched
        against) and write those that changed."""
        if self._written is None:
            try:
                self._written = dict.fromkeys(await self._store.anames())
            except ElasticJobError as exc:
                if not self._write_failed:
                    log.warning("could not read the recorded reasons (retried at the next step): %s", exc)
                self._write_failed = True
                return
        # Offers of one agent that came in several events are pooled on hand, as matching pools them.
        self._offers.record(offers_on_hand, self._state.clock.monotonic())
        reasons = self._reasons(offers_on_hand)
        written = self._written
        for name, reason in reasons.items():
            if written.get(name, "") == reason:
                continue
            if await self._write(name, reason):
                log.warning("job %s waits and does not run: %s", name, reason)
        for name in [name for name in written if name not in reasons]:
            had = written.get(name)
            if await self._write(name, None) and had is not None:
                log.info("job %s no longer waits for the reason given", name)

    def _reasons(self, offers_on_hand: Sequence[Offer]) -> dict[str, str]:
        state = self._state
        now = state.clock.monotonic()
        running = {shard.job_name for shard in state.running}
        waiting: dict[str, int] = {}
        epoch = state.epoch()
        for shard, text in state.failover.items():
            if shard.job_name not in running and FailoverEntry.decode(text).retry_at <= epoch:
                waiting[shard.job_name] = 1
        for name, (count, _) in state.ready.items():
            job = state.jobs.get(name)
            if count > 0 and name not in running and job is not None and name not in waiting:
                waiting[name] = job.sharding_total_count
        peak = self._offers.peak(now)
        window = self._offers.seconds
        previous = self._written or {}
        reasons: dict[str, str] = {}
        from_offers: set[str] = set()
        for name, shards in waiting.items():
            job = state.jobs.get(name)
            if job is None:
                continue
            app = state.apps.get(job.app_name)
            reason = blocked_reason(
                job,
                app,
                job_disabled=name in state.disabled_jobs,
                app_disabled=job.app_name in state.disabled_apps,
                unrecordable=name in state.unrecordable,
            )
            if reason is None and app is not None:
                since = self._waiting_since.setdefault(name, now)
                if peak is None:
                    # Offers may just not have come yet: say so once the job waited a while.
                    if now - since >= state.settings.revive_retry_seconds:
                        reason = self._no_offers(job, app, shards, now)
                else:
                    reason = need_reason(job, app, shards, peak, window)
                    if reason is None and offers_on_hand:
                        reason = busy_reason(job, app, shards)
                if reason is None and name in self._from_offers:
                    reason = previous.get(name)  # no offers on hand to learn from: keep what was said
                if reason is not None:
                    from_offers.add(name)
            if reason is not None:
                reasons[name] = reason
        self._from_offers = from_offers
        self._waiting_since = {name: at for name, at in self._waiting_since.items() if name in waiting}
        return reasons

    def _no_offers(self, job: JobConfig, app: AppConfig, shards: int, now: float) -> str | None:
        if self._state.mesos is None:
            return "the scheduler is not subscribed to a Mesos master"
        if now - self._started < self._offers.seconds:
            return f"no offers received since this scheduler began leading at {self._started_at}"
        return need_reason(job, app, shards, None, self._offers.seconds)

    async def _write(self, job_name: str, reason: str | None) -> bool:
        """Put (or, for None, delete) the job's node; whether ZooKeeper took it."""
        assert self._written is not None
        try:
            if reason is None:
                await self._store.adelete(job_name)
            else:
                await self._store.aput(job_name, Diagnosis(reason, self._state.epoch()))
        except ElasticJobError as exc:
            if not self._write_failed:
                log.warning("could not record why job %s waits (retried at the next step): %s", job_name, exc)
            self._write_failed = True
            return False
        self._write_failed = False
        if reason is None:
            self._written.pop(job_name, None)
        else:
            self._written[job_name] = reason
        return True
