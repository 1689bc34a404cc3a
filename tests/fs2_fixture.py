"""A tiny FastSpeech 2 / 2s checkpoint in the real on-disk format, built by the tests.

Weights are random except the duration predictor's output bias, which is set so every
phoneme lasts about five frames: durations then behave like a trained model's, and
``--duration`` can be checked by measuring the audio.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from ttscli.fs2.checkpoint import save_checkpoint
from ttscli.fs2.config import ProsodyStats
from ttscli.fs2.model import FastSpeech2
from ttscli.lab.train.presets import tiny_config

__all__ = ["FRAMES_PER_PHONEME", "TINY_STATS", "make_tiny_checkpoint", "tiny_config"]

FRAMES_PER_PHONEME = 5

TINY_STATS = ProsodyStats(
    log_f0_mean=math.log(180.0),
    log_f0_std=0.2,
    log_f0_min=math.log(70.0),
    log_f0_max=math.log(500.0),
    energy_mean=20.0,
    energy_std=10.0,
    energy_min=0.0,
    energy_max=80.0,
)


def make_tiny_model(pitch_mode: str = "frame", wave_decoder: bool = True) -> FastSpeech2:
    torch.manual_seed(0)
    model = FastSpeech2(tiny_config(pitch_mode, wave_decoder), TINY_STATS)
    predictor = model.variance_adaptor.duration_predictor.linear
    with torch.no_grad():
        predictor.weight.mul_(0.01)
        predictor.bias.fill_(math.log(FRAMES_PER_PHONEME + 1))
    return model.eval()


def make_tiny_checkpoint(directory: Path, pitch_mode: str = "frame") -> Path:
    save_checkpoint(make_tiny_model(pitch_mode), directory)
    return directory
