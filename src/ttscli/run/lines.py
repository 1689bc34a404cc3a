"""A file of lines to synthesise, read as a stream each time it is needed.

A batch may be millions of lines: they are never held whole, only read again (once to
find what is left to do, once to do it). Standard input, which cannot be read twice, is
copied to a temporary file first.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ttscli.util.errors import UserError, reading


@dataclass(frozen=True)
class BatchLine:
    index: int  # 1-based line number in the input file
    text: str


class LinesFile:
    """The non-blank lines of a UTF-8 file, with their line numbers; ``-`` is stdin."""

    def __init__(self, path: Path) -> None:
        self.name = str(path)
        self._spool: tempfile._TemporaryFileWrapper[bytes] | None = None
        if self.name == "-":
            # Lives as long as this object (the runs read it again), removed when it goes.
            self._spool = tempfile.NamedTemporaryFile(prefix="ttscli-stdin-")  # noqa: SIM115
            shutil.copyfileobj(sys.stdin.buffer, self._spool)
            self._spool.flush()
            self.path = Path(self._spool.name)
        else:
            self.path = path
        self.count = self._check()

    def _check(self) -> int:
        """Read it through once: missing, a folder, not UTF-8 or empty fails here, early."""
        count = 0
        with reading(f"--in {self.name}"):
            for _ in self:
                count += 1
        if not count:
            raise UserError(f"--in {self.name}: no text lines to synthesise")
        return count

    def __iter__(self) -> Iterator[BatchLine]:
        with self.path.open(encoding="utf-8") as handle:
            for number, raw in enumerate(handle, 1):
                text = raw.strip()
                if text:
                    yield BatchLine(number, text)

    def __len__(self) -> int:
        return self.count
