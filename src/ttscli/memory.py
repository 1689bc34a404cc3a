"""Give memory back to the system as torch frees it, for long batches and servers.

glibc serves large allocations from ``mmap`` at first, but after one is freed it raises its
threshold to that size, so later tensors of that size come from the heap, whose freed
pieces are kept for reuse rather than returned. A process that makes tensors of many sizes
(every line or request has its own length) then keeps growing. Fixing the threshold makes
every large tensor its own mapping, returned to the system when torch frees it; the cost is
a page fault per page the next tensor touches, paid only by tensors above the threshold.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from functools import lru_cache

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number
MMAP_THRESHOLD_BYTES = 1 << 20
"""Above this a tensor gets its own mapping (glibc's default starts at 128 KiB, then moves)."""


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


def release_large_frees() -> bool:
    """Fix glibc's mmap threshold (see the module docstring); False where there is no
    glibc (macOS, musl), which is harmless: those allocators return memory themselves."""
    libc = _libc()
    if libc is None:
        return False
    return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))


def trim() -> bool:
    """Return the heap's free pages to the system now (after a request, in a server)."""
    libc = _libc()
    return bool(libc is not None and libc.malloc_trim(0))
