"""Where audio chunks go: a file, raw PCM on stdout, or the sound card.

Every sink has ``write(chunk)`` and ``close()``; the CLI drives them from an engine's
chunk stream and never needs to know which one it has.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
from pathlib import Path
from typing import BinaryIO, Protocol

import numpy as np
import soundfile as sf

from ttscli.audio.formats import FORMATS, format_for, to_pcm16
from ttscli.util.atomic import temp_path_beside
from ttscli.util.errors import UserError
from ttscli.util.faults import WriteFault, os_error, writing


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
        if path.is_dir():
            raise UserError(f"{path}: is a folder (batch output needs --in LINES.txt)")
        # What a user asks for is checked before a run (``run.outputs.check_output``); a
        # folder that is gone or unwritable now has failed during the run.
        with writing(path):
            self._tmp = temp_path_beside(path)
        try:
            self._file = sf.SoundFile(
                str(self._tmp),
                mode="w",
                samplerate=sample_rate,
                channels=1,
                format=container,
                subtype=subtype,
            )
        except (sf.LibsndfileError, OSError) as exc:
            self._tmp.unlink(missing_ok=True)
            raise self._fault(exc) from None

    def write(self, chunk: np.ndarray) -> None:
        try:
            self._file.write(chunk.astype(np.float32, copy=False))
        except (sf.LibsndfileError, OSError) as exc:
            raise self._fault(exc) from None

    def close(self) -> None:
        try:
            self._file.close()
        except (sf.LibsndfileError, OSError) as exc:
            raise self._fault(exc) from None
        with writing(self.path):
            os.replace(self._tmp, self.path)

    def abort(self) -> None:
        """Drop the temporary file; on a machine that is failing, as far as it can."""
        with contextlib.suppress(sf.LibsndfileError, OSError):
            self._file.close()
        with contextlib.suppress(OSError):
            self._tmp.unlink(missing_ok=True)

    def _fault(self, exc: Exception) -> WriteFault:
        """libsndfile says only "System error."; the errno it met says what happened."""
        if isinstance(exc, OSError):
            return WriteFault(str(self.path), exc)
        return WriteFault(str(self.path), os_error(_libsndfile_errno(self.path.parent)))


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
            with writing("standard output"):
                self._stream.write(to_pcm16(chunk))
                self._stream.flush()
        except BrokenPipeError:
            # The reader (head, a player) has gone: stop quietly, as Unix tools do.
            self._reader_left()

    def close(self) -> None:
        if not self.closed_by_reader:
            try:
                with writing("standard output"):
                    self._stream.flush()
            except BrokenPipeError:
                self._reader_left()

    def abort(self) -> None:
        """Stop writing; what is buffered goes nowhere (the output has failed or the run
        was interrupted)."""
        self._reader_left()

    def _reader_left(self) -> None:
        self.closed_by_reader = True
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def _libsndfile_errno(folder: Path) -> int:
    """The errno libsndfile's last call met (soundfile calls it through cffi, which keeps
    it); a full disk is recognised from the folder when that is not available."""
    code = getattr(getattr(sf, "_ffi", None), "errno", 0)
    if code:
        return int(code)
    try:
        stats = os.statvfs(folder if str(folder) else ".")
    except OSError:
        return errno.EIO
    return errno.ENOSPC if stats.f_bavail == 0 else errno.EIO
