"""The check of how DNSMOS hears a lower voice made with no shifter (espeak-ng's -p)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

from ttscli.lab.evaluation.evaluate import DnsmosJudge, EspeakSystem
from ttscli.lab.evaluation.judge_pitch import (
    bundled_voice_rows,
    espeak_rows,
    print_table,
    recording_rows,
)

pytest.importorskip("parselmouth")  # the F0 judge and PSOLA are Praat's
pytest.importorskip("speechmos")
if shutil.which("espeak-ng") is None:
    pytest.skip("espeak-ng is not installed", allow_module_level=True)

SENTENCE = "The examination and testimony of the experts enabled the commission to conclude."
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def judge() -> DnsmosJudge:
    return DnsmosJudge()


def test_espeak_pitch_setting_moves_the_judged_f0_and_is_scored(judge: DnsmosJudge) -> None:
    low, default, high = espeak_rows([SENTENCE], [20, 50, 75], judge)
    assert default.ratio == [1.0]
    assert low.ratio[0] < 0.9 < 1.1 < high.ratio[0]
    assert low.f0_hz[0] < default.f0_hz[0] < high.f0_hz[0]
    assert all(1.0 <= row.ovrl[0] <= 5.0 for row in (low, default, high))
    print_table([low, default, high])


def test_recordings_are_judged_beside_their_psola_copies(
    judge: DnsmosJudge, tmp_path: Path
) -> None:
    audio, rate = EspeakSystem().waveform(SENTENCE)
    wav = tmp_path / "line.wav"
    sf.write(wav, audio, rate)
    unshifted, raised = recording_rows([wav], [1.0, 1.5], judge)
    assert unshifted.ratio == [1.0]
    assert raised.ratio[0] == pytest.approx(1.5, rel=0.05)


def test_bundled_voice_is_judged_through_its_model_and_psola_shifted(judge: DnsmosJudge) -> None:
    rows = bundled_voice_rows([SENTENCE], [1.0, 1.5], judge)
    assert [row.label for row in rows] == [
        "bundled voice, --pitch 1",
        "bundled voice, --pitch 1.5",
        "bundled voice at 1, PSOLA x1.5",
    ]
    at_one, through_model, shifted = rows
    assert at_one.ratio == [1.0]
    assert through_model.ratio[0] == pytest.approx(1.5, rel=0.05)
    assert shifted.ratio[0] == pytest.approx(1.5, rel=0.05)
    assert through_model.ovrl != shifted.ovrl  # two different renderings were judged


def test_without_recordings_only_espeak_rows_are_printed(tmp_path: Path) -> None:
    sentences = tmp_path / "lines.txt"
    sentences.write_text(SENTENCE + "\n")
    result = subprocess.run(
        [
            sys.executable,
            "scripts/check_judge_pitch.py",
            "--sentences",
            str(sentences),
            "--pitches",
            "50",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("| espeak")]
    assert len(rows) == 1 and "recording" not in result.stdout


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--pitches", "20,x"], "error: not a comma-separated list of numbers: '20,x'"),
        (["--pitches", "120"], "error: espeak-ng pitches lie in 0-99"),
        (["--ratios", "0"], "error: ratios must be positive"),
    ],
)
def test_bad_options_are_one_line_errors(tmp_path: Path, extra: list[str], message: str) -> None:
    sentences = tmp_path / "lines.txt"
    sentences.write_text(SENTENCE + "\n")
    result = subprocess.run(
        [sys.executable, "scripts/check_judge_pitch.py", "--sentences", str(sentences), *extra],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [message]
