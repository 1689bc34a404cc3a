"""The phoneme listener that ``train-fs2s --phone-loss`` fine-tunes against: its classes,
its frame labels, and its folder format."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from ttscli.audio.dsp import log_mel
from ttscli.fs2.config import MelSpec, ProsodyStats
from ttscli.lab.train.data import Utterance
from ttscli.lab.train.fs2s import MARGIN, Windows, phone_loss
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


def listener_and_trainee(tmp_path: Path, target: str) -> tuple[Listener, SimpleNamespace]:
    """A small frozen listener, and the parts of a trainee ``phone_loss`` reads."""
    item = utterance(tmp_path, ["HH", "AH0"], [20, 20], frames=40)
    listener = new_listener([item], SYMBOLS, channels=8).eval().requires_grad_(False)
    trainee = SimpleNamespace(
        model=SimpleNamespace(config=SimpleNamespace(audio=MelSpec())),
        args=SimpleNamespace(phone_target=target),
    )
    return listener, trainee


def test_the_recording_target_asks_for_what_the_recording_gives_and_no_more(tmp_path: Path):
    """``--phone-target recording``: a decoder that reproduces the recording owes the
    listener nothing, one that does not owes a positive KL; ``phonemes`` always asks for
    certainty, so even the recording owes a cross-entropy."""
    listener, trainee = listener_and_trainee(tmp_path, "recording")
    hop = trainee.model.config.audio.hop_length
    recording = torch.randn(2, 40 * hop, generator=torch.Generator().manual_seed(0)) * 0.1
    symbols = torch.tensor([SYMBOLS.index("HH")] * 20 + [SYMBOLS.index("AH0")] * 20)
    batch = Windows(None, torch.zeros(2, 40), recording, symbols=symbols.repeat(2, 1))
    assert float(phone_loss(trainee, listener, recording, batch)) == pytest.approx(0, abs=1e-6)
    assert float(phone_loss(trainee, listener, recording.flip(1), batch)) > 1e-4
    trainee.args.phone_target = "phonemes"
    assert float(phone_loss(trainee, listener, recording, batch)) > 0.1


def test_the_agreed_target_teaches_only_the_frames_where_the_recording_is_heard_right(
    tmp_path: Path,
) -> None:
    """``--phone-target agreed``: the cross-entropy of the decoder's output, over exactly
    the frames where the listener hears the recording as the phoneme placed there."""
    listener, trainee = listener_and_trainee(tmp_path, "agreed")
    audio = trainee.model.config.audio
    hop, frames = audio.hop_length, 40 - 2 * MARGIN
    noise = torch.Generator().manual_seed(1)
    recording = torch.randn(1, 40 * hop, generator=noise) * 0.1
    decoded = torch.randn(1, 40 * hop, generator=noise) * 0.1
    with torch.no_grad():
        heard = listener(log_mel(recording, audio))[0].argmax(0)
    # Every other frame is labelled as heard, the rest as some other class.
    symbol_of = {int(c): i for i, c in enumerate(listener.class_of.tolist())}
    wrong = [(int(c) + 1) % 40 for c in heard]
    classes = [int(c) if i % 2 == 0 else wrong[i] for i, c in enumerate(heard)]
    symbols = torch.tensor([[symbol_of[c] for c in classes]])
    batch = Windows(None, torch.zeros(1, 40), recording, symbols=symbols)
    centre = range(MARGIN, MARGIN + frames)
    kept = [i for i in centre if i % 2 == 0]
    with torch.no_grad():
        logits = listener(log_mel(decoded, audio))[0]
    expected = torch.nn.functional.cross_entropy(
        logits[:, kept].T, torch.tensor([classes[i] for i in kept])
    )
    assert float(phone_loss(trainee, listener, decoded, batch)) == pytest.approx(float(expected))
