"""The check of how DNSMOS scores the same audio at other levels."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from ttscli.lab.evaluation.evaluate import DnsmosJudge, EspeakSystem
from ttscli.lab.evaluation.judge_level import PEAK_NORMALISED, folder_rows, print_table

pytest.importorskip("speechmos")
if shutil.which("espeak-ng") is None:
    pytest.skip("espeak-ng is not installed", allow_module_level=True)

SENTENCE = "The examination and testimony of the experts enabled the commission to conclude."
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def quiet_speech(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One sentence a tenth of full scale at its peak, so a +6 dB row is not clipped."""
    folder = tmp_path_factory.mktemp("voice")
    audio, rate = EspeakSystem().waveform(SENTENCE)
    sf.write(folder / "0000.wav", 0.1 * audio / np.max(np.abs(audio)), rate)
    return folder


def test_each_level_is_judged_at_the_level_it_names(quiet_speech: Path) -> None:
    rows = folder_rows(quiet_speech, [0.0, -6.0, 6.0, PEAK_NORMALISED], DnsmosJudge(), limit=5)
    written, quieter, louder, normalised = rows
    assert [row.label for row in rows] == [
        "voice0, as written",
        "voice0, -6 dB",
        "voice0, +6 dB",
        "voice0, peak-normalised",
    ]
    assert written.peak_db[0] == pytest.approx(-20.0, abs=0.5)  # resampled to 16 kHz
    assert quieter.rms_db[0] - written.rms_db[0] == pytest.approx(-6.0, abs=1e-3)
    assert louder.rms_db[0] - written.rms_db[0] == pytest.approx(6.0, abs=1e-3)
    assert normalised.peak_db[0] == pytest.approx(0.0, abs=1e-3)
    assert all(1.0 <= row.ovrl[0] <= 5.0 for row in rows)
    assert len({row.ovrl[0] for row in rows}) == 4  # the judge heard four different signals
    print_table(rows)


def run_check(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "scripts/check_judge_level.py", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )


def test_the_table_has_a_row_per_level_with_zero_and_peak_added(quiet_speech: Path) -> None:
    result = run_check("--wavs", str(quiet_speech), "--gains=-3,6")
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("| voice0")]
    assert [row.split(" | ")[0] for row in rows] == [
        "| voice0, -3 dB",
        "| voice0, as written",
        "| voice0, +6 dB",
        "| voice0, peak-normalised",
    ]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--gains", "3,x"], "error: not a comma-separated list of numbers: '3,x'"),
        (["--limit", "0"], "error: --limit must be at least 1"),
    ],
)
def test_bad_options_are_one_line_errors(
    quiet_speech: Path, extra: list[str], message: str
) -> None:
    result = run_check("--wavs", str(quiet_speech), *extra)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [message]


def test_a_folder_without_audio_is_a_one_line_error(tmp_path: Path) -> None:
    result = run_check("--wavs", str(tmp_path))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [f"error: {tmp_path}: no .wav files"]
