"""Waveform losses shared by the training scripts."""

from __future__ import annotations

import torch
from torch.nn import functional as F

STFT_RESOLUTIONS = ((512, 128), (1024, 256), (2048, 512))
"""(n_fft = window, hop) pairs, as in Parallel WaveGAN."""


def multi_resolution_stft_loss(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Spectral convergence + log-magnitude L1 at three resolutions (Yamamoto et al.).

    A non-adversarial waveform loss: it fits the spectrum without a discriminator, which
    keeps waveform training possible on a CPU.
    """
    total = predicted.new_zeros(())
    for n_fft, hop in STFT_RESOLUTIONS:
        window = torch.hann_window(n_fft, device=predicted.device)
        p, t = (
            torch.stft(x, n_fft, hop, window=window, return_complex=True).abs().clamp(min=1e-7)
            for x in (predicted, target)
        )
        convergence = torch.linalg.norm(t - p) / torch.linalg.norm(t).clamp(min=1e-7)
        total = total + convergence + F.l1_loss(p.log(), t.log())
    return total / len(STFT_RESOLUTIONS)
