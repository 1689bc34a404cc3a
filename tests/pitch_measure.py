"""F0 measured on a waveform with WORLD (DIO + StoneMask): an independent judge of --pitch."""

from __future__ import annotations

import numpy as np
import pytest

pyworld = pytest.importorskip("pyworld")


def median_f0(audio: np.ndarray, rate: int) -> float:
    """Median F0 of the voiced frames."""
    x = audio.astype(np.float64)
    f0, t = pyworld.dio(x, rate, f0_floor=60.0, f0_ceil=800.0)
    f0 = pyworld.stonemask(x, f0, t, rate)
    voiced = f0[f0 > 0]
    assert len(voiced) > 50, "too few voiced frames to measure pitch"
    return float(np.median(voiced))
