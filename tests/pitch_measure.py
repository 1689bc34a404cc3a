"""F0 measured on a waveform by Praat's autocorrelation tracker (``ttscli.audio.f0``, the
tracker checked against pYIN and on synthetic octave traps): the judge of --pitch, the same
one ``scripts/evaluate.py --pitch`` reports with."""

from __future__ import annotations

import numpy as np
import pytest

from ttscli.audio.f0 import speech_f0

pytest.importorskip("parselmouth")


def median_f0(audio: np.ndarray, rate: int) -> float:
    """Median F0 of the voiced speech frames (within 20 dB of the loudest)."""
    voiced = speech_f0(audio, rate)
    assert len(voiced) > 30, "too few voiced frames to measure pitch"
    return float(np.median(voiced))
