"""``--device auto|cpu|cuda[:N]``, shared by both engines."""

from __future__ import annotations

from ttscli.util.errors import UserError


def resolve_device(device: str) -> str:
    """``auto`` -> cuda when usable, else cpu; an unusable explicit choice is a user error."""
    import torch

    choice = (device or "auto").strip().lower()
    if choice == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if choice == "cpu":
        return "cpu"
    if choice == "cuda" or choice.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise UserError(f"--device {device}: CUDA is not available here; use --device cpu")
        if ":" in choice:
            index = choice.split(":", 1)[1]
            if not index.isdigit() or int(index) >= torch.cuda.device_count():
                raise UserError(
                    f"--device {device}: no such GPU ({torch.cuda.device_count()} visible)"
                )
        return choice
    raise UserError(f"--device {device}: expected auto, cpu, cuda or cuda:N")
