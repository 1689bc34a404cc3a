"""What a FastSpeech 2 run is asked for (output path, prosody scales), kept apart from the
networks so that the CLI and a server client can check it without importing torch."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

from ttscli.util.errors import UserError


class ModelKind(str, Enum):
    fs2 = "fs2"
    """Mel decoder, then the checkpoint's vocoder."""
    fs2s = "fs2s"
    """FastSpeech 2s: a waveform decoder on the hidden states, no mel in between."""


@dataclass(frozen=True)
class Controls:
    """User prosody scales: F0 in Hz, frame energy, and phoneme durations multiply."""

    pitch: float = 1.0
    energy: float = 1.0
    duration: float = 1.0


def check_controls(controls: Controls) -> None:
    """Scales outside 0.1-10 are typos or would produce unusable audio."""
    for name in ("pitch", "energy", "duration"):
        value = getattr(controls, name)
        if not math.isfinite(value) or not 0.1 <= value <= 10.0:
            raise UserError(f"--{name} {value}: must be a number between 0.1 and 10")
