"""What a FastSpeech 2 run is asked for (which decoder, the prosody scales), kept apart from
the networks so that it can be named without importing torch; the limits of the scales are
in ``ttscli.fs2.limits``."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class ModelKind(str, Enum):
    fs2 = "fs2"
    """Mel decoder, then the checkpoint's vocoder."""
    fs2s = "fs2s"
    """FastSpeech 2s: a waveform decoder on the hidden states, no mel in between."""


@dataclass(frozen=True)
class Controls:
    """User prosody scales: F0 in Hz, frame energy, and phoneme durations multiply; and the
    silence the engine puts between sentences and between paragraphs (seconds)."""

    pitch: float = 1.0
    energy: float = 1.0
    duration: float = 1.0
    sentence_silence: float = 0.0
    paragraph_silence: float = 0.0
