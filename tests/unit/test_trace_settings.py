"""The trace settings (``ELASTICJOB_EVENT_TRACE_*``) and what ``build`` wires from them.

ElasticJob-Cloud 3.0 named the store by ``ELASTICJOB_EVENT_TRACE_RDB_URL`` (with driver, user and
password beside it); we take one SQLAlchemy URL. Nothing is connected here: the store opens its
database on first use.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from devstack.__main__ import StackSettings
from server.domain.errors import ConfigurationError
from server.domain.trace import NoTrace
from server.settings import Settings
from server.wiring import build

DEV = {"ELASTICJOB_MODE": "development"}


def test_tracing_is_off_unless_a_database_is_named() -> None:
    settings = Settings.from_environment(DEV)
    assert settings.event_trace_rdb_url is None
    assert settings.event_trace_retention_days == 30
    assert (
        Settings.from_environment({**DEV, "ELASTICJOB_EVENT_TRACE_RDB_URL": "none"}).event_trace_rdb_url
        is None
    )
    assert (
        Settings.from_environment({**DEV, "ELASTICJOB_EVENT_TRACE_RDB_URL": "NONE"}).event_trace_rdb_url
        is None
    )


def test_the_trace_variables_are_read() -> None:
    settings = Settings.from_environment(
        {
            **DEV,
            "ELASTICJOB_EVENT_TRACE_RDB_URL": "postgresql+psycopg://user:secret@db:5432/history",
            "ELASTICJOB_EVENT_TRACE_RETENTION_DAYS": "7",
            "ELASTICJOB_EVENT_TRACE_BUFFER": "500",
        }
    )
    assert settings.event_trace_rdb_url == "postgresql+psycopg://user:secret@db:5432/history"
    assert settings.event_trace_retention_days == 7
    assert settings.event_trace_buffer == 500


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ELASTICJOB_EVENT_TRACE_RDB_URL", "mysql://db/history"),
        ("ELASTICJOB_EVENT_TRACE_RDB_URL", "not a url"),
        # A supported database through a driver that is not installed (SQLAlchemy's
        # ``dialect+driver://`` form): refused here, not a traceback when the store is built.
        ("ELASTICJOB_EVENT_TRACE_RDB_URL", "postgresql+asyncpg://db/history"),
        ("ELASTICJOB_EVENT_TRACE_RDB_URL", "postgresql+psycopg2://db/history"),
        ("ELASTICJOB_EVENT_TRACE_RDB_URL", "sqlite+aiosqlite:///history.db"),
        ("ELASTICJOB_EVENT_TRACE_RETENTION_DAYS", "0"),
        ("ELASTICJOB_EVENT_TRACE_RETENTION_DAYS", "month"),
        ("ELASTICJOB_EVENT_TRACE_BUFFER", "0"),
    ],
)
def test_bad_trace_variables_are_refused_naming_them(variable: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=variable):
        Settings.from_environment({**DEV, variable: value})


def test_a_postgresql_url_without_a_driver_means_psycopg() -> None:
    """SQLAlchemy 2.1's default PostgreSQL driver is psycopg (3), the one installed."""
    url = "postgresql://user@db/history"
    assert (
        Settings.from_environment({**DEV, "ELASTICJOB_EVENT_TRACE_RDB_URL": url}).event_trace_rdb_url == url
    )


def test_make_run_keeps_history_in_var_unless_told_otherwise(tmp_path: Path) -> None:
    devstack = StackSettings(work_dir=tmp_path)
    environment = devstack.server_environment({}, "127.0.0.1:2181", "http://127.0.0.1:5050")
    assert environment["ELASTICJOB_EVENT_TRACE_RDB_URL"] == f"sqlite:///{tmp_path / 'trace.db'}"
    mine = devstack.server_environment({"ELASTICJOB_EVENT_TRACE_RDB_URL": "none"}, "zk", "http://m")
    assert mine["ELASTICJOB_EVENT_TRACE_RDB_URL"] == "none"


def _settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "development": True,
        "token_secret": "a-token-secret-of-32-characters!",
        "grpc_address": "127.0.0.1:0",
        "zk_servers": "127.0.0.1:1",
        "mesos_url": "http://mesos-master:5050",
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def test_with_a_database_the_scheduler_writes_through_the_buffered_sink(tmp_path: Path) -> None:
    server = build(
        _settings(event_trace_rdb_url=f"sqlite:///{tmp_path / 'trace.db'}", event_trace_buffer=123)
    )
    try:
        assert server.tracing is not None and server.scheduler is not None
        assert server.scheduler.trace is server.tracing.sink
        assert server.tracing.sink.capacity == 123
        assert server.history.enabled
        assert not (tmp_path / "trace.db").exists()  # nothing opened before first use
    finally:
        server.stop(grace=0)


def test_without_a_database_the_scheduler_records_nothing() -> None:
    server = build(_settings())
    try:
        assert server.tracing is None
        assert server.scheduler is not None and isinstance(server.scheduler.trace, NoTrace)
        assert not server.history.enabled
    finally:
        server.stop(grace=0)


def test_a_sqlite_file_whose_directory_cannot_be_made_is_refused_naming_the_variable(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(ConfigurationError, match="ELASTICJOB_EVENT_TRACE_RDB_URL"):
        build(_settings(event_trace_rdb_url=f"sqlite:///{blocker / 'trace.db'}"))
