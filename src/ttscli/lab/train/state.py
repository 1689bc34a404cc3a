"""The one run-state format of every training loop: resumable without pickle.

``torch.save`` of an optimiser is a pickle; ours is its tensors in safetensors and the
rest (step counters, hyper-parameters, param groups) in JSON, both written atomically.
A loop that keeps no separate checkpoint (the aligner) stores its model's weights in the
same safetensors file, so weights and optimiser moments are always from the same step.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from ttscli.util.atomic import atomic_write, atomic_write_bytes

TENSORS = "train_state.safetensors"
META = "train_state.json"
MODEL_PREFIX = "model."


def save_train_state(
    run: Path,
    optimizer: torch.optim.Optimizer,
    meta: dict[str, Any],
    model: torch.nn.Module | None = None,
) -> None:
    """Store the optimiser moments, ``meta`` (anything JSON) and, optionally, the model's
    weights in ``run``."""
    state = optimizer.state_dict()
    tensors = {
        f"{index}.{key}": torch.as_tensor(value).detach().cpu().contiguous()
        for index, entries in state["state"].items()
        for key, value in entries.items()
    }
    if model is not None:
        for key, value in model.state_dict().items():
            tensors[f"{MODEL_PREFIX}{key}"] = value.detach().cpu().contiguous()
    atomic_write(run / TENSORS, lambda tmp: save_file(tensors, tmp))
    meta = {**meta, "param_groups": state["param_groups"]}
    atomic_write_bytes(run / META, json.dumps(meta, indent=2).encode())


def has_train_state(run: Path) -> bool:
    return (run / META).is_file() and (run / TENSORS).is_file()


def load_train_state(
    run: Path, optimizer: torch.optim.Optimizer | None, model: torch.nn.Module | None = None
) -> dict[str, Any]:
    """Restore the optimiser (and the model, when its weights were saved) from ``run`` and
    return the saved ``meta``."""
    meta = json.loads((run / META).read_text())
    state: dict[int, dict[str, torch.Tensor]] = {}
    weights: dict[str, torch.Tensor] = {}
    for name, value in load_file(str(run / TENSORS)).items():
        if name.startswith(MODEL_PREFIX):
            weights[name[len(MODEL_PREFIX) :]] = value
            continue
        index, key = name.split(".", 1)
        state.setdefault(int(index), {})[key] = value
    if model is not None:
        model.load_state_dict(weights)
    if optimizer is not None:
        optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    return meta


def read_train_meta(run: Path) -> dict[str, Any]:
    """The saved step and settings, without loading any tensor."""
    return json.loads((run / META).read_text())
