"""The MLflow UI in headless Chromium (Debian's chromium + chromium-driver, driven by Selenium):
the experiment page lists the runs a test logged, and the compare view shows their metric.
Screenshots are kept in test-artifacts/ (or $PHYSML_TEST_ARTIFACTS)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from urllib.parse import quote

import pytest
from mlflow import MlflowClient

from physml.tracking.ui_links import ui_link
from tests.helpers.processes import REPO_ROOT

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not (Path(CHROMIUM).exists() and shutil.which(CHROMEDRIVER)):
        message = "needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)"
        if os.environ.get("PHYSML_BROWSER_TESTS") == "off":  # an explicit opt-out, never a silent skip
            pytest.skip(message + "; PHYSML_BROWSER_TESTS=off")
        pytest.fail(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        "--window-size=1600,1000",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def screenshots() -> Path:
    folder = Path(os.environ.get("PHYSML_TEST_ARTIFACTS") or REPO_ROOT / "test-artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def wait_for_text(driver, *texts: str, timeout: float = 90) -> str:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout).until(lambda d: all(t in d.find_element("tag name", "body").text for t in texts))
    return driver.find_element("tag name", "body").text


def test_experiment_page_and_compare_view_show_the_logged_runs(tracking, browser, screenshots):
    client = MlflowClient()
    experiment_id = client.create_experiment("ui-check")
    runs = {}
    for name, r2 in (("ui-linear", 0.723), ("ui-gbm", 0.924)):  # the compare view shows 3 decimals
        run = client.create_run(experiment_id, run_name=name)
        client.log_param(run.info.run_id, "model", name.removeprefix("ui-"))
        client.log_metric(run.info.run_id, "test_r2", r2)
        client.set_terminated(run.info.run_id)
        runs[name] = run.info.run_id

    browser.get(ui_link(tracking, experiment_id))  # the link physml prints: the runs table, not the GenAI overview
    page = wait_for_text(browser, "ui-linear", "ui-gbm", "2 matching runs")
    browser.save_screenshot(str(screenshots / "mlflow_ui_experiment.png"))
    assert "ui-check" in page and "/runs" in browser.current_url

    ids = quote(json.dumps(list(runs.values())))
    browser.get(f"{tracking}/#/compare-runs?runs={ids}&experiments={quote(json.dumps([experiment_id]))}")
    page = wait_for_text(browser, "test_r2", "0.723", "0.924")
    browser.save_screenshot(str(screenshots / "mlflow_ui_compare.png"))
    assert "ui-linear" in page and "ui-gbm" in page
    for name in ("mlflow_ui_experiment.png", "mlflow_ui_compare.png"):
        assert (screenshots / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
