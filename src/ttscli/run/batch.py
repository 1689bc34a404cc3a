"""The batch runner: lines file -> one audio file per line plus ``manifest.jsonl``, resumable.

Shared by both engines through the engine interface: ``prepare_line`` checks a line and
makes the engine's input (with phonemes for the manifest and a length for sorting), and
``synthesize_batch`` turns a mini-batch of them into audio. Lines are length-sorted so each
mini-batch pads little.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from ttscli.audio.sinks import write_file
from ttscli.engines.base import Chunk, Engine, PreparedLine
from ttscli.run.line_engines import LineEngines
from ttscli.run.lines import BatchLine, LinesFile
from ttscli.run.manifest import MANIFEST, Manifest
from ttscli.run.timestamps import write_timestamps
from ttscli.util.atomic import remove_partials
from ttscli.util.errors import UserError
from ttscli.util.faults import WriteFault, writing
from ttscli.util.memory import trim

__all__ = ["MANIFEST", "BatchLine", "BatchSummary", "LinesFile", "run_batch"]

T = TypeVar("T")


@dataclass
class BatchSummary:
    written: int
    skipped: int
    seconds: float
    manifest: Path

    def describe(self) -> str:
        return (
            f"wrote {self.written} files ({self.seconds:.1f} s of audio), skipped "
            f"{self.skipped} already done; manifest {self.manifest}"
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "written": self.written,
            "skipped": self.skipped,
            "seconds": round(self.seconds, 3),
            "manifest": str(self.manifest),
        }


def prepare_out_dir(out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError(f"--out {out_dir}: exists and is not a folder")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / ".ttscli-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise UserError(f"--out {out_dir}: cannot write here ({exc.strerror})") from None
    remove_partials(out_dir)


def check_batch_size(batch_size: int) -> None:
    if batch_size < 1:
        raise UserError(f"--batch-size {batch_size}: must be at least 1")


def run_batch(
    engine: Engine,
    lines: Iterable[BatchLine],
    out_dir: Path,
    fmt: str,
    options: Any = None,
    batch_size: int = 8,
    quiet: bool = False,
    timestamps: str | None = None,
    fields: Mapping[str, Any] | None = None,
    engines: LineEngines | None = None,
) -> BatchSummary:
    """Synthesise every line not already done and keep the manifest in step.

    ``lines`` is read as a stream, three times (what is wanted, a check of every line
    left to do, then the work): a ``LinesFile`` of any length, or a list. Memory stays
    flat in the number of lines: a window of lines is prepared and length-sorted at a
    time, so each mini-batch pads little. Files are written atomically and each is
    recorded in the manifest as soon as it exists, so an interrupted run loses at most
    the mini-batch in flight and the next run does only what is left. With
    ``timestamps`` (a suffix, ``.json``, ``.srt`` or ``.vtt``) each line's word timings
    go beside its audio, named in the manifest. ``fields``: the run's request fields,
    under a line's own (``options`` are what they make). ``engines``: how lines that ask
    for another model get it (by default every line is ``engine``'s).
    """
    engines = engines or LineEngines(engine)
    check_batch_size(batch_size)
    prepare_out_dir(out_dir)
    manifest = Manifest(out_dir, fmt, timestamps)
    skipped = manifest.resume(lines)
    pending = manifest.lines - skipped

    # Check every line left first: a bad line fails the run before any audio is made. The
    # first window's inputs are kept, so a batch of up to that many lines prepares each once.
    window = max(256, 16 * batch_size)
    checked: dict[int, PreparedLine] = {}
    for line in lines:
        if not manifest.is_done(line.index):
            prepared = prepare(engines, line, fields)
            if len(checked) < window:
                checked[line.index] = prepared

    seconds = 0.0
    written = 0
    # Only batches draw a progress bar: its module is not loaded for every command.
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    progress = Progress(
        TextColumn("[bold]synthesising"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=quiet or not pending,
        transient=False,
    )
    with progress:
        task = progress.add_task("batch", total=pending)
        todo = (line for line in lines if not manifest.is_done(line.index))
        for group in groups(todo, window):
            items = [
                (line, checked.pop(line.index, None) or prepare(engines, line, fields))
                for line in group
            ]
            made = synthesize_lines(engines, items, batch_size, options, fields)
            for line, prepared, chunk in made:
                try:
                    write_file(
                        out_dir / manifest.file_name(line.index), chunk.audio, chunk.sample_rate
                    )
                    if timestamps is not None:
                        target = out_dir / manifest.timings_name(line.index)
                        write_timestamps(target, chunk.words, chunk.marks)
                    manifest.record(line, prepared.phonemes, chunk.seconds)
                except WriteFault as fault:
                    raise fault.after(kept(skipped + written, manifest)) from None
                written += 1
                seconds += chunk.seconds
                progress.advance(task, 1)
    with writing(manifest.path):
        manifest.finish()
    return BatchSummary(written=pending, skipped=skipped, seconds=seconds, manifest=manifest.path)


def kept(done: int, manifest: Manifest) -> str:
    """What a batch that stopped on a fault of the machine has kept, for its message."""
    return (
        f"{done} of {manifest.lines} lines are done and recorded in {manifest.path}, "
        "which a rerun resumes from"
    )


def synthesize_lines(
    engines: LineEngines,
    items: list[tuple[BatchLine, PreparedLine]],
    batch_size: int,
    options: Any,
    fields: Mapping[str, Any] | None = None,
) -> Iterator[tuple[BatchLine, PreparedLine, Chunk]]:
    """``synthesize_sorted`` for each engine's share of the lines, one engine after the
    other; ``options`` are the run's engine's, another engine makes its own from
    ``fields``."""
    shares: dict[int, tuple[Engine, list[tuple[BatchLine, PreparedLine]]]] = {}
    for line, prepared in items:
        engine = engines.for_line(line)
        shares.setdefault(id(engine), (engine, []))[1].append((line, prepared))
    for engine, share in shares.values():
        own = options if engine is engines.engine else engine.options(fields or {})
        yield from synthesize_sorted(engine, share, batch_size, own)


def synthesize_sorted(
    engine: Engine, items: list[tuple[T, PreparedLine]], batch_size: int, options: Any
) -> Iterator[tuple[T, PreparedLine, Chunk]]:
    """The items' audio, made in mini-batches of similar length (little padding), in that
    length order; each item comes back with what it was paired with. Lines with different
    voices and options share mini-batches, except where the engine says they cannot
    (``PreparedLine.batch_key``). The heap's free pages go back to the system after each
    mini-batch, so the next, longer one does not pile on top of them."""
    kinds: dict[Any, list[tuple[T, PreparedLine]]] = {}
    for item in sorted(items, key=lambda item: item[1].size):
        kinds.setdefault(item[1].batch_key, []).append(item)
    for ordered in kinds.values():
        for start in range(0, len(ordered), batch_size):
            mini = ordered[start : start + batch_size]
            chunks = engine.synthesize_batch([prepared for _, prepared in mini], options)
            for (key, prepared), chunk in zip(mini, chunks, strict=True):
                yield key, prepared, chunk
            del chunks
            trim()


def prepare(
    engines: LineEngines, line: BatchLine, fields: Mapping[str, Any] | None = None
) -> PreparedLine:
    """The input of the engine that speaks the line, with the line's own options when it
    has any (over the run's ``fields``); a bad line's error names its line number."""
    try:
        engine = engines.for_line(line)
        options = engine.options({**(fields or {}), **line.fields})
        return engine.prepare_line(line.content(), options)
    except UserError as exc:
        raise UserError(f"line {line.index}: {exc}") from None


def groups(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of ``size`` items (the last may be shorter), read as a stream."""
    group: list[T] = []
    for item in items:
        group.append(item)
        if len(group) == size:
            yield group
            group = []
    if group:
        yield group
