"""The DSP behind ``pitch_control = "resample"``: F0 moves, length and formants stay."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.pitch_measure import median_f0
from ttscli.audio.pitch_shift import (
    resample_by_fft,
    resample_track,
    restore_envelope,
    shift_pitch_of_slowed,
)

RATE = 22050


def peak_hz(audio: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    return float(np.argmax(spectrum) * RATE / len(audio))


def vowel(f0: float, seconds: float, formant: float = 900.0) -> np.ndarray:
    """A harmonic source through one resonance: the spectral peak sits at the formant."""
    t = np.arange(int(seconds * RATE)) / RATE
    harmonics = np.arange(1, int(RATE / 2 / f0))
    weights = 0.1 + np.exp(-0.5 * ((harmonics * f0 - formant) / 300.0) ** 2)
    wave = (weights[:, None] * np.sin(2 * np.pi * f0 * harmonics[:, None] * t)).sum(0)
    return (0.5 * wave / np.abs(wave).max()).astype(np.float32)


def formant_hz(audio: np.ndarray) -> float:
    """Centre of mass of the spectrum below 3 kHz: follows the envelope, not single harmonics."""
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio)))) ** 2
    freqs = np.fft.rfftfreq(len(audio), 1 / RATE)
    band = freqs < 3000
    return float((spectrum[band] * freqs[band]).sum() / spectrum[band].sum())


def test_fft_resampling_to_fewer_samples_raises_a_tone() -> None:
    tone = np.sin(2 * np.pi * 440 * np.arange(RATE) / RATE).astype(np.float32)
    faster = resample_by_fft(torch.from_numpy(tone), int(RATE / 1.5)).numpy()
    assert peak_hz(faster) == pytest.approx(660, abs=3)
    assert np.abs(faster).max() == pytest.approx(1.0, abs=0.02)


@pytest.mark.parametrize("ratio", [1.5, 0.8])
def test_shift_of_slowed_speech_moves_f0_and_keeps_the_formant(ratio: float) -> None:
    slowed = vowel(120.0, 1.0 * ratio)
    shifted = shift_pitch_of_slowed(slowed, ratio, RATE)
    assert len(shifted) == round(len(slowed) / ratio)
    assert median_f0(shifted, RATE) == pytest.approx(120.0 * ratio, rel=0.03)
    chipmunk = resample_by_fft(torch.from_numpy(slowed), len(shifted)).numpy()
    assert abs(formant_hz(chipmunk) - 900 * ratio) < abs(formant_hz(chipmunk) - 900)
    assert formant_hz(shifted) == pytest.approx(900, rel=0.12)


def test_restore_envelope_is_identity_at_ratio_one() -> None:
    audio = torch.from_numpy(vowel(150.0, 0.5))
    assert torch.allclose(restore_envelope(audio, 1.0, RATE), audio, atol=1e-4)


def test_resample_track_stretches_frames_and_mel_rows() -> None:
    assert resample_track(np.array([0.0, 1.0], dtype=np.float32), 3).tolist() == [0, 0.5, 1]
    mel = np.arange(8, dtype=np.float32).reshape(4, 2)
    assert resample_track(mel, 7).shape == (7, 2)
