"""Every page of the console at 1280 x 800, as PNG files: into ``$ELASTICJOB_SCREENSHOTS_DIR``
(``make screenshots`` sets ``var/screenshots``), else a temporary folder. Each page must render
without a script error at that size. The system keeps run history (SQLite), and for the pictures
of ``make screenshots`` the test waits until the statistics have their first minute, so the
dashboard's chart has something to show."""

from __future__ import annotations

import os
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By

from devstack.stack import ZooKeeperServer
from testkit import browser
from testkit.e2e import System, running_system
from testkit.polling import eventually
from tests.browser.console import fill, go, log_in, open_console, uncaught_errors

pytestmark = pytest.mark.browser

SCREENSHOTS_ENV = "ELASTICJOB_SCREENSHOTS_DIR"


@pytest.fixture(scope="module")
def system(zk_server: ZooKeeperServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    work = tmp_path_factory.mktemp("screenshots")
    history = {"event_trace_rdb_url": f"sqlite:///{work / 'trace.db'}"}
    with running_system(zk_server.connect_string, work, settings=history) as running:
        yield running


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from the PNG's IHDR chunk (PNG specification, section 11.2.2)."""
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", path
    width, height = struct.unpack(">II", header[16:24])
    return width, height


@pytest.mark.timeout(300)
def test_every_page_renders_at_1280_by_800(system: System, driver: webdriver.Chrome, tmp_path: Path) -> None:
    folder = Path(os.environ.get(SCREENSHOTS_ENV) or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    app_name = system.publish_app()
    job_name = system.register_job(app_name, cron="0/5 * * * * ?", shardingTotalCount=3)
    system.trigger(job_name)
    failing = system.register_job(
        app_name, cron="0/7 * * * * ?", shardingTotalCount=2, shardingItemParameters="0=ok,1=fail"
    )
    if os.environ.get(SCREENSHOTS_ENV):
        with system.rest() as client:
            eventually(
                lambda: client.get(
                    "/api/job/statistics/tasks/results", params={"since": "last24hours"}
                ).json(),
                timeout=180,
                interval=2,
                what="the first minute of task statistics",
            )

    open_console(driver, system.envoy.base_url)
    browser.wait_for(driver, "#login-username")
    pages: list[tuple[str, str, str]] = [("login", "", "#login-submit")]
    driver.save_screenshot(str(folder / "login.png"))
    log_in(driver)
    browser.wait_for(driver, "#top nav")
    pages += [
        ("dashboard", "#/dashboard", "#main .cards, #main h1"),
        ("apps", "#/apps", "#main h1"),
        ("app-form", "#/apps/new", "#app-appName"),
        ("jobs", "#/jobs", "#main h1"),
        ("job-form", "#/jobs/new", "#job-cron"),
        ("job", f"#/jobs/{job_name}", "#main h1"),
        ("runs", "#/runs", "#runs-filters"),
    ]
    for name, page, ready in pages[1:]:
        go(driver, page)
        browser.wait_for(driver, ready)
        if name == "app-form":  # with the API's refusal shown beside its field
            fill(driver, {"appName": "reports", "appURL": "https://repo.example/reports-2.4.tar.gz"}, "app")
            fill(driver, {"bootstrapScript": "bin/start.sh", "cpuCount": "0", "memoryMB": "512"}, "app")
            driver.find_element(By.ID, "app-submit").click()
            browser.wait_for_text(driver, "#app-cpuCount-error", "cpuCount")
        if name == "job-form":
            driver.find_element(By.ID, "job-cron").send_keys("0 0/15 9-17 ? * MON-FRI")
            browser.wait_for(driver, "#cron-preview li")
        time.sleep(1.0)  # let the page's reads land before the picture
        driver.save_screenshot(str(folder / f"{name}.png"))
    links = driver.find_elements(By.CSS_SELECTOR, "#main a.output-link")
    if links:
        links[0].click()
        browser.wait_for(driver, "#output-text")
        time.sleep(1.0)
        driver.save_screenshot(str(folder / "output.png"))
    for name, _, _ in pages:
        assert png_size(folder / f"{name}.png") == (browser.WIDTH, browser.HEIGHT), name
    assert uncaught_errors(driver) == []
    system.deregister(job_name)
    system.deregister(failing)
