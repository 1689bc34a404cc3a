"""The page at `/` in a real headless Chromium: it streams a phrase and schedules playback."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from tests.test_serve import RunningServer, start_server, stop_server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def page_server(tiny_checkpoint: Path) -> Iterator[RunningServer]:
    running = start_server(
        "--checkpoint", str(tiny_checkpoint), "--vocoder", "griffin-lim", "--device", "cpu"
    )
    yield running
    stop_server(running)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run", "--disable-quic", "--autoplay-policy=no-user-gesture-required",
        f"--user-data-dir={tmp_path / 'profile'}",
    ):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def test_page_streams_a_phrase_and_schedules_it_for_playback(
    page_server: RunningServer, browser: webdriver.Chrome
) -> None:
    browser.get(page_server.url + "/")
    box = browser.find_element(By.ID, "text")
    box.clear()
    box.send_keys("Hello from the browser. This is streamed.")
    browser.find_element(By.ID, "speak").click()
    deadline = time.monotonic() + 120  # a ceiling for a hang, not a speed target
    state: dict = {}
    while time.monotonic() < deadline:
        state = browser.execute_script("return window.ttscliState;")
        if state["done"] or state["error"]:
            break
        time.sleep(0.2)
    assert state["error"] is None, state
    assert state["done"], state
    assert state["bytes"] > 22050, state  # more than half a second of 16-bit audio
    assert state["scheduled"] >= 2 and state["firstAudioMs"] is not None  # one per sentence
    status = browser.find_element(By.ID, "status").text
    assert "bytes received" in status and "first audio" in status
