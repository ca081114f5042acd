"""The scheduler core's settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, tzinfo

from server.base.backoff import Backoff


@dataclass(frozen=True, kw_only=True, slots=True)
class CoreSettings:
    #: The command that starts the executor on an agent.
    executor_command: str
    #: Fetched by the agents with every executor (the executor zipapp), when set.
    executor_uri: str | None = None
    #: The zone cron expressions are read in.
    zone: tzinfo = UTC
    #: Environment variables every executor gets.
    executor_environment: dict[str, str] = field(default_factory=dict)
    #: Longest an offer is kept while a fire is due within that time (seconds).
    offer_hold_seconds: float = 10.0
    #: A fire due within this many seconds revives offers (seconds).
    revive_lookahead_seconds: float = 2.0
    #: Filter of offers declined while no work waits or is due (seconds).
    decline_refuse_seconds: float = 3600.0
    #: Filter of the remainder of accepted offers, and of offers let go for fresher ones (seconds).
    accept_refuse_seconds: float = 1.0
    #: While work waits and no offers come, REVIVE at most this often (seconds).
    revive_retry_seconds: float = 5.0
    #: Wait before each re-run of a shard that failed (attempt n: about initial * 2**n seconds,
    #: capped, jittered); the count restarts when a task of the shard finishes.
    failover_backoff: Backoff = field(default_factory=lambda: Backoff(initial=1.0, maximum=300.0))
    #: UNREACHABLE answers in a row after which a task is treated as LOST.
    unknown_limit: int = 3
    #: Interval of the re-read of the configuration and queues (seconds).
    resync_seconds: float = 30.0
    #: A load of at least this many jobs freezes the heap (``gc.freeze``) afterwards.
    freeze_heap_min_jobs: int = 500
    #: Fire times missed (no scheduler ran, or it was late) at most this long ago are caught up;
    #: older ones are skipped and logged (seconds).
    catch_up_seconds: float = 60.0
    #: At most this many runs of a job with misfire on catch up its missed fires at once.
    catch_up_runs: int = 10
    #: Changes another replica writes reach the core this long after ZooKeeper's watch fired, so
    #: a burst of them is read once (seconds).
    watch_debounce_seconds: float = 0.05
