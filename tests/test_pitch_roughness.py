"""The measure of frame-to-frame F0 movement, and the check that picks ``pitch_roughness``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from ttscli.audio.dsp import MelSpec
from ttscli.lab.evaluation.pitch_roughness import TRACKERS, f0_roughness, main

pytest.importorskip("parselmouth")
RATE = MelSpec().sample_rate
HOP = MelSpec().hop_length


def test_roughness_is_the_rms_semitone_step_within_voiced_runs() -> None:
    assert f0_roughness(np.full(20, 90.0)) == 0.0
    up = 90.0 * 2 ** (1 / 12)
    assert f0_roughness(np.array([90.0, up] * 10)) == pytest.approx(1.0)
    # An unvoiced gap splits runs: the jump from 90 to 180 Hz across it is not a step.
    split = np.concatenate([np.full(10, 90.0), np.zeros(3), np.full(10, 180.0)])
    assert f0_roughness(split) == 0.0
    assert f0_roughness(np.array([90.0, 95.0, 0.0, 90.0])) is None  # runs too short to read


def harmonic_tone(f0: np.ndarray) -> np.ndarray:
    """Ten harmonics following a per-sample F0 track: a voice with known movement."""
    phase = 2 * np.pi * np.cumsum(f0) / RATE
    return (0.3 * sum(np.sin(k * phase) / k for k in range(1, 11))).astype(np.float32)


@pytest.mark.parametrize("tracker", sorted(TRACKERS))
def test_both_trackers_read_a_steady_low_voice_as_smooth_and_a_wobbling_one_as_rough(
    tracker: str,
) -> None:
    if tracker == "pYIN":
        pytest.importorskip("librosa")
    seconds = np.arange(int(1.5 * RATE)) / RATE
    steady = harmonic_tone(np.full(len(seconds), 85.0))
    # One semitone of 8 Hz wobble: about half a semitone between frames 11.6 ms apart.
    wobble = harmonic_tone(85.0 * 2 ** (np.sin(2 * np.pi * 8 * seconds) / 12))
    smooth = f0_roughness(TRACKERS[tracker](steady, RATE, HOP))
    rough = f0_roughness(TRACKERS[tracker](wobble, RATE, HOP))
    assert smooth is not None and rough is not None
    assert smooth < 0.1
    assert rough == pytest.approx(2 * np.pi * 8 * HOP / RATE / np.sqrt(2), rel=0.35)


TEXT = "The examination and testimony of the experts enabled the commission to conclude."


def one_recording(tmp_path: Path) -> Path:
    """A corpus folder with one steady 90 Hz 'recording' of TEXT."""
    corpus = tmp_path / "corpus"
    (corpus / "wavs").mkdir(parents=True)
    sf.write(corpus / "wavs" / "u1.wav", harmonic_tone(np.full(RATE, 90.0)), RATE)
    (corpus / "metadata.csv").write_text(f"u1|{TEXT}|{TEXT}\n", encoding="utf-8")
    return corpus


def table_columns(table: str) -> dict[str, dict[str, float]]:
    """Row label -> its numbers by column heading."""
    rows = [line.split("|")[1:-1] for line in table.splitlines() if line.startswith("| ")]
    heads = [cell.strip() for cell in rows[0][1:]]
    return {
        cells[0].strip(): dict(zip(heads, map(float, cells[1:]), strict=True)) for cells in rows[1:]
    }


@pytest.fixture
def praat_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check reads Praat alone (pYIN needs librosa, which only the lab extra installs);
    every figure these tests assert on is Praat's."""
    monkeypatch.delitem(TRACKERS, "pYIN")


@pytest.mark.usefixtures("praat_only")
def test_check_measures_recordings_and_the_voice_at_each_level(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = one_recording(tmp_path)
    assert main(["--corpus", str(corpus), "--count", "1", "--levels", "0,1"]) == 0
    rows = table_columns(capsys.readouterr().out)
    assert rows["recordings"]["roughness Praat"] < 0.1
    assert rows["recordings"]["spread"] < 0.1  # a steady tone has no spread
    assert rows["recordings"]["median F0"] == pytest.approx(90.0, rel=0.01)
    rough = rows["voice, roughness 1, spread 1, level 1"]["roughness Praat"]
    plain = rows["voice, roughness 0, spread 1, level 1"]["roughness Praat"]
    assert rough > plain + 0.1


@pytest.mark.usefixtures("praat_only")
def test_check_reads_the_spread_and_level_it_asks_the_voice_for(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = one_recording(tmp_path)
    argv = ["--corpus", str(corpus), "--count", "1", "--levels", "0"]
    assert main([*argv, "--spreads", "1,1.5", "--pitch-levels", "1,1.1"]) == 0
    rows = table_columns(capsys.readouterr().out)
    plain = rows["voice, roughness 0, spread 1, level 1"]
    wide = rows["voice, roughness 0, spread 1.5, level 1"]
    high = rows["voice, roughness 0, spread 1, level 1.1"]
    assert wide["spread"] / plain["spread"] == pytest.approx(1.5, rel=0.2)
    assert high["median F0"] / plain["median F0"] == pytest.approx(1.1, rel=0.02)
    assert main([*argv, "--spreads", "3"]) == 1
    assert "--spreads" in capsys.readouterr().err
    assert main([*argv, "--pitch-levels", "2"]) == 1
    assert "--pitch-levels" in capsys.readouterr().err


def test_check_without_a_corpus_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--corpus", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "metadata.csv" in err and err.count("\n") == 1
    assert main(["--corpus", str(tmp_path), "--levels", "x"]) == 1
    assert "comma-separated" in capsys.readouterr().err
