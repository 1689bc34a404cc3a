"""A third engine added through the registry alone (an entry point, no change to ttscli)
is driven by the command line, a batch and the server like the built-in ones."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import run_cli
from tests.test_cli_fs2 import one_line_error
from tests.test_serve import RunningServer, free_port

PLUGINS = Path(__file__).resolve().parent / "plugins"


@pytest.fixture
def toy_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PLUGINS), env.get("PYTHONPATH")]))
    return env


def dominant_hz(audio: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(audio))
    return float(np.argmax(spectrum) * rate / len(audio))


def test_the_toy_engine_speaks_through_the_command_line(tmp_path: Path, toy_env) -> None:
    listing = run_cli("--help", env=toy_env)
    assert b"toy" in listing.stdout
    assert b"--frequency" in run_cli("toy", "--help", env=toy_env).stdout
    out = tmp_path / "tone.wav"
    result = run_cli(
        "toy", "one two three.", "--frequency", "300", "--word-seconds", "0.1", "--out",
        str(out), "--json", env=toy_env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr.decode()
    audio, rate = sf.read(out)
    assert rate == 16_000 and len(audio) == 3 * 1600
    assert abs(dominant_hz(audio, rate) - 300) < 10
    summary = json.loads(result.stdout)
    assert summary["engine"] == "toy" and summary["device"] == "none"
    one_line_error(run_cli("toy", "hi", "--frequency", "5000", env=toy_env), "--frequency")


def test_the_toy_engine_runs_a_batch(tmp_path: Path, toy_env) -> None:
    lines = tmp_path / "lines.txt"
    lines.write_text("one two\nthree four five\n")
    out = tmp_path / "clips"
    result = run_cli("toy", "--in", str(lines), "--out", str(out), "--quiet", env=toy_env)
    assert result.returncode == 0, result.stderr.decode()
    lengths = sorted(len(sf.read(p)[0]) for p in out.glob("*.wav"))
    assert lengths == [2 * 3200, 3 * 3200]
    manifest = [json.loads(x) for x in (out / "manifest.jsonl").read_text().splitlines()]
    assert len([m for m in manifest if "text" in m]) == 2


def test_the_toy_engine_is_served(toy_env) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "ttscli", "serve", "--engine", "toy", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=toy_env,
    )
    server = RunningServer(port, process)
    try:
        deadline = time.monotonic() + 120  # a ceiling for a hang, not a speed target
        while True:
            assert process.poll() is None, process.stderr.read().decode()  # type: ignore[union-attr]
            try:
                if server.request("GET", "/health", token=None)[0] == 200:
                    break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.2)
        status, _, body = server.request("GET", "/v1/voices", token=None)
        voice = json.loads(body)["voices"][0]
        assert voice["engine"] == "toy"
        assert voice["fields"][0] == {
            "name": "frequency", "type": "number", "default": 440.0,
            "help": "Tone of every word, in Hz.", "minimum": 100, "maximum": 1000,
        }  # fmt: skip
        request = {"input": "a b c d.", "response_format": "pcm", "frequency": 500}
        status, headers, pcm = server.request("POST", "/v1/audio/speech", request, token=None)
        assert status == 200 and headers["X-Sample-Rate"] == "16000"
        audio = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768
        assert len(audio) == 4 * 3200 and abs(dominant_hz(audio, 16_000) - 500) < 10
        request["frequency"] = 5
        status, _, body = server.request("POST", "/v1/audio/speech", request, token=None)
        assert status == 400 and "frequency" in json.loads(body)["error"]["message"]
    finally:
        process.terminate()
        process.wait(timeout=30)
