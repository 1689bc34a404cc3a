"""What the benchmarks need to know about the torch device they time."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def synchronize(device: str | torch.device) -> None:
    """Wait for the device: CUDA runs kernels asynchronously, so a clock read without this
    charges one stage's work to the next (a no-op on the CPU)."""
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def device_name(device: str | torch.device) -> str:
    """The GPU's model, or the CPU with the threads torch uses: what a table is read by."""
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({torch.get_num_threads()} threads)"
