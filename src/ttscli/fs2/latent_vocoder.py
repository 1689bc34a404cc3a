"""A vocoder that reuses the Piper teacher's VITS decoder behind a mel-to-latent adapter.

Training a HiFi-GAN from scratch needs a GPU and adversarial losses; the teacher voice
(en_US-joe-medium) already contains a well-trained waveform generator, its VITS decoder,
which turns a 192-dimensional latent at 256 samples per frame into audio. So only a small
convolutional adapter has to be learnt, by plain L1 regression onto the teacher's latents,
which a CPU does in minutes. Everything here is torch only: the ONNX model is needed by
``scripts/train_vocoder.py`` (to port the weights and make training data), never at runtime.

The VITS decoder is HiFi-GAN with type-2 residual blocks, except that its ``conv_post`` has
no bias; :class:`VitsDecoder` is our generator with that one difference, so weight names
match the ONNX initializers ``dec.*`` exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn import functional as F

from ttscli.fs2.config import AdapterConfig, AudioConfig
from ttscli.fs2.hifigan import LRELU_SLOPE, HiFiGANConfig, HiFiGANGenerator
from ttscli.util.errors import UserError

TYPE_NAME = "latent"
"""The ``type`` written into ``vocoder.json`` for this vocoder."""


def piper_medium_decoder() -> HiFiGANConfig:
    """The decoder of Piper's "medium" voices, as read from en_US-joe-medium's graph."""
    return HiFiGANConfig(
        n_mels=192,
        resblock="2",
        upsample_rates=(8, 8, 4),
        upsample_kernel_sizes=(16, 16, 8),
        upsample_initial_channel=256,
        resblock_kernel_sizes=(3, 5, 7),
        resblock_dilation_sizes=((1, 2), (2, 6), (3, 12)),
        sample_rate=22050,
    )


@dataclass(frozen=True)
class LatentVocoderConfig:
    """``vocoder.json``'s ``latent`` entry: the mel it was trained on, adapter and decoder.

    The mel definition is stored whole because the adapter learnt one exact log-mel; a model
    producing mels with another f_max or filterbank would be mis-heard silently.
    """

    mel: AudioConfig = field(default_factory=AudioConfig)
    adapter: AdapterConfig = field(default_factory=AdapterConfig)
    decoder: HiFiGANConfig = field(default_factory=piper_medium_decoder)
    pitch_input: bool = False
    """Also read the acoustic model's log-F0 as one more input channel. The teacher's
    decoder makes F0 from the latent, and a blurred mel carries little harmonic detail, so
    without it the vocoder picks its own F0 and ``--pitch`` would be inaudible."""
    log_f0_center: float = 5.0
    log_f0_scale: float = 0.25

    def validate(self) -> None:
        if self.adapter.layers < 2 or self.adapter.channels < 1:
            raise ValueError("adapter: needs at least 2 layers and 1 channel")
        if self.adapter.kernel % 2 != 1:
            raise ValueError("adapter.kernel: must be odd (the adapter is non-causal, centred)")
        if self.decoder.resblock != "2":
            raise ValueError("decoder.resblock: the VITS decoder uses type 2 blocks")
        if self.decoder.hop_length != self.mel.hop_length:
            raise ValueError(
                f"decoder: upsamples by {self.decoder.hop_length}, mel hop is {self.mel.hop_length}"
            )
        if self.decoder.sample_rate != self.mel.sample_rate:
            raise ValueError("decoder.sample_rate: differs from mel.sample_rate")

    @property
    def latent_dim(self) -> int:
        return self.decoder.n_mels


class MelAdapter(nn.Module):
    """Log-mel (B, n_mels, T) -> latent (B, latent_dim, T), frame for frame (the FS2s
    waveform decoder feeds it hidden states instead of mels).

    Centred (non-causal) convolutions with residual connections in the middle layers: the
    latent of a frame depends on the spectrum around it, and residuals keep a 7-layer stack
    trainable at lr 1e-3 without normalisation layers.
    """

    def __init__(self, n_mels: int, latent_dim: int, config: AdapterConfig) -> None:
        super().__init__()
        k, c = config.kernel, config.channels
        self.conv_in = nn.Conv1d(n_mels, c, k, padding=k // 2)
        self.convs = nn.ModuleList(
            nn.Conv1d(c, c, k, padding=k // 2) for _ in range(config.layers - 2)
        )
        self.conv_out = nn.Conv1d(c, latent_dim, k, padding=k // 2)

    def forward(self, log_mel: torch.Tensor) -> torch.Tensor:
        x = self.conv_in(log_mel)
        for conv in self.convs:
            x = x + conv(F.leaky_relu(x, LRELU_SLOPE))
        return self.conv_out(F.leaky_relu(x, LRELU_SLOPE))


class VitsDecoder(HiFiGANGenerator):
    """The VITS generator: our HiFi-GAN, but ``conv_post`` has no bias (as in VITS). With
    an inverse-STFT head (a generator distilled from the teacher's) the head keeps its bias."""

    def __init__(self, config: HiFiGANConfig) -> None:
        super().__init__(config)
        if not config.istft_n_fft:
            channels = config.upsample_initial_channel // 2 ** len(config.upsample_rates)
            self.conv_post = nn.Conv1d(channels, 1, 7, padding=3, bias=False)


class LatentVocoder(nn.Module):
    """Log-mel (B, n_mels, T) -> waveform (B, T * hop): adapter, then the VITS decoder."""

    def __init__(self, config: LatentVocoderConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        inputs = config.mel.n_mels + (1 if config.pitch_input else 0)
        self.adapter = MelAdapter(inputs, config.latent_dim, config.adapter)
        self.decoder = VitsDecoder(config.decoder)

    def adapter_input(self, log_mel: torch.Tensor, log_f0: torch.Tensor | None) -> torch.Tensor:
        """The mel, plus the normalised log-F0 channel when this vocoder reads pitch."""
        if not self.config.pitch_input:
            return log_mel
        if log_f0 is None:
            raise ValueError("this vocoder needs the log-F0 contour with the mel")
        pitch = (log_f0 - self.config.log_f0_center) / self.config.log_f0_scale
        return torch.cat([log_mel, pitch.unsqueeze(1).to(log_mel.dtype)], dim=1)

    def latent(self, log_mel: torch.Tensor, log_f0: torch.Tensor | None = None) -> torch.Tensor:
        """(B, n_mels, T) log-mel [+ (B, T) natural-log F0 in Hz] -> (B, latent_dim, T): what
        the generator hears."""
        return self.adapter(self.adapter_input(log_mel, log_f0))

    def forward(
        self,
        log_mel: torch.Tensor,
        log_f0: torch.Tensor | None = None,
        start_cycles: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """(B, n_mels, T) log-mel [+ (B, T) natural-log F0 in Hz] -> (B, T * hop) audio;
        ``start_cycles``: the harmonic source's phase after the frames before these."""
        return self.decoder(self.latent(log_mel, log_f0), log_f0, start_cycles)

    @property
    def reads_pitch(self) -> bool:
        """Whether the log-F0 contour changes the audio (adapter input or source)."""
        return self.config.pitch_input or bool(self.config.decoder.harmonic_source)


def check_compatible(config: LatentVocoderConfig, audio: AudioConfig, source: str) -> None:
    """Refuse a model whose mels differ in any setting from the ones the adapter learnt."""
    if config.mel != audio:
        diffs = [
            f"{name} {getattr(config.mel, name)} vs {getattr(audio, name)}"
            for name in AudioConfig.__dataclass_fields__
            if getattr(config.mel, name) != getattr(audio, name)
        ]
        raise UserError(
            f"vocoder {source}: trained on other mels than the model makes ({', '.join(diffs)})"
        )
