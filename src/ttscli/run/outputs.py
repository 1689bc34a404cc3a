"""Choosing and opening the sink for ``--out`` (nothing, ``-``, a file)."""

from __future__ import annotations

from pathlib import Path

from ttscli.audio.formats import format_for
from ttscli.audio.sinks import FileSink, Sink, StdoutSink
from ttscli.util.atomic import temp_path_beside
from ttscli.util.errors import UserError


def is_batch_dir(out: str | None) -> bool:
    """A batch writes to a folder: an existing folder, or a name without extension."""
    if out is None or out == "-":
        return False
    path = Path(out)
    return path.is_dir() or out.endswith(("/", "\\")) or not path.suffix


def check_output(out: str | None, output_device: str | None) -> None:
    """Validate where one utterance goes before any model is loaded: the sound device
    exists, or the file's format is known and its folder writable."""
    if out == "-":
        return
    if out is None:
        from ttscli.audio.soundcard import find_output_device

        find_output_device(output_device)
        return
    path = Path(out)
    if path.is_dir():
        raise UserError(f"--out {out}: is a folder; folders are for batches (--in LINES.txt)")
    format_for(path)
    folder = path.parent
    if not folder.is_dir():
        raise UserError(f"{path}: folder {folder} does not exist")
    try:
        temp_path_beside(path).unlink()
    except OSError as exc:
        raise UserError(f"{path}: cannot write here ({exc.strerror})") from None


def open_sink(out: str | None, sample_rate: int, output_device: str | None) -> Sink:
    if out == "-":
        return StdoutSink()
    if out is not None:
        return FileSink(Path(out), sample_rate)
    from ttscli.audio.soundcard import SoundCardSink

    return SoundCardSink(sample_rate, output_device)
