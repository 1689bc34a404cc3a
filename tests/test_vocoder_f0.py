"""The check of whether a mel vocoder renders the F0 it is asked for, on the bundled vocoder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from ttscli.fs2.engine import ASSETS_DIR, FS2Engine
from ttscli.fs2.vocoders import load_bundled_latent
from ttscli.lab.evaluation.vocoder_f0 import follow_table, print_table

pytest.importorskip("parselmouth")  # PSOLA and the F0 judge are Praat's


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    engine = FS2Engine.load(None, device="cpu")
    text = "The examination and testimony of the experts enabled the commission to conclude."
    audio = np.concatenate([chunk.audio for chunk in engine.stream(text)])
    path = tmp_path_factory.mktemp("recordings") / "line.wav"
    sf.write(path, audio, engine.sample_rate)
    return path


def test_table_reads_the_asked_ratio_on_the_psola_copies(recording: Path) -> None:
    vocoder = load_bundled_latent(ASSETS_DIR)
    rows = follow_table(vocoder, [recording], ratios=(1.0, 1.25))
    unshifted, raised = rows
    assert unshifted.asked == [1.0]
    assert abs(unshifted.rendered[0] - 1.0) < 0.05  # resynthesis keeps the recording's F0
    assert abs(raised.asked[0] - 1.25) < 0.05  # the PSOLA copy is what was asked
    assert raised.rendered[0] > 1.05  # and the vocoder moves at least some of the way
    print_table(rows)


@pytest.mark.parametrize("ratio", [0.8, 1.25])
def test_bundled_vocoder_follows_its_f0_input_over_the_mel(recording: Path, ratio: float) -> None:
    """Handed the unshifted mel and the copy's F0, the bundled vocoder's harmonic source
    sets the pitch: what --pitch through the embedding relies on."""
    vocoder = load_bundled_latent(ASSETS_DIR)
    assert vocoder.reads_pitch
    (row,) = follow_table(vocoder, [recording], ratios=(ratio,), original_mels=True)
    assert row.rendered[0] == pytest.approx(row.asked[0], rel=0.05)


def test_a_folder_without_recordings_is_a_one_line_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "scripts/check_vocoder_f0.py", "--wavs", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [f"error: --wavs {tmp_path}: no .wav files there"]
