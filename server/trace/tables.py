"""ElasticJob's trace and statistics tables, as SQLAlchemy Core tables.

Names and columns are ElasticJob 3.0's (``JOB_EXECUTION_LOG``, ``JOB_STATUS_TRACE_LOG``, the
``TASK_RESULT_STATISTICS_*``, ``*_RUNNING_STATISTICS`` and ``JOB_REGISTER_STATISTICS`` tables).
Identifiers are lower case so that they are created unquoted: SQL written against the upper-case
names (``SELECT * FROM JOB_EXECUTION_LOG``) finds them on SQLite and on PostgreSQL alike.
Timestamps are stored as naive UTC.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Index, Integer, MetaData, String, Table

__all__ = [
    "EXECUTIONS",
    "JOB_REGISTER",
    "JOB_RUNNING",
    "METADATA",
    "RESULT_TABLES",
    "STATUS_TRACES",
    "TASK_RESULT_DAY",
    "TASK_RESULT_HOUR",
    "TASK_RESULT_MINUTE",
    "TASK_RUNNING",
]

METADATA = MetaData()

EXECUTIONS = Table(
    "job_execution_log",
    METADATA,
    Column("id", String(40), primary_key=True),
    Column("job_name", String(100), nullable=False),
    Column("task_id", String(255), nullable=False),
    Column("hostname", String(255), nullable=False),
    Column("ip", String(50), nullable=False),
    Column("sharding_item", Integer, nullable=False),
    Column("execution_source", String(20), nullable=False),
    Column("failure_cause", String(4000), nullable=True),
    Column("is_success", Integer, nullable=False),
    Column("start_time", DateTime, nullable=True),
    Column("complete_time", DateTime, nullable=True),
)

STATUS_TRACES = Table(
    "job_status_trace_log",
    METADATA,
    Column("id", String(40), primary_key=True),
    Column("job_name", String(100), nullable=False),
    Column("original_task_id", String(255), nullable=False),
    Column("task_id", String(255), nullable=False),
    Column("slave_id", String(50), nullable=False),
    Column("source", String(50), nullable=False),
    Column("execution_type", String(20), nullable=False),
    Column("sharding_item", String(100), nullable=False),
    Column("state", String(20), nullable=False),
    Column("message", String(4000), nullable=True),
    Column("creation_time", DateTime, nullable=True),
    Index("task_id_state_index", "task_id", "state"),
)


def _result_table(name: str) -> Table:
    return Table(
        name,
        METADATA,
        Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
        Column("success_count", Integer, nullable=False),
        Column("failed_count", Integer, nullable=False),
        Column("statistics_time", DateTime, nullable=False),
        Column("creation_time", DateTime, nullable=False),
    )


def _count_table(name: str, count_column: str) -> Table:
    return Table(
        name,
        METADATA,
        Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
        Column(count_column, Integer, nullable=False),
        Column("statistics_time", DateTime, nullable=False),
        Column("creation_time", DateTime, nullable=False),
    )


TASK_RESULT_MINUTE = _result_table("task_result_statistics_minute")
TASK_RESULT_HOUR = _result_table("task_result_statistics_hour")
TASK_RESULT_DAY = _result_table("task_result_statistics_day")
#: The result tables by ElasticJob's interval name.
RESULT_TABLES = {"MINUTE": TASK_RESULT_MINUTE, "HOUR": TASK_RESULT_HOUR, "DAY": TASK_RESULT_DAY}
TASK_RUNNING = _count_table("task_running_statistics", "running_count")
JOB_RUNNING = _count_table("job_running_statistics", "running_count")
JOB_REGISTER = _count_table("job_register_statistics", "registered_count")
