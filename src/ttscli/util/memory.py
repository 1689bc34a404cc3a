"""Keep a long-running process's memory flat as lines of every length go through it.

Three things grow with the number of distinct lengths seen, not with the longest one:

- oneDNN, torch's CPU convolution library, keeps a compiled kernel for every layer and input
  shape it has met (up to a thousand). Every line has its own length, so a batch of lines
  would fill that cache with kernels it never uses again. The voice rounds its lengths up to
  a few sizes (``ttscli.fs2.shape_buckets``), so a batch needs a few hundred kernels, each
  built once; ``limit_kernel_cache`` bounds the cache at about that many.
- glibc serves large allocations from ``mmap`` at first, but after one is freed it raises its
  threshold to that size, so ever larger tensors come from the heap. ``release_large_frees``
  fixes the threshold; it is set high because every tensor above it page-faults fresh zeroed
  pages each time it is made, which made a batch of lines far slower when it was low.
- The heap keeps freed pieces for reuse rather than returning them; ``trim`` hands its free
  pages back, after each mini-batch of a batch and between a server's bursts of requests.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
from functools import lru_cache

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number
MMAP_THRESHOLD_BYTES = 16 << 20
"""Above this a tensor gets its own mapping (glibc's default starts at 128 KiB, then moves);
a vocoder's tensors for one line, a few MB each, stay below it and reuse the heap."""
KERNEL_CACHE_VARIABLE = "ONEDNN_PRIMITIVE_CACHE_CAPACITY"
KERNEL_CACHE_ENTRIES = 256
"""Enough for the kernels of every rounded length a batch of sentences meets (one per
convolution layer and length); a smaller cache is swept through each pass and rebuilds
them all."""


@lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL | None:
    """glibc, found once: ``find_library`` runs ``ldconfig`` in a subprocess."""
    if not sys.platform.startswith("linux"):
        return None
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


def limit_kernel_cache() -> None:
    """Bound oneDNN's kernel cache (see the module docstring) unless the user has set it.

    oneDNN reads the variable when it first builds a kernel, so this works after ``import
    torch`` as long as no convolution has run yet."""
    chosen = (KERNEL_CACHE_VARIABLE, "DNNL_PRIMITIVE_CACHE_CAPACITY")  # oneDNN reads either
    if not any(name in os.environ for name in chosen):
        os.environ[KERNEL_CACHE_VARIABLE] = str(KERNEL_CACHE_ENTRIES)


def release_large_frees() -> bool:
    """Fix glibc's mmap threshold (see the module docstring); False where there is no
    glibc (macOS, musl), which is harmless: those allocators return memory themselves."""
    libc = _libc()
    if libc is None:
        return False
    return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))


def trim() -> bool:
    """Return the heap's free pages to the system now (after a mini-batch or a request)."""
    libc = _libc()
    return bool(libc is not None and libc.malloc_trim(0))
