"""F0 measured on a waveform by Praat's autocorrelation tracker (``ttscli.audio.f0``, the
tracker checked against pYIN and on synthetic octave traps): the judge of --pitch."""

from __future__ import annotations

import numpy as np
import pytest

from ttscli.audio.f0 import praat_f0

pytest.importorskip("parselmouth")

HOP = 256
SPEECH_LEVEL_DB = 20.0
"""Frames more than this far below the loudest one are not counted: a listener hears the
pitch of the speech, not of the vocoder's low-level noise in pauses and closures."""


def median_f0(audio: np.ndarray, rate: int) -> float:
    """Median F0 of the voiced frames within SPEECH_LEVEL_DB of the loudest frame."""
    x = audio.astype(np.float64)
    f0 = praat_f0(x, rate, HOP)
    centres = np.arange(len(f0)) * HOP
    half = 512  # a 1024-sample window around each frame centre
    power = [np.mean(x[max(0, c - half) : c + half] ** 2) + 1e-12 for c in centres]
    level_db = 10 * np.log10(np.array(power))
    voiced = f0[(f0 > 0) & (level_db > level_db.max() - SPEECH_LEVEL_DB)]
    assert len(voiced) > 30, "too few voiced frames to measure pitch"
    return float(np.median(voiced))
