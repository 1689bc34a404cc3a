"""Mel spectrograms and Griffin-Lim in torch.

The mel definition (Slaney-style filterbank, magnitude STFT, natural log clamped at
1e-5) is the one the public HiFi-GAN and FastSpeech 2 LJSpeech checkpoints use, so mels
from our models can be fed to their vocoders and the other way round.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import torch


@dataclass(frozen=True)
class MelSpec:
    """How waveforms become mel frames; stored in every checkpoint's config."""

    sample_rate: int = 22050
    n_fft: int = 1024
    hop_length: int = 256
    win_length: int = 1024
    n_mels: int = 80
    f_min: float = 0.0
    f_max: float = 8000.0


def _hz_to_mel(hz: torch.Tensor) -> torch.Tensor:
    """Slaney's mel scale: linear below 1 kHz, logarithmic above."""
    f_sp = 200.0 / 3
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = math.log(6.4) / 27.0
    linear = hz / f_sp
    log_part = min_log_mel + torch.log(torch.clamp(hz, min=1e-10) / min_log_hz) / logstep
    return torch.where(hz >= min_log_hz, log_part, linear)


def _mel_to_hz(mel: torch.Tensor) -> torch.Tensor:
    f_sp = 200.0 / 3
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = math.log(6.4) / 27.0
    return torch.where(
        mel >= min_log_mel, min_log_hz * torch.exp(logstep * (mel - min_log_mel)), f_sp * mel
    )


@lru_cache(maxsize=8)
def mel_filterbank(spec: MelSpec) -> torch.Tensor:
    """Triangular, area-normalised filters of shape (n_mels, n_fft // 2 + 1)."""
    n_freqs = spec.n_fft // 2 + 1
    fft_freqs = torch.linspace(0, spec.sample_rate / 2, n_freqs, dtype=torch.float64)
    mel_edges = torch.linspace(
        float(_hz_to_mel(torch.tensor(spec.f_min, dtype=torch.float64))),
        float(_hz_to_mel(torch.tensor(spec.f_max, dtype=torch.float64))),
        spec.n_mels + 2,
        dtype=torch.float64,
    )
    hz_edges = _mel_to_hz(mel_edges)
    widths = torch.diff(hz_edges)
    ramps = hz_edges[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = torch.clamp(torch.minimum(lower, upper), min=0.0)
    weights *= (2.0 / (hz_edges[2:] - hz_edges[:-2]))[:, None]
    return weights.float()


def _window(spec: MelSpec, device: torch.device) -> torch.Tensor:
    return torch.hann_window(spec.win_length, device=device)


def stft_magnitude(wave: torch.Tensor, spec: MelSpec) -> torch.Tensor:
    """|STFT| of (batch, samples) audio, (batch, freq, frames), reflect-padded like HiFi-GAN."""
    pad = (spec.n_fft - spec.hop_length) // 2
    padded = torch.nn.functional.pad(wave.unsqueeze(1), (pad, pad), mode="reflect").squeeze(1)
    stft = torch.stft(
        padded,
        spec.n_fft,
        hop_length=spec.hop_length,
        win_length=spec.win_length,
        window=_window(spec, wave.device),
        center=False,
        return_complex=True,
    )
    return torch.sqrt(stft.real**2 + stft.imag**2 + 1e-9)


MEL_FLOOR = 1e-5
"""Mel magnitudes are clamped here before the log (the public checkpoints' convention)."""
SILENT_LOG_MEL = math.log(MEL_FLOOR)
"""The log-mel of silence: the lowest value ``log_mel`` gives."""


def log_mel(wave: torch.Tensor, spec: MelSpec) -> torch.Tensor:
    """Log-mel frames (batch, n_mels, frames); one frame per hop."""
    magnitude = stft_magnitude(wave, spec)
    mel = mel_filterbank(spec).to(wave.device) @ magnitude
    return torch.log(torch.clamp(mel, min=MEL_FLOOR))


def frame_energy(wave: torch.Tensor, spec: MelSpec) -> torch.Tensor:
    """L2 norm of each STFT frame's magnitude, as FastSpeech 2 defines energy."""
    return torch.linalg.vector_norm(stft_magnitude(wave, spec), dim=1)


def griffin_lim(
    log_mel_frames: torch.Tensor, spec: MelSpec, n_iter: int = 32, momentum: float = 0.99
) -> torch.Tensor:
    """Waveform (batch, samples) from log-mel (batch, n_mels, frames).

    Uses the fast Griffin-Lim variant (Perraudin et al.) because momentum reaches the
    quality of plain Griffin-Lim in a fraction of the iterations, which matters on a CPU.
    """
    device = log_mel_frames.device
    n_frames = log_mel_frames.shape[-1]
    # The STFT needs a few frames of context; pad very short inputs with silence.
    min_frames = spec.n_fft // spec.hop_length + 1
    if n_frames < min_frames:
        log_mel_frames = torch.nn.functional.pad(
            log_mel_frames, (0, min_frames - n_frames), value=SILENT_LOG_MEL
        )
    mel = torch.exp(log_mel_frames.float())
    basis = mel_filterbank(spec).to(device)
    # Least-squares inverse of the filterbank, kept non-negative.
    magnitude = torch.clamp(torch.linalg.pinv(basis) @ mel, min=1e-8)
    window = _window(spec, device)
    padded_frames = magnitude.shape[-1]
    length = padded_frames * spec.hop_length

    def istft(complex_spec: torch.Tensor) -> torch.Tensor:
        return torch.istft(
            complex_spec,
            spec.n_fft,
            hop_length=spec.hop_length,
            win_length=spec.win_length,
            window=window,
            center=True,
            length=length,
        )

    def stft(wave: torch.Tensor) -> torch.Tensor:
        return torch.stft(
            wave,
            spec.n_fft,
            hop_length=spec.hop_length,
            win_length=spec.win_length,
            window=window,
            center=True,
            return_complex=True,
        )[..., :padded_frames]

    generator = torch.Generator(device="cpu").manual_seed(0)
    phase = torch.rand(magnitude.shape, generator=generator).to(device) * 2 * math.pi
    angles = torch.polar(torch.ones_like(magnitude), phase)
    previous = torch.zeros_like(angles)
    for _ in range(n_iter):
        rebuilt = stft(istft(magnitude * angles))
        accelerated = rebuilt - (momentum / (1 + momentum)) * previous
        angles = accelerated / (accelerated.abs() + 1e-16)
        previous = rebuilt
    return istft(magnitude * angles)[..., : n_frames * spec.hop_length]
