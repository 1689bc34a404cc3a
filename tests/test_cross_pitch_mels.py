"""Vocoder windows that carry a pitch partner's mel (``train_fs2s.py --cross-pitch-mels``):
a recording and its PSOLA copy are paired, and a window takes its mel from the partner
while its F0 and target audio stay its own, at the same frames."""

from __future__ import annotations

import math
import random
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from tests.fs2_fixture import make_tiny_model
from ttscli.lab.train.data import Utterance
from ttscli.lab.train.fs2s import MARGIN, pitch_partners, windows

FRAMES = 80


def write_utterance(
    folder: Path, uid: str, log_f0: float, seed: int, frames: int = FRAMES, shift: float = 1.0
):
    """Features as preprocess_fs2.py writes them, with the PSOLA shift (1 for a recording)."""
    rng = np.random.default_rng(seed)
    np.savez(
        folder / f"{uid}.npz",
        phonemes=np.arange(4, dtype=np.int64),
        durations=np.full(4, frames // 4, dtype=np.int64),
        mel=rng.standard_normal((frames, 80)).astype(np.float16),
        log_f0=np.full(frames, log_f0, dtype=np.float32),
        energy=np.zeros(frames, dtype=np.float32),
        pitch_shift=np.float32(shift),
    )


def test_partners_pair_each_recording_with_its_copy(tmp_path: Path) -> None:
    model = make_tiny_model()
    stats = model.variance_adaptor.stats
    write_utterance(tmp_path, "joe_00001", math.log(90.0), 1)
    write_utterance(tmp_path, "joe_00001_p0700", math.log(63.0), 2, shift=0.7)
    write_utterance(tmp_path, "joe_00002", math.log(90.0), 3)  # no copy
    write_utterance(tmp_path, "joe_00003_p1500", math.log(135.0), 4, shift=1.5)  # no original
    write_utterance(tmp_path, "joe_00004", math.log(90.0), 5)
    write_utterance(tmp_path, "joe_00004_p1200", math.log(108.0), 6, FRAMES - 4, shift=1.2)
    items = [Utterance(p, stats) for p in sorted(tmp_path.glob("*.npz"))]
    partners = pitch_partners(items)
    assert {uid: item.uid for uid, item in partners.items()} == {
        "joe_00001": "joe_00001_p0700",
        "joe_00001_p0700": "joe_00001",
    }  # a copy whose frames differ from its original's is no partner

    hop = model.config.audio.hop_length
    wavs = tmp_path / "corpus" / "wavs"
    wavs.mkdir(parents=True)
    for item in items:
        tone = np.sin(np.arange(item.frames * hop) * 0.01 * (1 + len(item.uid)))
        sf.write(str(wavs / f"{item.uid}.wav"), tone.astype(np.float32), 22050)
    copy = next(i for i in items if i.uid == "joe_00001_p0700")
    natural = partners[copy.uid]
    batch = windows(model, [copy], tmp_path / "corpus", 8, random.Random(0), None, True, [natural])
    same = windows(model, [copy], tmp_path / "corpus", 8, random.Random(0), None, True)
    assert batch.mel is not None and same.mel is not None
    size = 8 + 2 * MARGIN
    start = next(
        s
        for s in range(FRAMES - size + 1)
        if torch.equal(same.mel[0], copy.mel[s : s + size].float())
    )
    assert torch.equal(batch.mel[0], natural.mel[start : start + size].float())
    assert torch.equal(batch.log_f0, same.log_f0)  # the copy's F0 ...
    assert torch.equal(batch.audio, same.audio)  # ... and the copy's audio
    assert math.isclose(float(batch.log_f0.mean()), math.log(63.0), rel_tol=1e-4)
