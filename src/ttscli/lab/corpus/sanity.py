"""The plausibility check on each teacher utterance: a glitch is skipped and logged,
never taught to the student."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ttscli.audio.dsp import MelSpec
from ttscli.text.symbols import PAUSE_SYMBOLS

MIN_PHONE_FRAMES = 1
"""Every spoken ARPAbet phoneme needs at least one frame, or FS2 is taught to drop it.
(Piper gives every id at least one frame, so a phoneme gets >= 2; pauses may have 0.)"""
MAX_PHONE_SECONDS = 1.0
"""A single phoneme held this long is a teacher glitch (stuck vowel), not speech."""
MAX_PAUSE_SECONDS = 3.0
PHONES_PER_SECOND = (5.0, 30.0)
"""Plausible overall rate; LJSpeech reads at about 13-15 phonemes per second."""
MIN_PEAK = 0.02
MAX_CLIPPED_FRACTION = 0.001
MAX_SKIPPED_SHARE = 0.5
"""Stop the run when this share of its lines (and at least 10) is skipped: that is a bug or
a broken install, not odd sentences, and every skip would otherwise be logged as final."""


class SanityError(ValueError):
    """The teacher's output is implausible: skip the utterance."""


def check_utterance(symbols: Sequence[str], durations: Sequence[int], audio: np.ndarray) -> None:
    """Reject glitches rather than teach them: silent or clipped audio, a spoken phoneme with
    no frame, a phoneme or pause held far too long, an implausible speaking rate."""
    spec = MelSpec()
    seconds_per_frame = spec.hop_length / spec.sample_rate
    if not np.all(np.isfinite(audio)):
        raise SanityError("non-finite audio")
    peak = float(np.max(np.abs(audio))) if len(audio) else 0.0
    if peak < MIN_PEAK:
        raise SanityError(f"near-silent audio (peak {peak:.4f})")
    clipped = float(np.mean(np.abs(audio) >= 1.0))
    if clipped > MAX_CLIPPED_FRACTION:
        raise SanityError(f"{clipped:.2%} of samples clipped")
    for symbol, frames in zip(symbols, durations, strict=True):
        pause = symbol in PAUSE_SYMBOLS
        if not pause and frames < MIN_PHONE_FRAMES:
            raise SanityError(f"{symbol} has {frames} frames")
        limit = MAX_PAUSE_SECONDS if pause else MAX_PHONE_SECONDS
        if frames * seconds_per_frame > limit:
            raise SanityError(f"{symbol} lasts {frames * seconds_per_frame:.2f} s")
    seconds = sum(durations) * seconds_per_frame
    phones = sum(symbol not in PAUSE_SYMBOLS for symbol in symbols)
    rate = phones / seconds if seconds else float("inf")
    if not PHONES_PER_SECOND[0] <= rate <= PHONES_PER_SECOND[1]:
        raise SanityError(f"{rate:.1f} phonemes per second")
