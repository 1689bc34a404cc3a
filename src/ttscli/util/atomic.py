"""Atomic file replacement: a crash never leaves a half-written file under its name."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

PARTIAL_GLOB = ".*.part"
"""The names ``temp_path_beside`` gives its files."""


def temp_path_beside(path: Path) -> Path:
    """An empty temporary file in ``path``'s folder (so the final rename is atomic),
    with the permissions a plain ``open(path, "w")`` would have given it, not mkstemp's
    private 0600. Ctrl-C between its creation and its return removes it again."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        try:
            umask = os.umask(0)
            os.umask(umask)
            os.fchmod(fd, 0o666 & ~umask)
        finally:
            os.close(fd)  # once, whatever happened: a second close could hit a reused number
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def atomic_write(path: Path, write: Callable[[str], None], make_folder: bool = True) -> None:
    """Call ``write(tmp_path)`` on a temporary file beside ``path``, then rename it over
    ``path``; on any failure (Ctrl-C included) the temporary file is removed and ``path``
    is untouched. ``make_folder=False``: a missing folder is an error (a batch's folder
    removed mid-run must be reported, not quietly made again)."""
    if make_folder:
        path.parent.mkdir(parents=True, exist_ok=True)
    tmp: Path | None = None
    try:
        tmp = temp_path_beside(path)
        write(str(tmp))
        os.replace(tmp, path)
    except BaseException:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        raise


def remove_partials(folder: Path) -> None:
    """Delete what atomic writes into ``folder`` left (a process killed mid-write, or a
    Ctrl-C in the instant between a temporary file's creation and its first use); for a
    folder this process owns, such as a batch's output."""
    for stale in folder.glob(PARTIAL_GLOB):
        stale.unlink(missing_ok=True)


def atomic_write_bytes(path: Path, data: bytes, make_folder: bool = True) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(data), make_folder)
