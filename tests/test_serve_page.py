"""The page at `/` in a real headless Chromium: controls from the engine's fields, audio
streamed and scheduled, the sentences highlighted as they are heard, downloads that
decode, and the keyboard."""

from __future__ import annotations

import base64
import io
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import soundfile as sf
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.test_serve import (
    RATE,
    RunningServer,
    start_greedy_kyutai,
    start_server,
    stop_server,
)

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
HANG = 120  # a ceiling for a hang, not a speed target
TEXT = "Hello from the browser. This is streamed. And this is the end."


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
    driver.set_script_timeout(HANG)
    try:
        yield driver
    finally:
        driver.quit()


def state_of(browser: webdriver.Chrome) -> dict:
    return browser.execute_script("return window.ttscliState;")


def wait_for(browser: webdriver.Chrome, test) -> dict:
    deadline = time.monotonic() + HANG
    while time.monotonic() < deadline:
        state = state_of(browser)
        if test(state):
            return state
        time.sleep(0.1)
    raise AssertionError(state_of(browser))


def speak_from_the_keyboard(browser: webdriver.Chrome, text: str) -> dict:
    box = browser.find_element(By.ID, "text")
    box.clear()
    box.send_keys(text)
    box.send_keys(Keys.CONTROL, Keys.ENTER)
    return wait_for(browser, lambda s: s["done"] or s["error"])


def test_controls_come_from_the_voices_fields(
    page_server: RunningServer, browser: webdriver.Chrome
) -> None:
    browser.get(page_server.url + "/")
    fields = json.loads(page_server.request("GET", "/v1/voices", token=None)[2])
    numbers = [f for f in fields["voices"][0]["fields"] if f["type"] == "number"]
    deadline = time.monotonic() + HANG
    while (
        not browser.find_elements(By.CSS_SELECTOR, "#fields input") and time.monotonic() < deadline
    ):
        time.sleep(0.1)
    sliders = {
        s.get_attribute("data-field"): s
        for s in browser.find_elements(By.CSS_SELECTOR, "#fields input")
    }
    assert set(sliders) == {f["name"] for f in numbers}
    for field in numbers:
        slider = sliders[field["name"]]
        assert float(slider.get_attribute("data-minimum")) == field["minimum"]
        assert float(slider.get_attribute("data-maximum")) == field["maximum"]
    assert "tiny" in browser.find_element(By.ID, "voice").text
    # From the keyboard: the slider's End key is the field's maximum, which the voice takes.
    pitch = next(f for f in numbers if f["name"] == "pitch")
    sliders["pitch"].send_keys(Keys.END)
    state = speak_from_the_keyboard(browser, "High.")
    assert state["error"] is None and state["done"], state
    assert state["lastStart"]["pitch"] == pytest.approx(pitch["maximum"], abs=1e-3)


def test_sentences_are_highlighted_as_they_are_heard(
    page_server: RunningServer, browser: webdriver.Chrome
) -> None:
    browser.get(page_server.url + "/")
    state = speak_from_the_keyboard(browser, TEXT)
    assert state["error"] is None, state
    assert state["bytes"] > RATE, state  # more than half a second of 16-bit audio
    assert state["scheduled"] >= 3 and state["firstAudioMs"] is not None
    assert [s["text"] for s in state["sentences"]] == [
        "Hello from the browser.",
        "This is streamed.",
        "And this is the end.",
    ]
    # The highlight moves through the words (fs2 times them too) in order, as playback
    # reaches each.
    words = len(state["words"])
    assert words == 12
    state = wait_for(browser, lambda s: len(s["highlighted"]) >= words - 1)
    order = [int(h[1:]) for h in state["highlighted"] if h.startswith("w")]
    assert order == sorted(order) and len(set(order)) >= words - 1, state["highlighted"]
    history = browser.find_element(By.ID, "history").text
    assert "#1" in history and "ms" in history


def fetch_download(browser: webdriver.Chrome, kind: str) -> bytes:
    browser.find_element(By.ID, f"download-{kind}").click()
    wait_for(browser, lambda s: kind in s["downloads"])
    encoded = browser.execute_async_script(
        """const done = arguments[arguments.length - 1];
        fetch(window.ttscliState.downloads[arguments[0]]).then((r) => r.arrayBuffer())
          .then((b) => { let s = ""; for (const x of new Uint8Array(b)) s += String.fromCharCode(x);
                         done(btoa(s)); });""",
        kind,
    )
    return base64.b64decode(encoded)


def test_what_was_spoken_downloads_as_wav_and_mp3(
    page_server: RunningServer, browser: webdriver.Chrome
) -> None:
    browser.get(page_server.url + "/")
    state = speak_from_the_keyboard(browser, "Download me. Twice.")
    assert state["done"], state
    wav, rate = sf.read(io.BytesIO(fetch_download(browser, "wav")), dtype="int16")
    assert rate == RATE and len(wav) * 2 == state["bytes"]
    mp3, rate = sf.read(io.BytesIO(fetch_download(browser, "mp3")), dtype="int16")
    assert rate == RATE and abs(len(mp3) - len(wav)) <= 0.11 * RATE


def test_the_ssml_example_speaks_through_the_ssml_mode(
    page_server: RunningServer, browser: webdriver.Chrome
) -> None:
    browser.get(page_server.url + "/")
    browser.find_element(By.ID, "example").click()
    assert browser.find_element(By.ID, "ssml").is_selected()
    assert browser.find_element(By.ID, "text").get_attribute("value").startswith("<speak>")
    browser.find_element(By.ID, "speak").click()
    state = wait_for(browser, lambda s: s["done"] or s["error"])
    assert state["error"] is None and state["done"], state
    assert state["lastStart"]["ssml"] is True
    spoken = [s["text"] for s in state["sentences"]]
    assert spoken[0] == "Hello from ttscli." and not any("<" in s for s in spoken)


@pytest.fixture(scope="module")
def kyutai_page_server(tiny_kyutai) -> Iterator[RunningServer]:
    """Greedy sampling, so the page's request and the same one over HTTP sound alike."""
    running = start_greedy_kyutai(tiny_kyutai)
    yield running
    stop_server(running)


def test_a_kyutai_page_chooses_voices_and_pacing(
    kyutai_page_server: RunningServer, browser: webdriver.Chrome
) -> None:
    """Kyutai's fields on the page: a text box for the voices (a name of the served voice
    repo) and a whole-number slider for the padding between words; what the page asks for
    is what HTTP gives for the same request."""
    from ttscli.kyutai.synthetic import OTHER_VOICES

    browser.get(kyutai_page_server.url + "/")
    wait_for(browser, lambda _: browser.find_elements(By.CSS_SELECTOR, "#fields input"))
    inputs = {
        i.get_attribute("data-field"): i
        for i in browser.find_elements(By.CSS_SELECTOR, "#fields input")
    }
    assert inputs["voices"].get_attribute("type") == "text"
    assert inputs["padding_between"].get_attribute("step") == "1"
    # The voice menu: the served voice, then the others this machine holds.
    menu = browser.find_elements(By.CSS_SELECTOR, "#voice option")
    assert [o.get_attribute("value") for o in menu][1:] == sorted(OTHER_VOICES)
    inputs["voices"].send_keys(OTHER_VOICES[0])
    inputs["padding_between"].send_keys(Keys.END)
    state = speak_from_the_keyboard(browser, "Hello world.")
    assert state["error"] is None and state["done"], state
    start = state["lastStart"]
    assert start["voices"] == [OTHER_VOICES[0]] and start["padding_between"] == 8
    wav, rate = sf.read(io.BytesIO(fetch_download(browser, "wav")), dtype="int16")
    status, body = kyutai_page_server.speech(
        "Hello world.", voice=OTHER_VOICES[0], padding_between=8
    )
    assert status == 200 and rate == 24000
    assert wav.tobytes() == body
