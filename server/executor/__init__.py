"""The ElasticJob executor: runs a job's shards on a Mesos agent, speaking the v1 executor API.

``python -m server.executor`` is the command the scheduler puts in each task's ``ExecutorInfo``
(``ELASTICJOB_EXECUTOR_COMMAND``). The agent (ours in ``server/cluster`` or a real Mesos agent)
fetches the app into the sandbox and starts one executor per app per agent; every task of that
app on that agent is then LAUNCHed to it.

Modules, each with the guarantees it keeps in its docstring:

- :mod:`~server.executor.settings`: the ``MESOS_*`` environment the agent sets, read once;
- :mod:`~server.executor.agent`: subscription, event stream, ordered UPDATE calls, reconnection;
- :mod:`~server.executor.updates`: the ledger of unacknowledged updates and tasks (no IO);
- :mod:`~server.executor.shard`: TaskInfo ``data`` → sharding context;
- :mod:`~server.executor.sandbox`: ``bootstrapScript`` → a program inside the sandbox, or refusal;
- :mod:`~server.executor.schedule`: DAEMON cron fires, misfire backlog, BEGIN/COMPLETE sampling;
- :mod:`~server.executor.runs`: one script run as a process group, its output, run slots;
- :mod:`~server.executor.tasks`: a task's life, TRANSIENT or DAEMON, and the error handlers;
- :mod:`~server.executor.core`: events → tasks, KILL, SHUTDOWN, the exit status.

What a shard's process gets: the sandbox as its working directory; the executor's environment
(so every ``MESOS_*`` variable, minus ``MESOS_EXECUTOR_AUTHENTICATION_TOKEN``) plus the context's
``ELASTICJOB_JOB_NAME``, ``ELASTICJOB_TASK_ID``, ``ELASTICJOB_SHARDING_ITEM``,
``ELASTICJOB_SHARDING_TOTAL_COUNT``, ``ELASTICJOB_SHARDING_PARAMETER``,
``ELASTICJOB_JOB_PARAMETER`` and ``ELASTICJOB_SHARDING_CONTEXT`` (the context JSON); the
bootstrap script's own words as arguments, then the context JSON as the last argument. Its output
lands in the sandbox's ``stdout`` / ``stderr`` (lines prefixed ``[job-item]``) and in
``shards/<job>-<item>.log``.
"""

from server.executor.core import EXIT_AGENT_LOST, EXIT_OK, Executor
from server.executor.settings import ExecutorConfigError, ExecutorSettings

__all__ = ["EXIT_AGENT_LOST", "EXIT_OK", "Executor", "ExecutorConfigError", "ExecutorSettings"]
