"""Mel-to-waveform vocoders behind one interface.

``auto`` picks the vocoder bundled with a checkpoint when it has one, and Griffin-Lim
otherwise, so every checkpoint can speak even before a neural vocoder is trained for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import torch

from ttscli.audio.dsp import griffin_lim
from ttscli.errors import UserError
from ttscli.fs2.checkpoint import apply_weights, load_dataclass, load_weights
from ttscli.fs2.config import AudioConfig
from ttscli.fs2.hifigan import HiFiGANConfig, HiFiGANGenerator, load_public_generator
from ttscli.fs2.latent_vocoder import LatentVocoder, LatentVocoderConfig

BUNDLED_CONFIG = "vocoder.json"
BUNDLED_WEIGHTS = "vocoder.safetensors"


class Vocoder(Protocol):
    name: str

    def __call__(self, log_mel: torch.Tensor, log_f0: torch.Tensor | None = None) -> torch.Tensor:
        """(batch, n_mels, frames) log-mel, and the model's (batch, frames) log-F0 for
        vocoders that read it -> (batch, frames * hop) waveform."""
        ...


@dataclass
class GriffinLimVocoder:
    """Phase reconstruction without a model: always available, intelligible, phasey."""

    audio: AudioConfig
    n_iter: int = 32
    name: str = "griffin-lim"

    def __call__(self, log_mel: torch.Tensor, log_f0: torch.Tensor | None = None) -> torch.Tensor:
        return griffin_lim(log_mel, self.audio, n_iter=self.n_iter)


@dataclass
class NeuralVocoder:
    """A torch generator module taking log-mels."""

    module: torch.nn.Module
    name: str

    def __call__(self, log_mel: torch.Tensor, log_f0: torch.Tensor | None = None) -> torch.Tensor:
        if isinstance(self.module, LatentVocoder):  # uses log_f0 only if it reads pitch
            return self.module(log_mel, log_f0)
        return self.module(log_mel)


@dataclass(frozen=True)
class BundledVocoderConfig:
    """``vocoder.json`` beside a checkpoint: which generator and its shape.

    ``hifigan``: a HiFi-GAN generator on our log-mels. ``latent``: a mel-to-latent adapter
    in front of a VITS-style decoder (see ``latent_vocoder.py``).
    """

    type: Literal["hifigan", "latent"] = "hifigan"
    hifigan: HiFiGANConfig | None = None
    latent: LatentVocoderConfig | None = None

    def validate(self) -> None:
        if self.latent is not None:
            self.latent.validate()


def _check_compatible(config: HiFiGANConfig, audio: AudioConfig, source: str) -> None:
    if config.n_mels != audio.n_mels or config.hop_length != audio.hop_length:
        raise UserError(
            f"vocoder {source}: expects {config.n_mels} mels at hop {config.hop_length}, "
            f"the model makes {audio.n_mels} mels at hop {audio.hop_length}"
        )
    if config.sample_rate != audio.sample_rate:
        raise UserError(
            f"vocoder {source}: runs at {config.sample_rate} Hz, "
            f"the model at {audio.sample_rate} Hz"
        )


def load_bundled(directory: Path, audio: AudioConfig) -> Vocoder:
    """Load the vocoder stored in our format inside ``directory``."""
    config = load_dataclass(BundledVocoderConfig, directory / BUNDLED_CONFIG)
    if config.type == "latent":
        from ttscli.fs2.latent_vocoder import load_latent_vocoder

        module = load_latent_vocoder(
            config.latent or LatentVocoderConfig(), directory / BUNDLED_WEIGHTS, audio
        )
        return NeuralVocoder(module, name=f"latent vocoder ({directory.name})")
    hifigan = config.hifigan or HiFiGANConfig()
    _check_compatible(hifigan, audio, str(directory / BUNDLED_CONFIG))
    generator = HiFiGANGenerator(hifigan)
    path = directory / BUNDLED_WEIGHTS
    apply_weights(generator, load_weights(path), path)
    return NeuralVocoder(generator.eval(), name=f"hifigan ({directory.name})")


def has_bundled(directory: Path) -> bool:
    return (directory / BUNDLED_CONFIG).is_file()


def resolve_vocoder(choice: str, checkpoint_dir: Path, audio: AudioConfig) -> Vocoder:
    """Turn ``--vocoder`` (``auto``, ``griffin-lim`` or a path) into a vocoder."""
    if choice == "griffin-lim":
        return GriffinLimVocoder(audio)
    if choice == "auto":
        if has_bundled(checkpoint_dir):
            return load_bundled(checkpoint_dir, audio)
        return GriffinLimVocoder(audio)
    path = Path(choice).expanduser()
    if path.is_dir():
        if not has_bundled(path):
            raise UserError(f"vocoder {path}: folder has no {BUNDLED_CONFIG}")
        return load_bundled(path, audio)
    if not path.exists():
        raise UserError(
            f"vocoder {choice}: no such file (use auto, griffin-lim, or a HiFi-GAN generator)"
        )
    generator = load_public_generator(path, audio.sample_rate)
    _check_compatible(generator.config, audio, str(path))
    return NeuralVocoder(generator, name=f"hifigan ({path.name})")
