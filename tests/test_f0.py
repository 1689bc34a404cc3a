"""The F0 tracker on signals whose F0 is known, including the traps that fooled DIO on
this project's low voice: a creaky 70 Hz pulse train, a second harmonic louder than the
fundamental, a missing fundamental."""

from __future__ import annotations

import numpy as np
import pytest

from ttscli.audio.f0 import agreement, continuous_log_f0, praat_f0

pytest.importorskip("parselmouth")

RATE, HOP = 22050, 256


def harmonics(f0: float | np.ndarray, amplitudes: dict[int, float], seconds: float = 1.5):
    """A sum of harmonics of ``f0`` (constant, or one value per sample for a glide)."""
    n = int(seconds * RATE)
    f0 = np.broadcast_to(np.asarray(f0, dtype=np.float64), (n,))
    phase = 2 * np.pi * np.cumsum(f0) / RATE
    wave = sum(a * np.sin(k * phase) for k, a in amplitudes.items())
    return (0.5 * wave / np.max(np.abs(wave))).astype(np.float32)


def voiced_median(track: np.ndarray) -> float:
    voiced = track[track > 0]
    assert len(voiced) > 0.8 * len(track) - 10, "a periodic signal should read voiced"
    return float(np.median(voiced))


def test_low_voice_with_natural_harmonics():
    wave = harmonics(80.0, {k: 1.0 / k for k in range(1, 30)})
    assert voiced_median(praat_f0(wave, RATE, HOP)) == pytest.approx(80.0, rel=0.02)


def test_creaky_pulse_train_at_70_hz():
    """Glottal-like pulses with 3 % period jitter through a 500 Hz formant."""
    rng = np.random.default_rng(0)
    wave = np.zeros(int(1.5 * RATE))
    t = 0.0
    while t < len(wave) - 1:
        wave[int(t)] = 1.0
        t += RATE / 70.0 * (1 + 0.03 * rng.standard_normal())
    radius, theta = 0.95, 2 * np.pi * 500 / RATE  # a vowel-like formant, 360 Hz wide
    out = np.zeros_like(wave)
    for i in range(2, len(wave)):
        out[i] = wave[i] + 2 * radius * np.cos(theta) * out[i - 1] - radius**2 * out[i - 2]
    out = (0.5 * out / np.abs(out).max()).astype(np.float32)
    assert voiced_median(praat_f0(out, RATE, HOP)) == pytest.approx(70.0, rel=0.05)


def test_second_harmonic_louder_than_the_fundamental():
    wave = harmonics(100.0, {1: 0.2, 2: 1.0, 3: 0.3, 4: 0.2})
    assert voiced_median(praat_f0(wave, RATE, HOP)) == pytest.approx(100.0, rel=0.03)


def test_missing_fundamental():
    wave = harmonics(90.0, {k: 1.0 / k for k in range(2, 13)})
    assert voiced_median(praat_f0(wave, RATE, HOP)) == pytest.approx(90.0, rel=0.03)


def test_glide_is_followed_frame_by_frame():
    n = int(1.5 * RATE)
    truth = np.geomspace(90.0, 180.0, n)
    wave = harmonics(truth, {k: 1.0 / k for k in range(1, 20)})
    track = praat_f0(wave, RATE, HOP)
    expected = truth[np.minimum(np.arange(len(track)) * HOP, n - 1)]
    voiced = track > 0
    assert voiced.mean() > 0.9
    assert np.mean(np.abs(track[voiced] / expected[voiced] - 1) < 0.05) > 0.95


def test_noise_and_silence_are_unvoiced_and_frames_line_up():
    rng = np.random.default_rng(1)
    noise = (0.1 * rng.standard_normal(RATE)).astype(np.float32)
    tone = harmonics(120.0, {1: 1.0, 2: 0.5, 3: 0.3}, seconds=1.0)
    wave = np.concatenate([np.zeros(RATE // 2, np.float32), noise, tone])
    track = praat_f0(wave, RATE, HOP)
    assert len(track) == len(wave) // HOP
    frame_of = lambda seconds: int(seconds * RATE / HOP)  # noqa: E731
    assert (track[: frame_of(0.45)] == 0).all()
    assert np.mean(track[frame_of(0.55) : frame_of(1.45)] > 0) < 0.1
    tone_frames = track[frame_of(1.6) : frame_of(2.4)]
    assert np.all(np.abs(tone_frames / 120.0 - 1) < 0.02)


def test_agreement_counts_octave_errors():
    truth = np.array([0, 100, 100, 100, 100, 0], dtype=np.float32)
    doubled = np.array([0, 100, 200, 201, 0, 120], dtype=np.float32)
    result = agreement(truth, doubled)
    assert result.both_voiced == 3
    assert result.within == pytest.approx(1 / 3)
    assert result.octave_up == pytest.approx(2 / 3)


def test_continuous_log_f0_bridges_unvoiced_frames():
    log_f0, voiced = continuous_log_f0(np.array([0, 100, 0, 0, 200, 0], dtype=np.float32))
    assert voiced.tolist() == [False, True, False, False, True, False]
    assert np.exp(log_f0[[0, 1, 4, 5]]).round().tolist() == [100, 100, 200, 200]
    assert 100 < np.exp(log_f0[2]) < np.exp(log_f0[3]) < 200


@pytest.mark.parametrize("ratio", [0.7, 1.5])
def test_psola_moves_f0_and_keeps_length(ratio: float):
    """The shifter behind the pitch-shifted training copies, on a voice of known F0."""
    from ttscli.audio.psola import psola_shift

    wave = harmonics(100.0, {k: 1.0 / k for k in range(1, 25)})
    wave[: RATE // 4] = 0.0  # a pause stays a pause
    shifted = psola_shift(wave, RATE, ratio)
    assert shifted.dtype == np.float32 and len(shifted) == len(wave)
    assert voiced_median(praat_f0(shifted[RATE // 4 :], RATE, HOP)) == pytest.approx(
        100.0 * ratio, rel=0.03
    )
    assert np.abs(shifted[: RATE // 8]).max() < 1e-3


@pytest.mark.parametrize("f0", [70.0, 90.0, 140.0])
def test_voice_range_pass_keeps_a_steady_voice(f0: float):
    """The second pass searches the speaker's own range; a voice inside it reads the same."""
    from ttscli.audio.f0 import voice_range_f0

    wave = harmonics(f0, {k: 1.0 / k for k in range(1, 25)})
    assert voiced_median(voice_range_f0(wave, RATE, HOP)) == pytest.approx(f0, rel=0.02)


def test_voice_range_pass_follows_a_glide():
    from ttscli.audio.f0 import voice_range_f0

    glide = np.geomspace(80.0, 160.0, int(1.5 * RATE))
    track = voice_range_f0(harmonics(glide, {k: 1.0 / k for k in range(1, 20)}), RATE, HOP)
    centres = np.arange(len(track)) * HOP
    inside = (track > 0) & (centres < len(glide))
    expected = glide[np.minimum(centres, len(glide) - 1)]
    assert inside.mean() > 0.8
    assert np.median(np.abs(track[inside] / expected[inside] - 1)) < 0.02
