"""Continuous wavelet transform of pitch contours (FastSpeech 2, section 2.3 / appendix D).

The paper decomposes the normalised log-F0 contour into a 10-scale "pitch spectrogram"
with the Mexican-hat wavelet at dyadic scales tau_i = 2^(i+1) * 5 ms, which is easier to
predict than the raw contour, and recomposes it with the inverse CWT. We discretise the
appendix's reconstruction integral over log-spaced scales (each scale weighted by
tau^(-1/2) * ln 2 / C_psi), so that summing the ten components gives back the contour
without a hand-tuned gain.
"""

from __future__ import annotations

import math

import torch

TAU0_SECONDS = 0.005
_C_PSI = math.sqrt(2 * math.pi)
"""Admissibility constant of the Mexican hat (1 - x^2) exp(-x^2 / 2): integral of
psi_hat(u) / u over u > 0."""


def scales_in_frames(n_scales: int, frame_seconds: float) -> torch.Tensor:
    """The paper's dyadic scales, tau_i = 2^(i+1) tau0 for i = 1..n, in frames."""
    i = torch.arange(1, n_scales + 1, dtype=torch.float64)
    return (2.0 ** (i + 1)) * TAU0_SECONDS / frame_seconds


def _mexican_hat(x: torch.Tensor) -> torch.Tensor:
    return (1 - x**2) * torch.exp(-(x**2) / 2)


def cwt(contour: torch.Tensor, n_scales: int, frame_seconds: float) -> torch.Tensor:
    """Pitch spectrogram (batch, frames, n_scales) of normalised contours (batch, frames).

    Each channel is one scale's contribution to the contour, so ``icwt`` is their sum.
    Computed by FFT convolution because the largest scales span thousands of frames.
    """
    frames = contour.shape[1]
    taus = scales_in_frames(n_scales, frame_seconds)
    half = math.ceil(5 * float(taus.max()))
    size = 1 << (frames + 2 * half).bit_length()
    offsets = torch.arange(-half, half + 1, dtype=torch.float64)
    kernels = _mexican_hat(offsets[None, :] / taus[:, None])  # (scales, taps)
    weight = taus.rsqrt() * taus.rsqrt() * math.log(2) / _C_PSI
    kernels = kernels * weight[:, None]
    signal = torch.fft.rfft(contour.double(), n=size)  # (batch, freq)
    # Place the symmetric kernel so that output index t lines up with input index t.
    padded = torch.zeros(n_scales, size, dtype=torch.float64)
    padded[:, : half + 1] = kernels[:, half:]
    padded[:, size - half :] = kernels[:, :half]
    response = torch.fft.rfft(padded, n=size)  # (scales, freq)
    out = torch.fft.irfft(signal[:, None, :] * response[None, :, :], n=size)[..., :frames]
    return out.transpose(1, 2).to(contour.dtype)


def icwt(spectrogram: torch.Tensor) -> torch.Tensor:
    """Recompose contours (batch, frames) from pitch spectrograms (batch, frames, scales)."""
    return spectrogram.sum(dim=-1)
