"""Which FastSpeech 2 output path speaks: kept apart from the networks so that the CLI can
offer the choice without importing torch."""

from __future__ import annotations

from enum import Enum


class ModelKind(str, Enum):
    fs2 = "fs2"
    """Mel decoder, then the checkpoint's vocoder."""
    fs2s = "fs2s"
    """FastSpeech 2s: a waveform decoder on the hidden states, no mel in between."""
