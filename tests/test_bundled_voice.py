"""The voice shipped inside the package: it speaks offline and obeys the prosody flags.

These run on the real bundled assets (no fixture model), so they fail if the package is
built without them or if a retrained voice stops following --pitch/--energy/--duration.
"""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import run_cli
from ttscli.fs2.checkpoint import CONFIG_FILE, load_dataclass
from ttscli.fs2.config import FS2Config
from ttscli.fs2.engine import ASSETS_DIR, FS2Engine
from ttscli.fs2.model import Controls

pyworld = pytest.importorskip("pyworld")

SENTENCE = "The quick brown fox jumps over the lazy dog, and then it quietly walks away."
BUNDLED_CONFIG = load_dataclass(FS2Config, ASSETS_DIR / CONFIG_FILE)
KINDS = ["fs2"] + (["fs2s"] if BUNDLED_CONFIG.wave_decoder is not None else [])


@pytest.fixture(scope="module", params=KINDS)
def engine(request: pytest.FixtureRequest) -> FS2Engine:
    return FS2Engine.load(None, kind=request.param, device="cpu")


def speak(engine: FS2Engine, **controls: float) -> np.ndarray:
    return np.concatenate(list(engine.stream(SENTENCE, Controls(**controls))))


def median_f0(audio: np.ndarray, rate: int) -> float:
    """Median F0 of the voiced frames, measured on the waveform (WORLD DIO + StoneMask)."""
    x = audio.astype(np.float64)
    f0, t = pyworld.dio(x, rate, f0_floor=60.0, f0_ceil=800.0)
    f0 = pyworld.stonemask(x, f0, t, rate)
    voiced = f0[f0 > 0]
    assert len(voiced) > 50, "too few voiced frames to measure pitch"
    return float(np.median(voiced))


def loudness_db(audio: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(audio.astype(np.float64) ** 2)) + 1e-9))


@pytest.mark.xfail(
    strict=True,
    reason="known defect of the current bundled voice (issue 3 open): its vocoder, fitted on "
    "the teacher's narrow F0 range, keeps its own F0; strict, so a fix must remove this mark",
)
def test_pitch_1_5_raises_median_f0_by_about_1_5(engine: FS2Engine) -> None:
    base = median_f0(speak(engine), engine.sample_rate)
    raised = median_f0(speak(engine, pitch=1.5), engine.sample_rate)
    assert 1.4 <= raised / base <= 1.6, f"{base:.1f} Hz -> {raised:.1f} Hz"


def test_energy_changes_loudness_in_the_asked_direction(engine: FS2Engine) -> None:
    quiet, normal, loud = (loudness_db(speak(engine, energy=e)) for e in (0.5, 1.0, 1.5))
    assert quiet < normal - 0.5, (quiet, normal)
    assert loud > normal + 0.5, (loud, normal)


def test_duration_2_doubles_length(engine: FS2Engine) -> None:
    ratio = len(speak(engine, duration=2.0)) / len(speak(engine))
    assert ratio == pytest.approx(2.0, rel=0.1)


def test_speaks_in_a_fresh_process_without_network(tmp_path: Path) -> None:
    """`ttscli fs2 "Hello world." --out hello.wav` as a newcomer runs it, sockets disabled."""
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(
        textwrap.dedent(
            """
            import socket

            def no_network(*args, **kwargs):
                raise OSError("network access attempted")

            socket.socket.connect = no_network
            socket.socket.connect_ex = no_network
            socket.create_connection = no_network
            socket.getaddrinfo = no_network
            """
        )
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(blocker), *sys.path]))
    out = tmp_path / "hello.wav"
    result = run_cli("fs2", "Hello world.", "--out", str(out), "--device", "cpu", env=env)
    assert result.returncode == 0, result.stderr.decode()
    audio, rate = sf.read(str(out), dtype="float32")
    assert rate == 22050 and 0.5 < len(audio) / rate < 3.0
    assert np.abs(audio).max() > 0.05
