"""Training --pitch through the embedding: PSOLA copies of a corpus, their features and
statistics, and the fine-tuning mode that feeds the decoder their pitch."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from ttscli.audio.dsp import MelSpec
from ttscli.fs2.model import FastSpeech2
from ttscli.lab.corpus.folder import read_alignments
from ttscli.lab.corpus.pitch_shifted import build, draw_ratios
from ttscli.lab.train.data import Utterance, collate
from ttscli.lab.train.features import compute_stats, process
from ttscli.lab.train.fs2 import teacher_forced
from ttscli.lab.train.presets import tiny_config

pytest.importorskip("parselmouth")

RATE, HOP = MelSpec().sample_rate, MelSpec().hop_length


def voiced_corpus(root: Path, f0s: list[float]) -> Path:
    """A corpus of sustained vowels (harmonic series) with made-up alignments."""
    (root / "wavs").mkdir(parents=True)
    alignments, metadata = [], []
    for i, f0 in enumerate(f0s):
        frames = 120
        t = np.arange(frames * HOP) / RATE
        wave = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 20))
        wave = (0.3 * wave / np.abs(wave).max()).astype(np.float32)
        uid = f"utt_{i:03d}"
        sf.write(root / "wavs" / f"{uid}.wav", wave, RATE)
        alignments.append(
            {"id": uid, "phonemes": ["AA1", "M"], "durations": [60, 60], "samples": frames * HOP}
        )
        metadata.append(f"{uid}|ah m|ah m")
    (root / "alignments.jsonl").write_text("".join(json.dumps(a) + "\n" for a in alignments))
    (root / "metadata.csv").write_text("\n".join(metadata) + "\n")
    return root


def test_ratios_are_seeded_per_utterance_and_within_range():
    ratios = [r for i in range(200) for r in draw_ratios(f"u{i}", 2, 0.66, 1.6, seed=7)]
    assert min(ratios) >= 0.66 and max(ratios) <= 1.6
    assert min(ratios) < 0.75 and max(ratios) > 1.4  # both ends are drawn
    assert draw_ratios("u3", 2, 0.66, 1.6, seed=7) == ratios[6:8]
    assert draw_ratios("u3", 2, 0.66, 1.6, seed=8) != ratios[6:8]


def test_shifted_corpus_features_and_stats(tmp_path: Path):
    corpus = voiced_corpus(tmp_path / "corpus", [90.0, 100.0])
    out = tmp_path / "shifted"
    assert build(corpus, out, copies=1, low=0.66, high=1.6, workers=1) == {"done": 2}
    items = read_alignments(out)
    assert [i.id for i in items][0::2] == ["utt_000", "utt_001"]
    shifted = [i for i in items if i.pitch_shift is not None]
    assert len(shifted) == 2 and len(list((out / "wavs").glob("*.wav"))) == 4
    # Resuming keeps the wavs it made; the text files are whole again.
    assert build(corpus, out, copies=1, low=0.66, high=1.6, workers=1) == {"skipped": 2}
    assert len((out / "metadata.csv").read_text().splitlines()) == 4

    features = tmp_path / "features"
    features.mkdir()
    for item in items:
        assert process((item, out, features)) == "done"
    for item in shifted:
        with np.load(features / f"{item.id}.npz") as data:
            assert float(data["pitch_shift"]) == pytest.approx(item.pitch_shift)
            f0 = np.exp(np.median(data["log_f0"][data["voiced"]]))
        base = 90.0 if item.id.startswith("utt_000") else 100.0
        assert f0 == pytest.approx(base * item.pitch_shift, rel=0.04)
    stats = compute_stats(features)
    # The voice's own mean (90 and 100 Hz), the bins' range over the copies too.
    assert np.exp(stats.log_f0_mean) == pytest.approx(95.0, rel=0.05)
    ratios = [i.pitch_shift for i in shifted]
    lowest = min(90.0 * ratios[0], 100.0 * ratios[1], 90.0)
    highest = max(90.0 * ratios[0], 100.0 * ratios[1], 100.0)
    assert np.exp(stats.log_f0_min) == pytest.approx(lowest, rel=0.04)
    assert np.exp(stats.log_f0_max) == pytest.approx(highest, rel=0.04)

    # follow-pitch: the pitch predictor learns only from the natural utterances, and the
    # decoder hears either the recorded pitch or the prediction moved by the copy's shift.
    model = FastSpeech2(tiny_config(wave_decoder=False), stats)
    utterances = [Utterance(p, stats) for p in sorted(features.glob("*.npz"))]
    batch = collate(utterances, torch.device("cpu"))
    natural = batch["pitch_shift"] == 1.0
    assert natural.tolist() == [True, False, True, False]
    out_val, parts = teacher_forced(model, batch, "follow-pitch")  # no rng: as it speaks
    expected = ((out_val.pitch_prediction - batch["pitch"]) ** 2)[natural].mean()
    assert float(parts["pitch"].detach()) == pytest.approx(float(expected.detach()), rel=1e-4)
    offset = torch.log(batch["pitch_shift"]) / stats.log_f0_std
    moved = out_val.pitch_prediction + offset[:, None]
    keep = ~out_val.frame_mask
    torch.testing.assert_close(out_val.pitch[keep], moved[keep])
    heard = [teacher_forced(model, batch, "follow-pitch", random.Random(s))[0] for s in range(8)]
    recorded = [torch.allclose(o.pitch[keep], batch["pitch"][keep]) for o in heard]
    assert any(recorded) and not all(recorded)


def test_shift_corpus_script_reports_bad_input_in_one_line(tmp_path: Path):
    import subprocess
    import sys

    from tests.conftest import REPO

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, str(REPO / "scripts" / "shift_corpus.py"), *args],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip

    missing = run("--corpus", str(tmp_path / "nothing"), "--out", str(tmp_path / "out"))
    assert missing.returncode != 0 and "no alignments.jsonl" in missing.stderr
    assert "Traceback" not in missing.stderr and len(missing.stderr.strip().splitlines()) == 1
    corpus = voiced_corpus(tmp_path / "corpus", [100.0])
    upside_down = run("--corpus", str(corpus), "--out", str(tmp_path / "o"), "--low", "2")
    assert upside_down.returncode != 0 and "low <= high" in upside_down.stderr
    assert "Traceback" not in upside_down.stderr


def test_cwt_pitch_statistics_are_learnt_from_natural_utterances_only(tmp_path: Path):
    """In CWT mode the utterance mean and spread of a PSOLA copy are not in its text either."""
    from ttscli.lab.train.losses import losses

    corpus = voiced_corpus(tmp_path / "corpus", [90.0, 100.0])
    build(corpus, tmp_path / "shifted", copies=1, workers=1)
    features = tmp_path / "features"
    features.mkdir()
    for item in read_alignments(tmp_path / "shifted"):
        process((item, tmp_path / "shifted", features))
    stats = compute_stats(features)
    model = FastSpeech2(tiny_config(pitch_mode="cwt", wave_decoder=False), stats)
    batch = collate([Utterance(p, stats) for p in sorted(features.glob("*.npz"))], "cpu")
    out, _ = teacher_forced(model, batch, "follow-pitch")
    natural_only = {k: v[batch["pitch_shift"] == 1.0] for k, v in batch.items()}
    with torch.no_grad():
        first = losses(model, out, batch)["pitch_stats"]
        rows = batch["pitch_shift"] == 1.0
        trimmed = type(out)(**{
            name: value[rows] if isinstance(value, torch.Tensor) else value
            for name, value in vars(out).items()
        })  # fmt: skip
        expected = losses(model, trimmed, natural_only)["pitch_stats"]
    assert float(first) == pytest.approx(float(expected), rel=1e-5)
