"""The limits of FastSpeech 2's per-request fields, read without loading a model: the
registry's entry states them for ``--help`` and the loaded engine enforces them."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from ttscli.engines.base import SILENCE_FIELDS, OptionField

ASSETS_DIR = Path(__file__).parent / "assets"
"""The bundled voice: weights, configs and model card, inside the package."""

SCALE_LIMITS = (0.1, 10.0)
"""Scales outside these are typos or would produce unusable audio, whatever the voice."""
RESAMPLE_PITCH_RANGE = (0.5, 2.0)
"""A voice that moves pitch by resampling speaks --pitch times slower before its audio is
sped up, so an octave each way keeps the cost (and the artefacts of moving formants back)
bounded."""
SPEED_LIMITS = (0.25, 4.0)
"""OpenAI's ``speed`` range, which the server accepts and turns into durations."""


PitchLimits = tuple[tuple[float, float], str]
"""A voice's --pitch range, and why it is that range."""


def pitch_limits_of(config: dict[str, Any]) -> PitchLimits | None:
    """The --pitch range a checkpoint's ``config.json`` (as JSON) can follow, if narrower
    than the general limits."""
    variance = config.get("variance", {})
    if variance.get("pitch_control", "embedding") == "resample":
        return RESAMPLE_PITCH_RANGE, "this voice changes pitch by resampling, which works there"
    span = variance.get("pitch_range")
    if not span:
        return None
    return (float(span[0]), float(span[1])), "this voice was trained to follow pitch there"


@cache
def bundled_pitch_range() -> tuple[float, float] | None:
    """The bundled voice's --pitch range, read from its config without loading it."""
    try:
        config = json.loads((ASSETS_DIR / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    limits = pitch_limits_of(config)
    return None if limits is None else limits[0]


def scale_fields(pitch_limits: PitchLimits | None, where: str) -> tuple[OptionField, ...]:
    """pitch, energy, duration and speed; ``pitch_limits`` narrow --pitch to what the voice
    named by ``where`` can follow."""
    (low, high), why = pitch_limits or (SCALE_LIMITS, "")
    pitch_help = "Multiply F0 (Hz); 1.5 = higher."
    if pitch_limits is not None:
        pitch_help += f" {low:g}-{high:g} for {where}."
    return (
        OptionField("pitch", "number", 1.0, pitch_help, low, high, why=why),
        OptionField("energy", "number", 1.0, "Multiply energy (loudness).", *SCALE_LIMITS),
        OptionField(
            "duration", "number", 1.0, "Multiply durations; 2.0 = twice as long.", *SCALE_LIMITS
        ),
        OptionField(
            "speed",
            "number",
            1.0,
            "Speaking rate (OpenAI's field): durations / speed.",
            *SPEED_LIMITS,
        ),
        *SILENCE_FIELDS,
    )


def request_fields() -> tuple[OptionField, ...]:
    """The general limits (any checkpoint), with the bundled voice's --pitch range in words."""
    fields = scale_fields(None, "")
    bundled = bundled_pitch_range()
    if bundled is None:
        return fields
    pitch = fields[0]
    help_text = f"{pitch.help} {bundled[0]:g}-{bundled[1]:g} for the bundled voice."
    return (OptionField(**{**pitch.__dict__, "help": help_text}), *fields[1:])
