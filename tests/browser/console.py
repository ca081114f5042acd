"""What the console's browser tests share: logging in, filling the forms, an app that prints."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.common.by import By

from testkit import browser

# The shard's script prints one line to stdout (the executor puts it in the sandbox's stdout,
# prefixed with [job-item]) and stays a few seconds, so its task can be seen running.
PRINTING_SCRIPT = """#!/bin/sh
echo "console-line job=$ELASTICJOB_JOB_NAME shard=$ELASTICJOB_SHARDING_ITEM"
sleep 3
"""


def printing_app(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    archive = directory / "printing-app.tar.gz"
    script = PRINTING_SCRIPT.encode()
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("bin/run.sh")
        info.size = len(script)
        info.mode = 0o755
        tar.addfile(info, io.BytesIO(script))
    return archive


def open_console(driver: webdriver.Chrome, base_url: str, page: str = "") -> None:
    """Open ``page`` (a hash route such as ``#/jobs``), logged out: a fresh tab's session."""
    driver.get(f"{base_url}/")
    driver.execute_script("sessionStorage.clear()")
    driver.get(f"{base_url}/{page}")


def log_in(driver: webdriver.Chrome, username: str = "root", password: str = "pwd") -> None:
    user = browser.wait_for(driver, "#login-username")
    user.clear()
    user.send_keys(username)
    secret = driver.find_element(By.ID, "login-password")
    secret.clear()
    secret.send_keys(password)
    driver.find_element(By.ID, "login-submit").click()


def go(driver: webdriver.Chrome, page: str) -> None:
    """Move to another page of the console in the same tab (the session stays)."""
    driver.execute_script("location.hash = arguments[0]", page)


def fill(driver: webdriver.Chrome, values: dict[str, object], prefix: str) -> None:
    """Type each value into the form control ``#{prefix}-{name}`` (checkboxes: click to match)."""
    for name, value in values.items():
        control = driver.find_element(By.ID, f"{prefix}-{name}")
        if control.get_attribute("type") == "checkbox":
            if control.is_selected() != bool(value):
                control.click()
            continue
        if control.tag_name == "select":
            control.find_element(By.CSS_SELECTOR, f'option[value="{value}"]').click()
            continue
        control.clear()
        control.send_keys(str(value))


def uncaught_errors(driver: webdriver.Chrome) -> list[str]:
    """Script errors of the page, leaving out answers that failed to load (a 404 the page handles)."""
    return [error for error in browser.script_errors(driver) if "Failed to load resource" not in error]
