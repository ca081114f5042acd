"""The web console in a real headless Chromium, against the whole system through Envoy: log in,
publish an app, register a job with its cron preview, watch it run, read a shard's output,
disable and enable the job, delete the app.

The routes the pages call are ElasticJob-Cloud 3.0's (its console's app, job, task and event
routes; see the operations spec) and ours (cron preview, job state, task output); Mesos' files
API (``/files/read``) is what the task output reads.
"""

from __future__ import annotations

import itertools
from datetime import datetime
from urllib.parse import unquote

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.wait import WebDriverWait

from testkit import browser
from testkit.e2e import System
from testkit.harness import unique_name
from tests.browser.console import fill, go, log_in, open_console, printing_app, uncaught_errors

pytestmark = pytest.mark.browser


def app_exists(system: System, app_name: str) -> bool:
    return system.zookeeper.client.exists(system.zookeeper.paths.app(app_name)) is not None


def job_exists(system: System, job_name: str) -> bool:
    return system.zookeeper.client.exists(system.zookeeper.paths.job(job_name)) is not None


def test_login_keeps_the_token_for_the_tab_and_a_401_returns_to_the_login(
    system: System, driver: webdriver.Chrome
) -> None:
    open_console(driver, system.envoy.base_url)
    log_in(driver, password="wrong")
    browser.wait_for_text(driver, ".login .form-error", "Wrong user name or password")
    log_in(driver)
    browser.wait_for(driver, "#top nav")
    assert driver.execute_script("return location.hash") == "#/dashboard"
    assert driver.execute_script("return sessionStorage.getItem('elasticjob.token')")
    assert driver.execute_script("return localStorage.length") == 0

    # A token the server no longer accepts: the next call answers 401 and the login comes back.
    # (Set on the publish form, a page that reads nothing by itself.)
    go(driver, "#/apps/new")
    browser.wait_for(driver, "#app-appName")
    driver.execute_script("sessionStorage.setItem('elasticjob.token', 'not-a-token')")
    fill(
        driver, {"appName": unique_name("app"), "appURL": "file:///x.tar.gz", "bootstrapScript": "run"}, "app"
    )
    driver.find_element(By.ID, "app-submit").click()
    browser.wait_for(driver, "#login-username")
    assert driver.execute_script("return sessionStorage.getItem('elasticjob.token')") is None
    log_in(driver)
    browser.wait_for(driver, "#app-form-title")  # back where the session ended
    assert uncaught_errors(driver) == []


def test_publish_shows_the_apis_field_error_beside_the_field(
    system: System, driver: webdriver.Chrome
) -> None:
    app_name = unique_name("app")
    open_console(driver, system.envoy.base_url, "#/apps/new")
    log_in(driver)
    browser.wait_for(driver, "#app-appName")
    fill(
        driver,
        {
            "appName": app_name,
            "appURL": system.app_archive.as_uri(),
            "bootstrapScript": "bin/run.sh",
            "cpuCount": "-1",
            "memoryMB": "32",
        },
        "app",
    )
    driver.find_element(By.ID, "app-submit").click()
    error = browser.wait_for_text(driver, "#app-cpuCount-error", "cpuCount")
    assert driver.find_element(By.ID, "app-cpuCount").get_attribute("aria-invalid") == "true"
    assert driver.switch_to.active_element.get_attribute("id") == "app-cpuCount"
    assert not app_exists(system, app_name), error.text

    fill(driver, {"cpuCount": "0.1"}, "app")
    driver.find_element(By.ID, "app-submit").click()
    WebDriverWait(driver, 15).until(lambda d: d.execute_script("return location.hash") == "#/apps")
    assert app_exists(system, app_name)


def test_register_previews_the_cron_as_it_is_typed(system: System, driver: webdriver.Chrome) -> None:
    app_name = system.publish_app()
    job_name = unique_name("job")
    open_console(driver, system.envoy.base_url, "#/jobs/new")
    log_in(driver)
    cron = browser.wait_for(driver, "#job-cron")
    cron.send_keys("0 0 25 * * ?")
    browser.wait_for_text(driver, "#cron-preview .field-error", "cron")
    assert cron.get_attribute("aria-invalid") == "true"

    cron.clear()
    cron.send_keys("0/2 * * * * ?")
    WebDriverWait(driver, 15).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#cron-preview li")) == 5)
    fires = [
        datetime.fromisoformat(item.text)
        for item in driver.find_elements(By.CSS_SELECTOR, "#cron-preview li")
    ]
    assert all((later - earlier).total_seconds() == 2 for earlier, later in itertools.pairwise(fires))
    assert all(fire.second % 2 == 0 for fire in fires)

    fill(driver, {"jobName": job_name, "appName": app_name, "shardingTotalCount": 1, "memoryMB": 16}, "job")
    driver.find_element(By.ID, "job-submit").click()
    WebDriverWait(driver, 15).until(
        lambda d: d.execute_script("return location.hash") == f"#/jobs/{job_name}"
    )
    assert job_exists(system, job_name)
    system.deregister(job_name)


def test_a_job_runs_and_its_shards_output_disable_enable_and_delete(
    system: System, driver: webdriver.Chrome, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The whole walk of the issue: needs the operations routes (app and job lists, job state,
    disable / enable, app delete), the run history and the Mesos files API."""
    archive = printing_app(tmp_path_factory.mktemp("printing"))
    app_name = unique_name("app")
    job_name = unique_name("job")
    open_console(driver, system.envoy.base_url, "#/apps/new")
    log_in(driver)
    browser.wait_for(driver, "#app-appName")
    fill(
        driver,
        {
            "appName": app_name,
            "appURL": archive.as_uri(),
            "bootstrapScript": "bin/run.sh",
            "cpuCount": "0.1",
            "memoryMB": "32",
        },
        "app",
    )
    driver.find_element(By.ID, "app-submit").click()
    browser.wait_for(driver, f'#apps-rows tr[data-app="{app_name}"]')

    go(driver, "#/jobs/new")
    browser.wait_for(driver, "#job-cron").send_keys("0/3 * * * * ?")
    WebDriverWait(driver, 15).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#cron-preview li")) == 5)
    fill(
        driver,
        {
            "jobName": job_name,
            "appName": app_name,
            "shardingTotalCount": 2,
            "memoryMB": 16,
            "cpuCount": "0.1",
        },
        "job",
    )
    driver.find_element(By.ID, "job-submit").click()
    browser.wait_for(driver, "#job-trigger")
    # The job's state: its next five fires, then its shards with their task or last run.
    WebDriverWait(driver, 15).until(
        lambda d: len(d.find_elements(By.CSS_SELECTOR, "#job-next-fires li")) == 5
    )
    WebDriverWait(driver, 60).until(
        lambda d: len(d.find_elements(By.CSS_SELECTOR, "#job-shards tbody tr")) == 2
    )

    # Watch it run: a shard's output link appears on the job's page (running task or last run).
    link = browser.wait_for(driver, "#main a.output-link", timeout=60)
    href = str(link.get_attribute("href"))  # by its address: the list is redrawn as tasks end
    go(driver, href[href.index("#") :])
    shown = browser.wait_for_text(driver, "#output-text", f"console-line job={job_name} shard=", timeout=30)
    shard = unquote(href).split("@-@")[1]  # the executor's file holds every shard: only this one's lines show
    assert all(line.startswith(f"[{job_name}-{shard}]") for line in shown.text.splitlines()), shown.text

    # Download: the whole file, handed to the browser as a blob (captured here instead of saved).
    driver.execute_script(
        "window.__downloaded = null;"
        "HTMLAnchorElement.prototype.click = function () {"
        "  if (this.download) fetch(this.href).then((r) => r.text()).then((t) => { window.__downloaded = t; });"
        "};"
    )
    driver.find_element(By.ID, "output-download").click()
    downloaded = WebDriverWait(driver, 15).until(lambda d: d.execute_script("return window.__downloaded"))
    assert f"console-line job={job_name} shard={shard}" in downloaded

    # Runs: the job's executions, newest first, then oldest first by the column's button.
    go(driver, "#/runs")
    job_filter = browser.wait_for(driver, "#filter-jobName")
    job_filter.send_keys(job_name)
    driver.find_element(By.ID, "runs-apply").click()
    WebDriverWait(driver, 30).until(
        lambda d: (
            job_name in d.find_element(By.ID, "runs-rows").text
            and "Nothing recorded" not in d.find_element(By.ID, "runs-rows").text
        )
    )
    started = driver.find_element(By.XPATH, "//th[button[starts-with(normalize-space(.), 'Started')]]")
    assert started.get_attribute("aria-sort") == "descending"
    started.find_element(By.TAG_NAME, "button").click()
    WebDriverWait(driver, 10).until(
        lambda d: (
            d.find_element(
                By.XPATH, "//th[button[starts-with(normalize-space(.), 'Started')]]"
            ).get_attribute("aria-sort")
            == "ascending"
        )
    )
    jobs_shown = {cell.text for cell in driver.find_elements(By.CSS_SELECTOR, "#runs-rows tr td:first-child")}
    assert jobs_shown == {job_name}
    assert "Page 1 of" in driver.find_element(By.ID, "runs-page").text

    go(driver, f"#/jobs/{job_name}")
    browser.wait_for(driver, "#job-disable").click()
    browser.wait_for(driver, "#job-enable")
    browser.wait_for_text(driver, "#main h1", "disabled")
    with httpx.Client(base_url=system.envoy.base_url, headers={"accessToken": system.token}) as client:
        assert client.get(f"/api/job/{job_name}/disable").json() is True
    driver.find_element(By.ID, "job-enable").click()
    browser.wait_for(driver, "#job-disable")
    browser.wait_for_text(driver, "#main h1", "enabled")

    go(driver, "#/apps")
    row = browser.wait_for(driver, f'#apps-rows tr[data-app="{app_name}"]')
    row.find_element(By.CSS_SELECTOR, "button.danger").click()
    browser.wait_for_text(driver, "#delete-jobs", job_name)
    driver.find_element(By.ID, "confirm-ok").click()
    WebDriverWait(driver, 15).until(
        lambda d: not d.find_elements(By.CSS_SELECTOR, f'#apps-rows tr[data-app="{app_name}"]')
    )
    assert not app_exists(system, app_name)
    assert not job_exists(system, job_name)
    assert uncaught_errors(driver) == []


def test_lists_refresh_without_losing_the_filter_or_the_keyboards_place(
    system: System, driver: webdriver.Chrome
) -> None:
    """The apps list is read again every few seconds (the rows are redrawn): the filter text, the
    rows it selects and the focused control stay. Needs the app list route."""
    kept = system.publish_app()
    other = system.publish_app()
    open_console(driver, system.envoy.base_url, "#/apps")
    log_in(driver)
    browser.wait_for(driver, f'#apps-rows tr[data-app="{other}"]')
    driver.find_element(By.ID, "app-filter").send_keys(kept)
    row = browser.wait_for(driver, f'#apps-rows tr[data-app="{kept}"]')
    WebDriverWait(driver, 5).until(lambda d: not d.find_elements(By.CSS_SELECTOR, f'tr[data-app="{other}"]'))
    button = row.find_element(By.CSS_SELECTOR, f'button[aria-label="Disable {kept}"]')
    driver.execute_script("arguments[0].focus()", button)

    WebDriverWait(driver, 15).until(expected_conditions.staleness_of(row))  # redrawn by a refresh
    assert driver.find_element(By.ID, "app-filter").get_attribute("value") == kept
    rows = driver.find_elements(By.CSS_SELECTOR, "#apps-rows tr[data-app]")
    assert [r.get_attribute("data-app") for r in rows] == [kept]
    assert driver.switch_to.active_element.get_attribute("aria-label") == f"Disable {kept}"
    assert uncaught_errors(driver) == []
