"""An F0-driven excitation for a generator with an inverse-STFT head (neural source-filter).

This voice is low (median about 89 Hz) and an 80-bin log-mel barely resolves its harmonics,
so a vocoder reading mels makes its own F0 from context, and one distilled from a teacher
with a narrow F0 range cannot leave that range: moving the mel or an F0 input channel of
the adapter barely moved its output F0 (the model card has the measurement).
Here the generator is handed the periodicity itself: a band-limited harmonic series at the
wanted F0 (Wang et al.'s source-filter idea), analysed by the very STFT the head inverts,
so each frame of the head's input carries the source's magnitudes and phases and the
network only shapes them. Its projection starts at zero: a generator given a source begins
exactly as it was and learns how much to use it.

Phase runs on in cycles from the start of the utterance, so a window vocoded on its own
(``start_cycles`` from the frames before it) hears the same source as the whole pass.
"""

from __future__ import annotations

import math

import torch
from torch import nn

MAX_HARMONIC_HZ_SHARE = 0.45
"""Harmonics above this share of the sample rate are left out (no aliasing)."""


def cycles_before(log_f0: torch.Tensor, frames: int, hop: int, sample_rate: int) -> torch.Tensor:
    """(B,) source cycles elapsed over the first ``frames`` frames of ``log_f0`` (B, T)."""
    f0 = torch.exp(log_f0[:, :frames].double())
    return (f0.sum(dim=1) * hop / sample_rate) % 1.0


def has_harmonic_source(module: nn.Module) -> bool:
    """Whether ``module`` (a vocoder or waveform decoder) holds a harmonic source."""
    return any(isinstance(part, HarmonicSource) for part in module.modules())


class HarmonicSource(nn.Module):
    """Frame log-F0 (B, T) -> (B, channels, T * upsampling) features for the head's stage."""

    def __init__(
        self, harmonics: int, n_fft: int, hop: int, frame_hop: int, sample_rate: int, channels: int
    ) -> None:
        super().__init__()
        self.harmonics, self.n_fft, self.hop = harmonics, n_fft, hop
        self.frame_hop, self.sample_rate = frame_hop, sample_rate
        self.proj = nn.Conv1d(n_fft + 2, channels, 1)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)

    def waveform(self, log_f0: torch.Tensor, start_cycles: torch.Tensor | None) -> torch.Tensor:
        """(B, T * frame_hop) band-limited harmonic series, each harmonic at 1 / k.

        Phase is accumulated in double precision (an utterance runs to many thousands of
        cycles); the harmonics then come from the recurrence sin((k + 1) t) = 2 cos(t)
        sin(k t) - sin((k - 1) t) in single precision, a multiply-add each instead of a
        sine each, which made this source a large share of the generator's time."""
        f0 = torch.exp(log_f0.double()).repeat_interleave(self.frame_hop, dim=1)
        cycles = torch.cumsum(f0 / self.sample_rate, dim=1) - f0 / self.sample_rate
        if start_cycles is not None:
            cycles = cycles + start_cycles.double().unsqueeze(1)
        theta = (2 * math.pi * (cycles % 1.0)).float()
        f0 = f0.float()
        limit = MAX_HARMONIC_HZ_SHARE * self.sample_rate
        highest = float(f0.max()) if f0.numel() else 0.0
        twice_cos = 2 * torch.cos(theta)
        previous, current = torch.zeros_like(theta), torch.sin(theta)
        out = torch.where(f0 < limit, current, 0.0)
        for k in range(2, self.harmonics + 1):
            previous, current = current, torch.addcmul(-previous, twice_cos, current)
            audible = current if k * highest < limit else torch.where(k * f0 < limit, current, 0)
            out.add_(audible, alpha=1.0 / k)
        return 0.3 * out

    def forward(
        self, log_f0: torch.Tensor, frames: int, start_cycles: torch.Tensor | None = None
    ) -> torch.Tensor:
        wave = self.waveform(log_f0, start_cycles)
        spectrum = torch.stft(
            wave, self.n_fft, self.hop, window=self.window, center=True, return_complex=True
        )[..., :frames]
        features = torch.cat([spectrum.real, spectrum.imag], dim=1)
        return self.proj(features.to(self.proj.weight.dtype))
