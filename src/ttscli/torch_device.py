"""``--device auto|cpu|cuda`` for both engines."""

from __future__ import annotations

import torch

from ttscli.errors import UserError

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def resolve_device(name: str) -> torch.device:
    """``auto`` prefers CUDA; asking for CUDA where there is none is a user error."""
    if name not in DEVICE_CHOICES and not name.startswith("cuda:"):
        raise UserError(f"--device {name}: expected one of auto, cpu, cuda")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"--device {name}: CUDA is not available on this machine (try cpu)")
    return torch.device(name)
