"""Training data for FastSpeech 2: preprocessed utterances, length-bucketed batches."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import torch

from ttscli.fs2.config import ProsodyStats


class Utterance:
    __slots__ = ("durations", "energy", "mel", "phonemes", "pitch", "pitch_shift", "uid")

    def __init__(self, path: Path, stats: ProsodyStats) -> None:
        with np.load(path) as data:
            self.uid = path.stem
            self.phonemes = torch.from_numpy(data["phonemes"])
            self.durations = torch.from_numpy(data["durations"])
            self.mel = torch.from_numpy(data["mel"])  # fp16 (frames, n_mels)
            pitch = (data["log_f0"] - stats.log_f0_mean) / stats.log_f0_std
            self.pitch = torch.from_numpy(pitch.astype(np.float32))
            energy = (data["energy"] - stats.energy_mean) / stats.energy_std
            self.energy = torch.from_numpy(energy.astype(np.float32))
            # A PSOLA copy (scripts/shift_corpus.py) moved this far from the voice's pitch.
            self.pitch_shift = float(data["pitch_shift"]) if "pitch_shift" in data else 1.0

    @property
    def frames(self) -> int:
        return len(self.mel)


def pad(tensors: list[torch.Tensor]) -> torch.Tensor:
    return torch.nn.utils.rnn.pad_sequence(tensors, batch_first=True)


def batches(items: list[Utterance], max_frames: int, rng: random.Random) -> list[list[Utterance]]:
    """Length-bucketed batches holding at most ``max_frames`` padded frames each."""
    ordered = sorted(items, key=lambda u: len(u.mel) + rng.random() * 40)
    out, current, longest = [], [], 0
    for item in ordered:
        longest_if_added = max(longest, len(item.mel))
        if current and longest_if_added * (len(current) + 1) > max_frames:
            out.append(current)
            current, longest_if_added = [], len(item.mel)
        current.append(item)
        longest = longest_if_added
    if current:
        out.append(current)
    rng.shuffle(out)
    return out


def collate(group: list[Utterance], device: torch.device) -> dict[str, torch.Tensor]:
    return {
        "phonemes": pad([u.phonemes for u in group]).to(device),
        "phoneme_lengths": torch.tensor([len(u.phonemes) for u in group], device=device),
        "durations": pad([u.durations for u in group]).to(device),
        "mel": pad([u.mel.float() for u in group]).to(device),
        "pitch": pad([u.pitch for u in group]).to(device),
        "energy": pad([u.energy for u in group]).to(device),
        "pitch_shift": torch.tensor([u.pitch_shift for u in group], device=device),
    }
