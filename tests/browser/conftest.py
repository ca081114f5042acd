"""The console in a real headless Chromium against the whole system (ZooKeeper, the server with its
scheduler and run history in SQLite, the embedded cluster, Envoy), one system per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from selenium import webdriver

from devstack.stack import ZooKeeperServer
from testkit import browser
from testkit.e2e import System, running_system


@pytest.fixture(scope="module")
def system(zk_server: ZooKeeperServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    work = tmp_path_factory.mktemp("console")
    history = {"event_trace_rdb_url": f"sqlite:///{work / 'trace.db'}"}  # run history for the Runs page
    with running_system(zk_server.connect_string, work, settings=history) as running:
        yield running


@pytest.fixture(scope="module")
def driver() -> Iterator[webdriver.Chrome]:
    if not browser.available():
        pytest.fail("chromium and chromium-driver are missing: run 'make browser'")
    with browser.chromium() as chromium:
        yield chromium
