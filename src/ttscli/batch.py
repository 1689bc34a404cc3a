"""The batch runner: lines file -> one audio file per line plus ``manifest.jsonl``, resumable.

Shared by both engines through the engine interface: ``prepare_line`` checks a line and
makes the engine's input (with phonemes for the manifest and a length for sorting), and
``synthesize_batch`` turns a mini-batch of them into audio. Lines are length-sorted so each
mini-batch pads little.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from ttscli.atomic import atomic_write_bytes
from ttscli.audio.sinks import write_file
from ttscli.engine import Engine, PreparedLine
from ttscli.errors import UserError
from ttscli.text_input import read_text_file

MANIFEST = "manifest.jsonl"


@dataclass(frozen=True)
class BatchLine:
    index: int  # 1-based line number in the input file
    text: str


@dataclass(frozen=True)
class _Pending:
    line: BatchLine
    prepared: PreparedLine


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


def read_lines(path: Path) -> list[BatchLine]:
    """Non-blank lines with their line numbers; ``-`` reads standard input."""
    raw = read_text_file(path)
    lines = [BatchLine(i, t.strip()) for i, t in enumerate(raw.splitlines(), 1) if t.strip()]
    if not lines:
        raise UserError(f"--in {path}: no text lines to synthesise")
    return lines


def _file_name(index: int, width: int, fmt: str) -> str:
    return f"{index:0{width}d}.{fmt}"


def _load_manifest(path: Path) -> dict[int, dict[str, Any]]:
    """Entries of a previous run; a line cut short by a crash is ignored."""
    entries: dict[int, dict[str, Any]] = {}
    if not path.is_file():
        return entries
    for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            entry = json.loads(raw)
            entries[int(entry["index"])] = entry
        except (json.JSONDecodeError, KeyError, TypeError, ValueError):
            continue
    return entries


def _save_manifest(path: Path, entries: dict[int, dict[str, Any]]) -> None:
    text = "".join(json.dumps(entries[i], ensure_ascii=False) + "\n" for i in sorted(entries))
    atomic_write_bytes(path, text.encode("utf-8"))


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
    for stale in out_dir.glob(".*.part"):
        stale.unlink(missing_ok=True)


def check_batch_size(batch_size: int) -> None:
    if batch_size < 1:
        raise UserError(f"--batch-size {batch_size}: must be at least 1")


def run_batch(
    engine: Engine,
    lines: Sequence[BatchLine],
    out_dir: Path,
    fmt: str,
    options: Any = None,
    batch_size: int = 8,
    quiet: bool = False,
) -> BatchSummary:
    """Synthesise every line not already done and keep the manifest in step.

    A line counts as done when the manifest has it with the same text and its file
    exists; everything else is (re)made, so editing a line and re-running redoes it.
    Files are written atomically and the manifest is rewritten atomically after every
    mini-batch, so an interrupted run loses at most the mini-batch in flight.
    """
    check_batch_size(batch_size)
    prepare_out_dir(out_dir)
    manifest_path = out_dir / MANIFEST
    entries = _load_manifest(manifest_path)
    width = max(4, len(str(max(line.index for line in lines))))
    wanted = {line.index for line in lines}
    entries = {i: e for i, e in entries.items() if i in wanted}

    pending: list[BatchLine] = []
    for line in lines:
        entry = entries.get(line.index)
        done = (
            entry is not None
            and entry.get("text") == line.text
            and (out_dir / str(entry.get("path", ""))).is_file()
            and str(entry.get("path", "")).endswith(f".{fmt}")
        )
        if not done:
            entries.pop(line.index, None)
            pending.append(line)
    skipped = len(lines) - len(pending)

    # Prepare everything first: a bad line fails the run before any audio is made.
    prepared = []
    for line in pending:
        try:
            prepared.append(_Pending(line, engine.prepare_line(line.text)))
        except UserError as exc:
            raise UserError(f"line {line.index}: {exc}") from None
    prepared.sort(key=lambda p: p.prepared.size)
    sample_rate = engine.sample_rate

    seconds = 0.0
    console = Console(stderr=True)
    progress = Progress(
        TextColumn("[bold]synthesising"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=quiet or not prepared,
        transient=False,
    )
    with progress:
        task = progress.add_task("batch", total=len(prepared))
        for start in range(0, len(prepared), batch_size):
            group = prepared[start : start + batch_size]
            chunks = engine.synthesize_batch([p.prepared for p in group], options)
            for item, chunk in zip(group, chunks, strict=True):
                name = _file_name(item.line.index, width, fmt)
                write_file(out_dir / name, chunk.audio, sample_rate)
                duration = chunk.seconds
                seconds += duration
                entries[item.line.index] = {
                    "index": item.line.index,
                    "text": item.line.text,
                    "phonemes": item.prepared.phonemes,
                    "seconds": round(duration, 3),
                    "path": name,
                }
            _save_manifest(manifest_path, entries)
            progress.advance(task, len(group))
    if not manifest_path.exists():
        _save_manifest(manifest_path, entries)
    return BatchSummary(
        written=len(prepared), skipped=skipped, seconds=seconds, manifest=manifest_path
    )
