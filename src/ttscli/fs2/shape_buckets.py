"""Round tensor lengths up to a few sizes, so that the CPU's convolution kernels are reused.

oneDNN builds (JIT-compiles) a kernel for every convolution shape it meets and keeps it in
a bounded cache. Every sentence has its own phoneme and frame counts, so without rounding
each line paid for building the kernels of every convolution layer again, a large share of
the vocoder's time. Rounded up, a batch meets a few dozen lengths, whose kernels stay in
the cache (``ttscli.util.memory.KERNEL_CACHE_ENTRIES``).

Padding in the acoustic model is masked like any batch padding, so it changes nothing. The
vocoder hears a row's own following frames, or its last frame held (at a line's end, the
silence it ends in), and its output is cut back to the row's length: that moves only the
rounding of the last frames' samples. A row's padding depends only on its own length, so a
line still sounds the same in whichever mini-batch it lands.
"""

from __future__ import annotations

SMALLEST_STEP = 8
STEPS_PER_OCTAVE = 8
"""The step is the length's highest power of two over this: padding is less than an eighth
of the length, and each doubling of length adds this many sizes."""


def padded_length(length: int) -> int:
    """``length`` rounded up to the next size in the grid (never below ``length``)."""
    if length <= SMALLEST_STEP:
        return max(length, 1)
    step = max(SMALLEST_STEP, (1 << (length.bit_length() - 1)) // STEPS_PER_OCTAVE)
    return -(-length // step) * step
