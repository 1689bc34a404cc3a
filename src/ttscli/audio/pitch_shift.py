"""Raise or lower the pitch of speech that was spoken ``ratio`` times slower.

A voice whose decoder or vocoder does not follow the FastSpeech 2 pitch embedding can
still obey ``--pitch``: the model speaks ``ratio`` times slower (its duration control, so
the voice stays natural), then playing that back ``ratio`` times faster restores the length
and multiplies every frequency, F0 included, by ``ratio``. Playback speed also moves the
formants (the "chipmunk" effect), so the spectral envelope is moved back: each STFT frame is
multiplied by the ratio of the unshifted envelope to the shifted one. Both envelopes come
from the same frame (the shifted one read at ``f * ratio``), so no second analysis of the
original is needed.

Torch only (FFT resampling, cepstral envelopes): no compiled vocoder dependency.
"""

from __future__ import annotations

import numpy as np
import torch

N_FFT = 1024
HOP = 256
# Real-cepstrum lifter: keeps quefrencies below 1.8 ms, i.e. envelope detail coarser than
# ~550 Hz: smooth enough to ignore the harmonics of a speaking voice even at --pitch 2, fine
# enough for the formants. The lifter and the gain limit were chosen by WER and DNSMOS at
# --pitch 1.5 against no envelope correction and narrower lifters (see CHANGELOG.md).
LIFTER_SECONDS = 0.0018
MAX_GAIN_DB = 24.0


def resample_by_fft(audio: torch.Tensor, length: int) -> torch.Tensor:
    """Band-limited resampling of a whole utterance to ``length`` samples.

    Truncating or zero-padding the spectrum is exact for a periodic signal; utterances
    begin and end in silence, so the implied wrap-around is inaudible.
    """
    n = audio.shape[-1]
    spectrum = torch.fft.rfft(audio.double())
    bins = length // 2 + 1
    out = torch.zeros(bins, dtype=spectrum.dtype, device=audio.device)
    keep = min(bins, spectrum.shape[-1])
    out[:keep] = spectrum[:keep]
    if length < n and length % 2 == 0:
        # The new Nyquist bin must be real, or irfft would drop half of it silently.
        out[-1] = out[-1].real.item()
    return (torch.fft.irfft(out, n=length) * (length / n)).to(audio.dtype)


def log_envelope(log_magnitude: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """Smooth log spectral envelope of each frame (frequency on the last axis)."""
    cepstrum = torch.fft.irfft(log_magnitude, n=N_FFT)
    cut = max(2, round(LIFTER_SECONDS * sample_rate))
    lifter = torch.zeros(N_FFT, dtype=cepstrum.dtype, device=cepstrum.device)
    lifter[:cut] = 1.0
    lifter[N_FFT - cut + 1 :] = 1.0
    return torch.fft.rfft(cepstrum * lifter).real


def restore_envelope(audio: torch.Tensor, ratio: float, sample_rate: int) -> torch.Tensor:
    """Undo the formant shift of speech whose frequencies were all multiplied by ``ratio``."""
    window = torch.hann_window(N_FFT, dtype=audio.dtype, device=audio.device)
    spectrum = torch.stft(audio, N_FFT, HOP, window=window, return_complex=True, center=True)
    log_magnitude = torch.log(spectrum.abs().clamp(min=1e-7)).transpose(0, 1)
    bins = log_magnitude.shape[-1]
    if ratio < 1.0:
        # Above ratio * Nyquist the slowed-down audio is empty; hold the last level there so
        # the liftering does not ring across the whole band from that cliff.
        edge = max(1, int(ratio * (bins - 1)) - 1)
        log_magnitude[:, edge:] = log_magnitude[:, edge - 1 : edge]
    shifted = log_envelope(log_magnitude, sample_rate)  # (frames, bins)
    # Envelope of the unshifted voice at f = envelope of the shifted voice at f * ratio;
    # beyond the band (ratio > 1) the top value is held.
    where = (torch.arange(bins, dtype=audio.dtype, device=audio.device) * ratio).clamp(max=bins - 1)
    low = where.floor().long()
    high = (low + 1).clamp(max=bins - 1)
    frac = where - low
    original = shifted[:, low] * (1 - frac) + shifted[:, high] * frac
    limit = MAX_GAIN_DB / 20 * np.log(10)
    gain = torch.exp((original - shifted).clamp(-limit, limit)).transpose(0, 1)
    return torch.istft(
        spectrum * gain, N_FFT, HOP, window=window, center=True, length=audio.shape[-1]
    )


def shift_pitch_of_slowed(audio: np.ndarray, ratio: float, sample_rate: int) -> np.ndarray:
    """Audio spoken ``ratio`` times slower -> normal length, F0 times ``ratio``, same formants."""
    if ratio == 1.0 or len(audio) < N_FFT:
        return audio
    wave = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))
    faster = resample_by_fft(wave, max(N_FFT, round(len(audio) / ratio)))
    restored = restore_envelope(faster, ratio, sample_rate)
    return restored.clamp(-1, 1).numpy().astype(np.float32)


def resample_track(track: np.ndarray, frames: int) -> np.ndarray:
    """A per-frame track (pitch, energy, mel rows) stretched to ``frames`` frames."""
    if len(track) == frames or len(track) == 0:
        return track
    source = np.linspace(0.0, 1.0, num=len(track))
    target = np.linspace(0.0, 1.0, num=frames)
    if track.ndim == 1:
        return np.interp(target, source, track).astype(track.dtype)
    columns = [np.interp(target, source, track[:, c]) for c in range(track.shape[1])]
    return np.stack(columns, axis=1).astype(track.dtype)
