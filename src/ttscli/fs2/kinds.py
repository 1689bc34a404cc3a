"""What a FastSpeech 2 run is asked for (which decoder, the prosody scales), kept apart from
the networks so that it can be named without importing torch; the limits of the scales are
in ``ttscli.fs2.limits``."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class ModelKind(str, Enum):
    auto = "auto"
    """FS2s where the voice has a waveform decoder and no other vocoder is asked for, else
    fs2: the waveform decoder skips the mel, where a voice loses words."""
    fs2 = "fs2"
    """Mel decoder, then the checkpoint's vocoder."""
    fs2s = "fs2s"
    """FastSpeech 2s: a waveform decoder on the hidden states, no mel in between."""


class Precision(str, Enum):
    auto = "auto"
    """bfloat16 for the FS2s waveform decoder on a CPU that multiplies it in hardware (Intel
    AMX), else float32."""
    float32 = "float32"
    """Everything in float32: the same samples on every machine, up to float rounding."""
    bfloat16 = "bfloat16"
    """The vocoder (or FS2s waveform decoder) in bfloat16; the acoustic model, and so every
    duration, pitch and energy, stays float32."""


def resolve_kind(kind: ModelKind, has_wave_decoder: bool, vocoder: str) -> ModelKind:
    """The decoder a run uses: ``auto`` picks the waveform decoder when the voice has one and
    the vocoder is left to the voice; naming a vocoder means the mel path."""
    if kind is not ModelKind.auto:
        return kind
    return ModelKind.fs2s if has_wave_decoder and vocoder == "auto" else ModelKind.fs2


@dataclass(frozen=True)
class Controls:
    """User prosody scales: F0 in Hz, frame energy, and phoneme durations multiply; and the
    silence the engine puts between sentences and between paragraphs (seconds)."""

    pitch: float = 1.0
    energy: float = 1.0
    duration: float = 1.0
    sentence_silence: float = 0.0
    paragraph_silence: float = 0.0
