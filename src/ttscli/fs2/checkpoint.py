"""Our checkpoint format: a folder with ``config.json``, ``stats.json`` and
``model.safetensors`` (plus, optionally, a bundled vocoder).

JSON and safetensors only: loading a checkpoint can never run code, unlike pickle.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ttscli.atomic import atomic_write, atomic_write_bytes
from ttscli.dataclass_json import from_dict, to_dict
from ttscli.errors import UserError
from ttscli.fs2.config import FS2Config, ProsodyStats
from ttscli.fs2.model import FastSpeech2

CONFIG_FILE = "config.json"
STATS_FILE = "stats.json"
WEIGHTS_FILE = "model.safetensors"


def read_json(path: Path) -> Any:
    """Parse a JSON file, turning every way it can fail into a one-line UserError."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read ({exc})") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None


def load_dataclass(cls: type, path: Path) -> Any:
    """Read a config dataclass from JSON and validate it, naming the file on failure."""
    try:
        value = from_dict(cls, read_json(path))
        validate = getattr(value, "validate", None)
        if validate is not None:
            validate()
    except ValueError as exc:  # ConfigMismatch is a ValueError too
        raise UserError(f"{path}: {exc}") from None
    return value


def load_weights(path: Path) -> dict[str, torch.Tensor]:
    """Read a safetensors file; a missing or damaged file becomes a UserError."""
    if not path.is_file():
        raise UserError(f"{path}: file not found")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise UserError(f"{path}: not a valid safetensors file ({exc})") from None


def apply_weights(module: torch.nn.Module, weights: dict[str, torch.Tensor], path: Path) -> None:
    """Load ``weights`` into ``module`` strictly, naming the first mismatching tensor."""
    expected = module.state_dict()
    missing = sorted(set(expected) - set(weights))
    unexpected = sorted(set(weights) - set(expected))
    if missing:
        raise UserError(f"{path}: missing tensor {missing[0]} ({len(missing)} missing)")
    if unexpected:
        raise UserError(f"{path}: unexpected tensor {unexpected[0]} (config mismatch?)")
    for name, tensor in weights.items():
        if tuple(tensor.shape) != tuple(expected[name].shape):
            raise UserError(
                f"{path}: tensor {name} has shape {list(tensor.shape)}, "
                f"config.json implies {list(expected[name].shape)}"
            )
    module.load_state_dict({k: v.to(expected[k].dtype) for k, v in weights.items()})


def load_checkpoint(directory: Path) -> FastSpeech2:
    """Build the model described by ``directory`` and load its weights (on the CPU)."""
    if not directory.is_dir():
        raise UserError(f"checkpoint {directory}: not a directory")
    config = load_dataclass(FS2Config, directory / CONFIG_FILE)
    stats = load_dataclass(ProsodyStats, directory / STATS_FILE)
    model = FastSpeech2(config, stats)
    apply_weights(model, load_weights(directory / WEIGHTS_FILE), directory / WEIGHTS_FILE)
    return model.eval()


def save_checkpoint(
    model: FastSpeech2, directory: Path, dtype: torch.dtype = torch.float32
) -> None:
    """Write config, stats and weights; ``dtype`` lets bundled assets be stored in fp16."""
    directory.mkdir(parents=True, exist_ok=True)
    config_text = json.dumps(to_dict(model.config), indent=2) + "\n"
    stats_text = json.dumps(to_dict(model.variance_adaptor.stats), indent=2) + "\n"
    atomic_write_bytes(directory / CONFIG_FILE, config_text.encode())
    atomic_write_bytes(directory / STATS_FILE, stats_text.encode())
    tensors = {
        k: (v.to(dtype) if v.is_floating_point() else v).detach().cpu().contiguous()
        for k, v in model.state_dict().items()
    }
    atomic_write(directory / WEIGHTS_FILE, lambda tmp: save_file(tensors, tmp))
