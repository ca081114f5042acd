"""The composition root, specified by what ``build`` wires from the settings (nothing is started)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from server.domain.errors import ConfigurationError
from server.settings import Settings
from server.wiring import Server, build

SECRET = "a-token-secret-of-32-characters!"


def settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "development": True,
        "token_secret": SECRET,
        "grpc_address": "127.0.0.1:0",
        "zk_servers": "127.0.0.1:1",  # never connected: nothing is started
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@contextmanager
def built(server_settings: Settings) -> Iterator[Server]:
    server = build(server_settings)
    try:
        yield server
    finally:
        server.stop(grace=0)


def test_without_a_mesos_master_the_server_has_no_scheduler() -> None:
    with built(settings()) as server:
        assert server.scheduler is None
        assert server.port > 0


def test_with_a_mesos_master_the_scheduler_runs_with_the_derived_settings() -> None:
    server_settings = settings(mesos_url="http://mesos-master:5050", timezone="Europe/Berlin")

    with built(server_settings) as server:
        assert server.scheduler is not None
        assert server.scheduler.settings == server_settings.scheduler_settings()
        assert server.scheduler.settings.core.executor_environment == {"ELASTICJOB_TIMEZONE": "Europe/Berlin"}


def test_the_zookeeper_connection_follows_the_settings() -> None:
    with built(settings(zk_namespace="my-namespace", zk_timeout_seconds=2.5)) as server:
        assert server.zookeeper.paths.namespace == "my-namespace"
        assert server.zookeeper.servers == "127.0.0.1:1"
        assert server.zookeeper.timeout == 2.5


def test_an_address_that_cannot_be_listened_on_is_refused_naming_the_variable() -> None:
    with pytest.raises(ConfigurationError, match="ELASTICJOB_GRPC_ADDRESS"):
        build(settings(grpc_address="203.0.113.1:1"))


def test_stopping_twice_stops_once_and_wait_sees_it() -> None:
    server = build(settings())
    assert not server.wait(timeout=0)

    server.stop(grace=0)
    server.stop(grace=0)

    assert server.wait(timeout=0)
