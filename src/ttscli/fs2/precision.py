"""Which arithmetic the vocoder runs in.

On a CPU with Intel AMX, oneDNN multiplies bfloat16 matrices in dedicated tile units, several
times faster than float32. The FS2s waveform decoder is most of a sentence's arithmetic, and
in bfloat16 the judges hear it as in float32, so ``auto`` picks bfloat16 for it there. A mel
vocoder lost some words in bfloat16 (the benchmarks doc), so ``auto`` keeps it float32. The
acoustic model always stays float32: rounding there would move phoneme durations, which are
rounded to whole frames. Elsewhere bfloat16 has no hardware behind it and is slower, so
``auto`` keeps float32 (on a GPU too, where it has not been measured).
"""

from __future__ import annotations

import torch

from ttscli.fs2.kinds import Precision


def cpu_multiplies_bfloat16() -> bool:
    """Whether this CPU has AMX tiles (torch's own probe, private, hence the care)."""
    probe = getattr(torch.cpu, "_is_amx_tile_supported", None)
    try:
        return bool(probe()) if probe is not None else False
    except RuntimeError:
        return False


def vocoder_dtype(
    precision: Precision,
    device: torch.device,
    waveform_decoder: bool,
    fast_bfloat16: bool | None = None,
) -> torch.dtype:
    """The dtype of the network after the acoustic model: the FS2s ``waveform_decoder``, or
    else a mel vocoder; ``fast_bfloat16`` overrides the probe (tests)."""
    if precision is Precision.float32:
        return torch.float32
    if precision is Precision.bfloat16:
        return torch.bfloat16
    if device.type != "cpu" or not waveform_decoder:
        return torch.float32
    fast = cpu_multiplies_bfloat16() if fast_bfloat16 is None else fast_bfloat16
    return torch.bfloat16 if fast else torch.float32
