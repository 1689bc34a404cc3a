"""HiFi-GAN generator (Kong et al., 2020), able to load the public generator checkpoints.

Weight normalisation only matters for training, so it is folded into plain weights on
load; that keeps inference fast and lets the same module read both the classic
``weight_g``/``weight_v`` names and torch's newer parametrization names.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from ttscli.fs2.harmonic_source import HarmonicSource

LRELU_SLOPE = 0.1


@dataclass(frozen=True)
class HiFiGANConfig:
    """The generator fields of a HiFi-GAN ``config.json`` (V1 defaults)."""

    n_mels: int = 80
    resblock: str = "1"
    upsample_rates: tuple[int, ...] = (8, 8, 2, 2)
    upsample_kernel_sizes: tuple[int, ...] = (16, 16, 4, 4)
    upsample_initial_channel: int = 512
    resblock_kernel_sizes: tuple[int, ...] = (3, 7, 11)
    resblock_dilation_sizes: tuple[tuple[int, ...], ...] = ((1, 3, 5), (1, 3, 5), (1, 3, 5))
    sample_rate: int = 22050
    istft_n_fft: int = 0
    """0: the last stage writes samples (HiFi-GAN). Otherwise it writes the log-magnitude and
    phase of an ``istft_n_fft``-point STFT at hop ``istft_hop``, and an inverse STFT makes
    the samples (iSTFTNet, Kaneko et al. 2022): the upsampling stages that head replaces
    run at the highest rates and did most of the arithmetic."""
    istft_hop: int = 0
    harmonic_source: int = 0
    """With an inverse-STFT head: harmonics of an F0-driven excitation fed to the head's
    stage (``ttscli.fs2.harmonic_source``); the generator then needs frame log-F0. 0: none."""

    @property
    def hop_length(self) -> int:
        hop = self.istft_hop if self.istft_n_fft else 1
        for rate in self.upsample_rates:
            hop *= rate
        return hop

    def validate(self) -> None:
        if self.istft_n_fft and not 0 < self.istft_hop <= self.istft_n_fft // 2:
            raise ValueError("istft_hop: needs 0 < hop <= n_fft / 2 for the windows to overlap")
        if self.istft_n_fft % 2:
            raise ValueError("istft_n_fft: must be even")
        if self.harmonic_source and (not self.istft_n_fft or len(self.upsample_rates) != 1):
            raise ValueError("harmonic_source: needs an inverse-STFT head after one stage")


def _padding(kernel: int, dilation: int) -> int:
    return (kernel * dilation - dilation) // 2


class ResBlock1(nn.Module):
    """Three dilated convs, each followed by an undilated one, with residuals."""

    def __init__(self, channels: int, kernel: int, dilations: tuple[int, ...]) -> None:
        super().__init__()
        self.convs1 = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel, dilation=d, padding=_padding(kernel, d))
            for d in dilations
        )
        self.convs2 = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel, padding=_padding(kernel, 1)) for _ in dilations
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for c1, c2 in zip(self.convs1, self.convs2, strict=True):
            h = c1(F.leaky_relu(x, LRELU_SLOPE))
            x = x + c2(F.leaky_relu(h, LRELU_SLOPE))
        return x


class ResBlock2(nn.Module):
    """The lighter block of HiFi-GAN V3: dilated convs with residuals."""

    def __init__(self, channels: int, kernel: int, dilations: tuple[int, ...]) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel, dilation=d, padding=_padding(kernel, d))
            for d in dilations
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv in self.convs:
            x = x + conv(F.leaky_relu(x, LRELU_SLOPE))
        return x


class HiFiGANGenerator(nn.Module):
    """Log-mel (batch, n_mels, frames) -> waveform (batch, frames * hop)."""

    def __init__(self, config: HiFiGANConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        c0 = config.upsample_initial_channel
        self.conv_pre = nn.Conv1d(config.n_mels, c0, 7, padding=3)
        self.ups = nn.ModuleList(
            nn.ConvTranspose1d(c0 // 2**i, c0 // 2 ** (i + 1), k, u, padding=(k - u) // 2)
            for i, (u, k) in enumerate(
                zip(config.upsample_rates, config.upsample_kernel_sizes, strict=True)
            )
        )
        block = ResBlock1 if config.resblock == "1" else ResBlock2
        self.resblocks = nn.ModuleList(
            block(c0 // 2 ** (i + 1), k, tuple(d))
            for i in range(len(self.ups))
            for k, d in zip(
                config.resblock_kernel_sizes, config.resblock_dilation_sizes, strict=True
            )
        )
        channels = c0 // 2 ** len(self.ups)
        if config.istft_n_fft:
            # a short kernel: at the head's frame rate a wide one would cost as much as a stage
            self.conv_post = nn.Conv1d(channels, config.istft_n_fft + 2, 3, padding=1)
            self.register_buffer("window", torch.hann_window(config.istft_n_fft), persistent=False)
        else:
            self.conv_post = nn.Conv1d(channels, 1, 7, padding=3)
        self.kernels_per_level = len(config.resblock_kernel_sizes)
        self.source = (
            HarmonicSource(
                config.harmonic_source,
                config.istft_n_fft,
                config.istft_hop,
                config.hop_length,
                config.sample_rate,
                channels,
            )
            if config.harmonic_source
            else None
        )

    def forward(
        self,
        mel: torch.Tensor,
        log_f0: torch.Tensor | None = None,
        start_cycles: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``log_f0`` (B, frames, natural log of Hz) drives the harmonic source, when the
        generator has one; ``start_cycles`` continues its phase from earlier frames."""
        x = self.conv_pre(mel)
        for i, up in enumerate(self.ups):
            x = up(F.leaky_relu(x, LRELU_SLOPE))
            if self.source is not None:
                if log_f0 is None:
                    raise ValueError("this generator needs the log-F0 contour")
                x = x + self.source(log_f0, x.shape[-1], start_cycles)
            level = self.resblocks[i * self.kernels_per_level : (i + 1) * self.kernels_per_level]
            x = sum(block(x) for block in level) / self.kernels_per_level
        x = self.conv_post(F.leaky_relu(x))
        if self.config.istft_n_fft:
            return self._inverse_stft(x)
        return torch.tanh(x).squeeze(1)

    def _inverse_stft(self, x: torch.Tensor) -> torch.Tensor:
        """(B, n_fft + 2, frames): log-magnitudes then phases of ``n_fft // 2 + 1`` bins ->
        (B, frames * hop) float32 samples, whatever the network's dtype (bfloat16 samples
        would add audible rounding noise). Frame ``k`` is centred on sample ``k * hop``."""
        n_fft, hop = self.config.istft_n_fft, self.config.istft_hop
        bins = n_fft // 2 + 1
        magnitude = torch.exp(x[:, :bins].float().clamp(max=8.0))
        spectrum = torch.polar(magnitude, x[:, bins:].float())
        wave = torch.istft(
            spectrum,
            n_fft,
            hop,
            win_length=n_fft,
            window=self.window.float(),
            center=True,
            length=x.shape[-1] * hop,
        )
        return wave.clamp(-1.0, 1.0)


def fold_weight_norm(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Replace (g, v) weight-norm pairs by the plain weight g * v / ||v||."""
    folded: dict[str, torch.Tensor] = {}
    pairs = {
        "weight_g": "weight_v",
        "parametrizations.weight.original0": "parametrizations.weight.original1",
    }
    for name, tensor in state.items():
        for g_suffix, v_suffix in pairs.items():
            if name.endswith(g_suffix):
                prefix = name[: -len(g_suffix)]
                v = state[prefix + v_suffix].float()
                norm = torch.linalg.vector_norm(v, dim=tuple(range(1, v.dim())), keepdim=True)
                folded[prefix + "weight"] = tensor.float() * v / norm
                break
        else:
            if not any(name.endswith(v) for v in pairs.values()):
                folded[name] = tensor
    return folded


def infer_config(state: dict[str, torch.Tensor], sample_rate: int) -> HiFiGANConfig:
    """Recover the generator shape from tensor shapes, for checkpoints shipped without
    their ``config.json``. Dilations cannot be seen in weights; the published variants'
    are used (V1/V2 for type 1 blocks, V3 for type 2)."""
    pre = state["conv_pre.weight"]
    n_ups = len({k.split(".")[1] for k in state if k.startswith("ups.")})
    kernels = [int(state[f"ups.{i}.weight"].shape[2]) for i in range(n_ups)]
    n_blocks = len({k.split(".")[1] for k in state if k.startswith("resblocks.")})
    per_level = n_blocks // max(n_ups, 1)
    type1 = any(".convs1." in k for k in state)
    conv = "convs1" if type1 else "convs"
    block_kernels = [
        int(state[f"resblocks.{j}.{conv}.0.weight"].shape[2]) for j in range(per_level)
    ]
    if type1:
        dilations = tuple((1, 3, 5) for _ in range(per_level))
    else:
        dilations = ((1, 2), (2, 6), (3, 12))[:per_level]
    return HiFiGANConfig(
        n_mels=int(pre.shape[1]),
        resblock="1" if type1 else "2",
        upsample_rates=tuple(k // 2 for k in kernels),
        upsample_kernel_sizes=tuple(kernels),
        upsample_initial_channel=int(pre.shape[0]),
        resblock_kernel_sizes=tuple(block_kernels),
        resblock_dilation_sizes=dilations,
        sample_rate=sample_rate,
    )
