"""The ``mesos.v1.TaskState`` values and what each means, as one table.

Every process that reads or writes task states (the scheduler, the executor, the embedded cluster,
the test double) takes them from here. The terminal set is ``protobuf::isTerminalState`` of Mesos'
``src/common/protobuf_utils.cpp``; the rest follows the comments on ``TaskState`` in
``include/mesos/v1/mesos.proto``.
"""

from __future__ import annotations

from enum import Enum

__all__ = [
    "ACTIVE_STATES",
    "ALL_STATES",
    "FAILURE_STATES",
    "STARTED_STATES",
    "TERMINAL_STATES",
    "UNCERTAIN_STATES",
    "Phase",
    "phase_of",
]


class Phase(Enum):
    """What a task state says about the task."""

    #: Not started yet, or running, or being killed: the task holds its resources.
    ACTIVE = "active"
    #: Ended well (``TASK_FINISHED``).
    FINISHED = "finished"
    #: Ended by a kill (``TASK_KILLED``).
    KILLED = "killed"
    #: Ended badly, or never started (failed, error, lost, dropped, gone).
    FAILED = "failed"
    #: The master cannot say (unreachable agent, unknown task): it may still run.
    UNCERTAIN = "uncertain"


_TABLE: dict[str, tuple[Phase, bool]] = {
    # state: (phase, started: the executor has begun running it)
    "TASK_STAGING": (Phase.ACTIVE, False),
    "TASK_STARTING": (Phase.ACTIVE, True),
    "TASK_RUNNING": (Phase.ACTIVE, True),
    "TASK_KILLING": (Phase.ACTIVE, True),
    "TASK_FINISHED": (Phase.FINISHED, True),
    "TASK_KILLED": (Phase.KILLED, True),
    "TASK_FAILED": (Phase.FAILED, True),
    "TASK_ERROR": (Phase.FAILED, False),
    "TASK_LOST": (Phase.FAILED, False),
    "TASK_DROPPED": (Phase.FAILED, False),
    "TASK_GONE": (Phase.FAILED, False),
    "TASK_GONE_BY_OPERATOR": (Phase.FAILED, False),
    "TASK_UNREACHABLE": (Phase.UNCERTAIN, False),
    "TASK_UNKNOWN": (Phase.UNCERTAIN, False),
}

#: Every state a ``TaskStatus`` may carry.
ALL_STATES = frozenset(_TABLE)
#: States of a task that still holds resources on its agent.
ACTIVE_STATES = frozenset(s for s, (phase, _) in _TABLE.items() if phase is Phase.ACTIVE)
#: Active states in which the executor has begun running the task.
STARTED_STATES = frozenset(s for s in ACTIVE_STATES if _TABLE[s][1])
#: Terminal states that mean the task failed or never ran.
FAILURE_STATES = frozenset(s for s, (phase, _) in _TABLE.items() if phase is Phase.FAILED)
#: States in which the master does not know whether the task still runs.
UNCERTAIN_STATES = frozenset(s for s, (phase, _) in _TABLE.items() if phase is Phase.UNCERTAIN)
#: States after which Mesos forgets the task.
TERMINAL_STATES = frozenset(
    s for s, (phase, _) in _TABLE.items() if phase in (Phase.FINISHED, Phase.KILLED, Phase.FAILED)
)


def phase_of(state: str) -> Phase:
    """The phase of ``state``; raises ``KeyError`` for a value that is not a task state."""
    return _TABLE[state][0]
