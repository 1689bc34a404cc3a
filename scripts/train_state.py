"""Resumable optimiser state without pickle, shared by the training scripts.

``torch.save`` of an optimiser is a pickle; ours is its tensors in safetensors and the
rest (step counters, hyper-parameters, param groups) in JSON, both written atomically.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from ttscli.atomic import atomic_write, atomic_write_bytes

TENSORS = "train_state.safetensors"
META = "train_state.json"


def save_train_state(run: Path, optimizer: torch.optim.Optimizer, meta: dict[str, Any]) -> None:
    """Store the optimiser moments and ``meta`` (anything JSON) in ``run``."""
    state = optimizer.state_dict()
    tensors = {
        f"{index}.{key}": value.detach().cpu().contiguous()
        for index, entries in state["state"].items()
        for key, value in entries.items()
        if isinstance(value, torch.Tensor)
    }
    atomic_write(run / TENSORS, lambda tmp: save_file(tensors, tmp))
    meta = {**meta, "param_groups": state["param_groups"]}
    atomic_write_bytes(run / META, json.dumps(meta, indent=2).encode())


def has_train_state(run: Path) -> bool:
    return (run / META).is_file() and (run / TENSORS).is_file()


def load_train_state(run: Path, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """Restore the optimiser from ``run`` and return the saved ``meta``."""
    meta = json.loads((run / META).read_text())
    state: dict[int, dict[str, torch.Tensor]] = {}
    for name, value in load_file(str(run / TENSORS)).items():
        index, key = name.split(".", 1)
        state.setdefault(int(index), {})[key] = value
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    return meta
