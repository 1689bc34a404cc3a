"""F0 tracks one value per analysis frame, from trackers checked against each other.

WORLD DIO (+ StoneMask), which the first features used, reads this project's low male voice
an octave high on most voiced frames, and Harvest on a fifth to a half of them; Praat's
autocorrelation method (Boersma 1993, through ``praat-parselmouth``) and probabilistic YIN
(Mauch & Dixon 2014, through ``librosa``) agree with each other within 5 % on about nine
voiced frames in ten. Praat is the one we extract features and judge ``--pitch`` with,
because it is also about a hundred times faster than pYIN; pYIN is the independent second
opinion (``scripts/check_f0.py``). Both are optional imports: the synthesiser never needs F0.

Frame ``k`` of a track is centred on sample ``k * hop``, like the mel frames (``center=True``
STFT), and 0 marks an unvoiced frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ttscli.errors import UserError

F0_FLOOR = 50.0
"""Low enough for creaky phrase ends of a low male voice (Praat's window is 3 / floor)."""
F0_CEILING = 600.0


@dataclass(frozen=True)
class Agreement:
    """How two tracks of the same audio compare on the frames both call voiced."""

    both_voiced: int
    within: float
    """Share of those frames where the two F0s differ by at most the tolerance."""
    octave_up: float
    """Share where the second reads about twice the first (0.85x-1.15x of double)."""
    octave_down: float


def _need(module: str, package: str):  # type: ignore[no-untyped-def]
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise UserError(
            f"F0 tracking needs {package}: pip install 'ttscli[train]' (or {package})"
        ) from None


def frame_count(samples: int, hop: int) -> int:
    return samples // hop


def fit_frames(track: np.ndarray, frames: int) -> np.ndarray:
    """A tracker's values cut or zero-padded (unvoiced) to exactly ``frames``, as float32."""
    return np.pad(track, (0, max(0, frames - len(track))))[:frames].astype(np.float32)


def praat_f0(
    audio: np.ndarray,
    rate: int,
    hop: int,
    floor: float = F0_FLOOR,
    ceiling: float = F0_CEILING,
    frames: int | None = None,
) -> np.ndarray:
    """Praat's autocorrelation pitch (``To Pitch (ac)``, its default costs) sampled at the
    frame centres; float32 Hz, 0 where unvoiced."""
    parselmouth = _need("parselmouth", "praat-parselmouth")
    frames = frame_count(len(audio), hop) if frames is None else frames
    sound = parselmouth.Sound(np.asarray(audio, dtype=np.float64), sampling_frequency=rate)
    pitch = sound.to_pitch_ac(time_step=hop / rate, pitch_floor=floor, pitch_ceiling=ceiling)
    values = pitch.selected_array["frequency"]  # 0 where unvoiced
    # Praat's frame i is centred at xs()[i]; take the nearest one to each of our centres,
    # never interpolating across a voiced/unvoiced boundary.
    centres = np.arange(frames) * hop / rate
    xs = pitch.xs()
    if len(xs) == 0:
        return np.zeros(frames, dtype=np.float32)
    nearest = np.clip(np.round((centres - xs[0]) / (hop / rate)).astype(int), 0, len(xs) - 1)
    track = values[nearest]
    outside = (centres < xs[0] - hop / rate) | (centres > xs[-1] + hop / rate)
    track[outside] = 0.0
    return track.astype(np.float32)


def pyin_f0(
    audio: np.ndarray,
    rate: int,
    hop: int,
    floor: float = F0_FLOOR,
    ceiling: float = F0_CEILING,
    frames: int | None = None,
) -> np.ndarray:
    """Probabilistic YIN (librosa) at the frame centres; float32 Hz, 0 where unvoiced."""
    librosa = _need("librosa", "librosa")
    frames = frame_count(len(audio), hop) if frames is None else frames
    f0, voiced, _ = librosa.pyin(
        np.asarray(audio, dtype=np.float64),
        fmin=floor,
        fmax=ceiling,
        sr=rate,
        frame_length=2048,
        hop_length=hop,
        center=True,
    )
    return fit_frames(np.where(voiced, np.nan_to_num(f0), 0.0), frames)


def agreement(first: np.ndarray, second: np.ndarray, tolerance: float = 0.05) -> Agreement:
    n = min(len(first), len(second))
    a, b = first[:n], second[:n]
    both = (a > 0) & (b > 0)
    if not both.any():
        return Agreement(0, 0.0, 0.0, 0.0)
    ratio = b[both] / a[both]
    return Agreement(
        both_voiced=int(both.sum()),
        within=float(np.mean(np.abs(ratio - 1.0) <= tolerance)),
        octave_up=float(np.mean(np.abs(ratio / 2.0 - 1.0) <= 0.15)),
        octave_down=float(np.mean(np.abs(ratio * 2.0 - 1.0) <= 0.15)),
    )


def continuous_log_f0(track: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Natural-log F0 interpolated over unvoiced frames (what the pitch predictor learns),
    and the voiced mask."""
    voiced = track > 0
    out = np.zeros(len(track), dtype=np.float32)
    if voiced.sum() >= 2:
        index = np.arange(len(track))
        out = np.interp(index, index[voiced], np.log(track[voiced])).astype(np.float32)
    elif voiced.any():
        out[:] = np.log(track[voiced][0])
    return out, voiced
