"""Where audio chunks go: a file, raw PCM on stdout, or the sound card.

Every sink has ``write(chunk)`` and ``close()``; the CLI drives them from an engine's
chunk stream and never needs to know which one it has.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import BinaryIO, Protocol

import numpy as np
import soundfile as sf

from ttscli.audio.formats import FORMATS, format_for, to_pcm16
from ttscli.util.atomic import temp_path_beside
from ttscli.util.errors import UserError


class Sink(Protocol):
    underruns: int | None
    """Times the sound card ran dry; None for sinks that cannot underrun."""

    def write(self, chunk: np.ndarray) -> None: ...

    def close(self) -> None: ...

    def abort(self) -> None: ...


class FileSink:
    """Streams into a temporary file beside the target and renames it on ``close``.

    An interrupted or failed run therefore never leaves a truncated file under the
    final name, nor replaces a good file that was there before.
    """

    underruns = None

    def __init__(self, path: Path, sample_rate: int) -> None:
        self.path = path
        self.format = format_for(path)
        container, subtype = FORMATS[self.format]
        folder = path.parent if str(path.parent) else Path(".")
        if not folder.is_dir():
            raise UserError(f"{path}: folder {folder} does not exist")
        if path.is_dir():
            raise UserError(f"{path}: is a folder (batch output needs --in LINES.txt)")
        try:
            self._tmp = temp_path_beside(path)
        except OSError as exc:
            raise UserError(f"{path}: cannot write here ({exc.strerror})") from None
        self._file = sf.SoundFile(
            str(self._tmp),
            mode="w",
            samplerate=sample_rate,
            channels=1,
            format=container,
            subtype=subtype,
        )

    def write(self, chunk: np.ndarray) -> None:
        self._file.write(chunk.astype(np.float32, copy=False))

    def close(self) -> None:
        self._file.close()
        os.replace(self._tmp, self.path)

    def abort(self) -> None:
        self._file.close()
        self._tmp.unlink(missing_ok=True)


def write_file(path: Path, audio: np.ndarray, sample_rate: int) -> None:
    """Write one whole clip atomically."""
    sink = FileSink(path, sample_rate)
    try:
        sink.write(audio)
    except BaseException:
        sink.abort()
        raise
    sink.close()


class StdoutSink:
    """16-bit little-endian mono PCM on stdout, flushed per chunk for live pipes."""

    underruns = None

    def __init__(self, stream: BinaryIO | None = None) -> None:
        self._stream = stream if stream is not None else sys.stdout.buffer
        self.closed_by_reader = False

    def write(self, chunk: np.ndarray) -> None:
        if self.closed_by_reader:
            return
        try:
            self._stream.write(to_pcm16(chunk))
            self._stream.flush()
        except BrokenPipeError:
            # The reader (head, a player) has gone: stop quietly, as Unix tools do.
            self.closed_by_reader = True
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())

    def close(self) -> None:
        if not self.closed_by_reader:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self.closed_by_reader = True

    def abort(self) -> None:
        self.close()
