"""Output file formats chosen by extension, and conversion to 16-bit PCM."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ttscli.errors import UserError

# extension -> (libsndfile format, subtype)
FORMATS: dict[str, tuple[str, str]] = {
    "wav": ("WAV", "PCM_16"),
    "flac": ("FLAC", "PCM_16"),
    "ogg": ("OGG", "VORBIS"),
}


def format_for(path: Path) -> str:
    """The format name for ``path``'s extension, or a UserError listing the choices."""
    ext = path.suffix.lower().lstrip(".")
    if ext not in FORMATS:
        shown = path.suffix or "(none)"
        raise UserError(f"{path}: unknown audio format {shown} (use .wav, .flac or .ogg)")
    return ext


def to_pcm16(chunk: np.ndarray) -> bytes:
    """Little-endian signed 16-bit bytes, clipping instead of wrapping around."""
    scaled = np.clip(chunk, -1.0, 1.0) * 32767.0
    return np.round(scaled).astype("<i2").tobytes()
