"""Faults of the machine (a full disk, a read-only file system, a folder that vanished, a
failing sound card, too little memory) as one line that says what happened, where, and what
to do. Bad input has its own messages; this is for the moment the machine, not the user,
went wrong, which is when a clear line matters most."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ttscli.util.errors import UserError

IO_EXIT_CODE = 74
"""``EX_IOERR`` of sysexits.h: a script can tell a machine fault from a bad input (1)."""

REASONS: dict[int, tuple[str, str]] = {
    errno.ENOSPC: ("no space left on the device", "free some space"),
    errno.EDQUOT: ("the disk quota is used up", "free some space"),
    errno.EFBIG: (
        "the file grew past the largest size allowed here (the file system's, or `ulimit -f`)",
        "write to another file system or raise the limit",
    ),
    errno.EROFS: ("the file system is read-only", "write to another folder"),
    errno.EIO: ("the device reported an input/output error", "check the disk"),
    errno.ENOENT: ("its folder no longer exists", "create the folder again"),
    errno.ESTALE: ("the network file system lost the file", "check the mount"),
    errno.EACCES: ("permission denied", "write to a folder you may write to"),
    errno.EPERM: ("permission denied", "write to a folder you may write to"),
    errno.ENXIO: ("the device has gone", "check the device"),
}


class WriteFault(UserError):
    """Writing an output failed because of the machine. ``progress`` says what was kept."""

    def __init__(self, target: str, error: OSError, progress: str = "") -> None:
        reason, remedy = REASONS.get(
            error.errno or 0, (error.strerror or type(error).__name__, "check the machine")
        )
        self.target = target
        self.error = error
        self.progress = progress
        tail = progress or "nothing was written under that name"
        super().__init__(
            f"cannot write {target}: {reason}; {tail}; {remedy} and run the same command again",
            exit_code=IO_EXIT_CODE,
        )

    def after(self, progress: str) -> WriteFault:
        """The same fault, saying what a batch had finished before it."""
        return WriteFault(self.target, self.error, progress)


@contextmanager
def writing(target: str | Path) -> Iterator[None]:
    """Turn an ``OSError`` while writing ``target`` into a ``WriteFault`` (a closed pipe
    stays a ``BrokenPipeError``: its reader left, which is not a fault)."""
    try:
        yield
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise WriteFault(str(target), exc) from None


def os_error(code: int, filename: str | Path | None = None) -> OSError:
    """An ``OSError`` for an errno that a C library reported without raising one."""
    return OSError(code, os.strerror(code), None if filename is None else str(filename))


def out_of_memory(model: str, files: Iterable[Path], factor: float = 1.0) -> UserError:
    """Loading ``model`` ran out of memory: say how much its weights take at least."""
    size = 0
    for path in files:
        try:
            size += path.stat().st_size
        except OSError:
            continue
    need = f"at least {_amount(size * factor)} free" if size else "more free memory"
    return UserError(
        f"not enough memory to load {model}: it needs {need}; close other programs, "
        "or use a smaller model or another device (--device)",
        exit_code=IO_EXIT_CODE,
    )


def _amount(size: float) -> str:
    return f"{size / 2**30:.1f} GiB" if size >= 2**30 else f"{max(1, round(size / 2**20))} MiB"


def is_out_of_memory(exc: BaseException) -> bool:
    """Python's MemoryError, or a library saying so in its own words: torch's CPU allocator,
    CUDA, or safetensors failing to map a file (ENOMEM)."""
    if isinstance(exc, MemoryError):
        return True
    message = str(exc).lower()
    return any(
        sign in message
        for sign in ("can't allocate memory", "cannot allocate memory", "out of memory")
    )
