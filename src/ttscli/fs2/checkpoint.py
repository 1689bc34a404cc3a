"""Our FastSpeech 2 checkpoint format: a folder with ``config.json``, ``stats.json`` and
``model.safetensors`` (plus, optionally, a vocoder: see ``vocoders.py``).
"""

from __future__ import annotations

from pathlib import Path

import torch

from ttscli.fs2.config import FS2Config, ProsodyStats
from ttscli.fs2.io import build_to_load, load_dataclass, save_json, save_weights
from ttscli.fs2.model import FastSpeech2
from ttscli.util.errors import UserError

CONFIG_FILE = "config.json"
STATS_FILE = "stats.json"
WEIGHTS_FILE = "model.safetensors"


def load_checkpoint(directory: Path) -> FastSpeech2:
    """Build the model described by ``directory`` and load its weights (on the CPU)."""
    if not directory.is_dir():
        raise UserError(f"checkpoint {directory}: not a directory")
    config = load_dataclass(FS2Config, directory / CONFIG_FILE)
    stats = load_dataclass(ProsodyStats, directory / STATS_FILE)
    model = build_to_load(lambda: FastSpeech2(config, stats), directory / WEIGHTS_FILE)
    return model.eval()


def save_checkpoint(
    model: FastSpeech2, directory: Path, dtype: torch.dtype = torch.float32
) -> None:
    """Write config, stats and weights; ``dtype`` lets bundled assets be stored in fp16."""
    directory.mkdir(parents=True, exist_ok=True)
    save_json(directory / CONFIG_FILE, model.config)
    save_json(directory / STATS_FILE, model.variance_adaptor.stats)
    save_weights(model, directory / WEIGHTS_FILE, dtype)
