"""Mel-to-waveform vocoders behind one interface, and the one owner of ``vocoder.json``.

``auto`` picks the vocoder bundled with a checkpoint when it has one, and Griffin-Lim
otherwise, so every checkpoint can speak even before a neural vocoder is trained for it.
A bundled vocoder is ``vocoder.json`` (``BundledVocoderConfig``) + ``vocoder.safetensors``,
read by ``load_bundled_module`` and written by ``save_bundled``; a public HiFi-GAN
generator file is read by ``load_public_generator``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import torch

from ttscli.audio.dsp import griffin_lim
from ttscli.fs2.config import AudioConfig
from ttscli.fs2.hifigan import HiFiGANConfig, HiFiGANGenerator, fold_weight_norm, infer_config
from ttscli.fs2.io import (
    apply_weights,
    build_to_load,
    load_dataclass,
    read_json,
    save_json,
    save_weights,
)
from ttscli.fs2.latent_vocoder import (
    TYPE_NAME as LATENT,
)
from ttscli.fs2.latent_vocoder import (
    LatentVocoder,
    LatentVocoderConfig,
    check_compatible,
)
from ttscli.util.dataclass_json import ConfigMismatch, from_dict, to_dict
from ttscli.util.errors import UserError

BUNDLED_CONFIG = "vocoder.json"
BUNDLED_WEIGHTS = "vocoder.safetensors"


class Vocoder(Protocol):
    name: str

    def __call__(
        self,
        log_mel: torch.Tensor,
        log_f0: torch.Tensor | None = None,
        start_cycles: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """(batch, n_mels, frames) log-mel, and the model's (batch, frames) log-F0 for
        vocoders that read it -> (batch, frames * hop) waveform. ``start_cycles``: for a
        window cut from a longer utterance, the F0 source's phase at its first frame."""
        ...


@dataclass
class GriffinLimVocoder:
    """Phase reconstruction without a model: always available, intelligible, phasey."""

    audio: AudioConfig
    n_iter: int = 32
    name: str = "griffin-lim"

    def __call__(
        self,
        log_mel: torch.Tensor,
        log_f0: torch.Tensor | None = None,
        start_cycles: torch.Tensor | None = None,
    ) -> torch.Tensor:
        return griffin_lim(log_mel, self.audio, n_iter=self.n_iter)


@dataclass
class NeuralVocoder:
    """A torch generator module taking log-mels."""

    module: torch.nn.Module
    name: str

    def __call__(
        self,
        log_mel: torch.Tensor,
        log_f0: torch.Tensor | None = None,
        start_cycles: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if isinstance(self.module, LatentVocoder):  # uses log_f0 only if it reads pitch
            return self.module(log_mel, log_f0, start_cycles)
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

    @property
    def latent_or_default(self) -> LatentVocoderConfig:
        return self.latent or LatentVocoderConfig()

    @property
    def hifigan_or_default(self) -> HiFiGANConfig:
        return self.hifigan or HiFiGANConfig()


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


def load_bundled_module(
    directory: Path, audio: AudioConfig | None = None
) -> LatentVocoder | HiFiGANGenerator:
    """The generator stored in our format inside ``directory``, checked against ``audio``
    (the mels the model makes) when given."""
    config_path = directory / BUNDLED_CONFIG
    weights_path = directory / BUNDLED_WEIGHTS
    config = load_dataclass(BundledVocoderConfig, config_path)
    module: LatentVocoder | HiFiGANGenerator
    if config.type == LATENT:
        latent = config.latent_or_default
        if audio is not None:
            check_compatible(latent, audio, str(directory))
        module = build_to_load(lambda: LatentVocoder(latent), weights_path)
    else:
        hifigan = config.hifigan_or_default
        if audio is not None:
            _check_compatible(hifigan, audio, str(config_path))
        module = build_to_load(lambda: HiFiGANGenerator(hifigan), weights_path)
    return module.eval()


def bundled_vocoder_has_source(directory: Path) -> bool:
    """Whether the vocoder stored beside a checkpoint renders F0 through a harmonic source,
    read from its ``vocoder.json`` alone (no weights loaded). False where there is none."""
    config_path = directory / BUNDLED_CONFIG
    if not config_path.is_file():
        return False
    config = load_dataclass(BundledVocoderConfig, config_path)
    generator = (
        config.latent_or_default.decoder if config.type == LATENT else config.hifigan_or_default
    )
    return generator.harmonic_source > 0


def load_bundled_latent(directory: Path, audio: AudioConfig | None = None) -> LatentVocoder:
    """A bundled vocoder that must be the latent kind (what training resumes from)."""
    module = load_bundled_module(directory, audio)
    if not isinstance(module, LatentVocoder):
        raise UserError(f"{directory / BUNDLED_CONFIG}: type 'hifigan', not {LATENT!r}")
    return module


def save_bundled(
    module: LatentVocoder | HiFiGANGenerator, folder: Path, dtype: torch.dtype = torch.float32
) -> None:
    """Write ``vocoder.json`` + ``vocoder.safetensors``, each atomically, weights first."""
    kind = LATENT if isinstance(module, LatentVocoder) else "hifigan"
    save_weights(module, folder / BUNDLED_WEIGHTS, dtype)
    save_json(folder / BUNDLED_CONFIG, {"type": kind, kind: to_dict(module.config)})


def load_bundled(directory: Path, audio: AudioConfig) -> Vocoder:
    """The bundled vocoder of ``directory``, ready to call."""
    module = load_bundled_module(directory, audio)
    kind = "latent vocoder" if isinstance(module, LatentVocoder) else "hifigan"
    return NeuralVocoder(module, name=f"{kind} ({directory.name})")


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


def load_public_generator(path: Path, sample_rate: int) -> HiFiGANGenerator:
    """Load a HiFi-GAN generator checkpoint (``{"generator": state_dict}``) safely.

    ``weights_only=True`` refuses anything but tensors and plain containers, so a
    malicious file cannot run code. A ``config.json`` beside the file wins over shape
    inference, as the original repository ships one with every checkpoint.
    """
    try:
        raw = torch.load(str(path), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise UserError(f"vocoder {path}: file not found") from None
    except Exception as exc:  # torch raises many types for a bad or unsafe file
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(
            f"vocoder {path}: not a loadable generator checkpoint ({first_line})"
        ) from None
    state = raw.get("generator", raw) if isinstance(raw, dict) else None
    if not isinstance(state, dict) or not any(str(k).startswith("conv_pre.") for k in state):
        raise UserError(f"vocoder {path}: no HiFi-GAN generator weights in this file")
    state = fold_weight_norm(state)
    config_path = path.parent / "config.json"
    if config_path.is_file():
        data = read_json(config_path)
        fields = {k: data[k] for k in HiFiGANConfig.__dataclass_fields__ if k in data}
        if "sampling_rate" in data:
            fields["sample_rate"] = data["sampling_rate"]
        fields.setdefault("n_mels", data.get("num_mels", 80))
        try:
            config = from_dict(HiFiGANConfig, fields)
        except ConfigMismatch as exc:
            raise UserError(f"{config_path}: {exc}") from None
    else:
        config = infer_config(state, sample_rate)
    generator = HiFiGANGenerator(config)
    apply_weights(generator, state, path)
    return generator.eval()
