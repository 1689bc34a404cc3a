"""The phoneme listener that ``train-fs2s --phone-loss`` fine-tunes against: its classes,
its frame labels, and its folder format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ttscli.fs2.config import ProsodyStats
from ttscli.lab.train.data import Utterance
from ttscli.lab.train.listener import (
    SILENCE,
    Listener,
    frame_labels,
    frozen_listener,
    new_listener,
    phoneme_classes,
)
from ttscli.text.symbols import SYMBOLS

STATS = ProsodyStats(4.5, 0.2, 4.0, 5.2, 10.0, 5.0, 0.0, 50.0)


def utterance(folder: Path, phonemes: list[str], durations: list[int], frames: int) -> Utterance:
    path = folder / "u.npz"
    np.savez(
        path,
        phonemes=np.array([SYMBOLS.index(p) for p in phonemes], dtype=np.int64),
        durations=np.array(durations, dtype=np.int64),
        mel=np.random.default_rng(0).normal(-5, 2, (frames, 80)).astype(np.float16),
        log_f0=np.full(frames, 4.5, dtype=np.float32),
        energy=np.full(frames, 10.0, dtype=np.float32),
    )
    return Utterance(path, STATS)


def test_classes_ignore_stress_and_pool_every_pause() -> None:
    classes, class_of = phoneme_classes(SYMBOLS)
    assert len(classes) == 40 and classes[-1] == SILENCE  # 39 ARPAbet phonemes and silence
    assert len({class_of[SYMBOLS.index(s)] for s in ("AA0", "AA1", "AA2")}) == 1
    assert {class_of[SYMBOLS.index(s)] for s in ("_", "sp", ".", "?", "!")} == {39}
    assert class_of[SYMBOLS.index("AA1")] != class_of[SYMBOLS.index("AE1")]


def test_every_frame_is_labelled_with_the_phoneme_its_duration_puts_there(tmp_path: Path):
    item = utterance(tmp_path, ["HH", "AH0", "L", "OW1", "."], [2, 1, 3, 2, 1], frames=10)
    classes, class_of = phoneme_classes(SYMBOLS)
    labels = [classes[i] for i in frame_labels(item, torch.tensor(class_of))]
    # The last frame, past the durations' sum, is padding: silence.
    assert labels == ["HH", "HH", "AH", "L", "L", "L", "OW", "OW", SILENCE, SILENCE]


def test_a_saved_listener_loads_frozen_and_hears_the_same(tmp_path: Path) -> None:
    item = utterance(tmp_path, ["HH", "AH0"], [5, 5], frames=10)
    listener = new_listener([item], SYMBOLS, channels=8)
    listener.save(tmp_path / "listener")
    loaded = frozen_listener(tmp_path / "listener")
    mel = item.mel.float().T[None]
    with torch.no_grad():
        expected = listener.eval()(mel)
    assert torch.equal(loaded(mel), expected) and expected.shape == (1, 40, 10)
    assert not any(p.requires_grad for p in loaded.parameters()) and not loaded.training
    assert isinstance(loaded, Listener) and loaded.config == listener.config
