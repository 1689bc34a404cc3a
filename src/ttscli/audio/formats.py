"""Output file formats chosen by extension, and conversion to 16-bit PCM."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ttscli.util.errors import UserError

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
    """Little-endian signed 16-bit bytes, clipping instead of wrapping around.

    The same rule libsndfile applies when it writes a 16-bit file (scale by 32768, round
    down, clip), so ``--out -``, a server's PCM and a ``.wav`` hold identical samples, and
    ``int16 / 32768`` gets the exact float back.
    """
    scaled = np.floor(np.asarray(chunk, dtype=np.float64) * 32768.0)
    return np.clip(scaled, -32768, 32767).astype("<i2").tobytes()
