"""``manifest.jsonl``: one JSON line per audio file of a batch, the record of what is done.

Written so that no crash loses or corrupts it and memory stays flat in the number of
lines: during a run each finished line is appended as one complete line (a crash can at
most leave a torn last line, which is ignored); at the start and the end of a run the
file is rewritten, atomically, sorted by line number, with stale entries dropped. What is
kept in memory is a few bytes per line number (a hash of the text and a file offset),
never the texts.

A line counts as done when the manifest has it with the same text (and, for a line with
an id, the same id, content and options), in the requested format, and its file exists;
anything else is made again. A line with an id is found by its id, wherever it has moved.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from ttscli.run.lines import BatchLine, identity_of
from ttscli.util.atomic import atomic_write
from ttscli.util.faults import os_error, writing

MANIFEST = "manifest.jsonl"


def text_key(text: str) -> int:
    """A 63-bit digest of a line's text (never 0, which marks "no line")."""
    digest = int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "big")
    return (digest >> 1) or 1


class Manifest:
    """The manifest of one output folder, for one run over one input."""

    def __init__(self, out_dir: Path, fmt: str, timestamps: str | None = None) -> None:
        """``timestamps``: each line also has a timing file of this suffix (``.vtt``...),
        and a line without one is not done."""
        self.out_dir = out_dir
        self.path = out_dir / MANIFEST
        self.fmt = fmt
        self.timestamps = timestamps
        self.keys = np.zeros(0, dtype=np.int64)  # text key of each wanted line, by index
        self.offsets = np.zeros(0, dtype=np.int64)  # where its entry starts, -1 = none
        self.width = 4
        self.lines = 0
        self.ids: dict[int, str] = {}
        """The id of each wanted line that has one, by line number."""
        self._by_id: dict[str, int] = {}
        self._dirty = False

    # -- starting a run --------------------------------------------------------------------
    def resume(self, lines: Iterable[BatchLine]) -> int:
        """Read what is wanted and what is done; returns how many lines are done already.

        Leaves the manifest sorted and holding only valid entries of wanted lines.
        """
        last = 0
        for line in lines:
            self._grow(line.index)
            self.keys[line.index] = text_key(line.identity())
            if line.id is not None:
                self.ids[line.index] = line.id
                self._by_id[line.id] = line.index
            last = max(last, line.index)
            self.lines += 1
        self.width = max(4, len(str(last)))
        if self.path.is_file():
            self._read_existing()
        if self._dirty:
            self._rewrite_sorted()
        return int((self.offsets >= 0).sum())

    def is_done(self, index: int) -> bool:
        return bool(self.offsets[index] >= 0)

    def _grow(self, index: int) -> None:
        if index >= len(self.keys):
            size = max(1024, 2 * index)
            self.keys = np.concatenate([self.keys, np.zeros(size - len(self.keys), np.int64)])
            extra = np.full(size - len(self.offsets), -1, np.int64)
            self.offsets = np.concatenate([self.offsets, extra])

    def _read_existing(self) -> None:
        with self.path.open("rb") as handle:
            offset = 0
            for raw in handle:
                start, offset = offset, offset + len(raw)
                entry = _parse(raw)
                index = None if entry is None else self._wanted_index(entry)
                if index is None:
                    self._dirty = True  # torn, stale, or of a line no longer wanted
                    continue
                if self.offsets[index] >= 0:
                    self._dirty = True  # a duplicate: the later one wins
                self.offsets[index] = start
        if not self._is_sorted():
            self._dirty = True

    def _is_sorted(self) -> bool:
        present = self.offsets[self.offsets >= 0]
        return bool(np.all(np.diff(present) > 0))

    def _wanted_index(self, entry: dict[str, Any]) -> int | None:
        """The line an entry is a valid record of, if any: found by its id (a line with
        one) or its line number, with the same identity and its files present."""
        line_id = entry.get("id")
        index = self._by_id.get(line_id) if isinstance(line_id, str) else entry.get("index")
        if line_id is None and index in self.ids:
            return None  # a line that now has an id was made without one
        valid = (
            isinstance(index, int)
            and 0 < index < len(self.keys)
            and self.keys[index] != 0
            and isinstance(entry.get("text"), str)
            and self.keys[index] == text_key(_identity(entry))
            and self._names_file(entry, "path", self.file_name(index))
            and (
                self.timestamps is None
                or self._names_file(entry, "timestamps", self.timings_name(index))
            )
        )
        return index if valid else None

    def _names_file(self, entry: dict[str, Any], key: str, name: str) -> bool:
        """Whether ``entry[key]`` is ``name`` and that file is in the output folder."""
        return entry.get(key) == name and (self.out_dir / name).is_file()

    # -- during a run ----------------------------------------------------------------------
    def stem(self, index: int) -> str:
        """What line ``index``'s files are called: its id, or its line number."""
        line_id = self.ids.get(index)
        return line_id if line_id is not None else f"{index:0{self.width}d}"

    def file_name(self, index: int) -> str:
        """The audio file of line ``index``, relative to the output folder."""
        return f"{self.stem(index)}.{self.fmt}"

    def timings_name(self, index: int) -> str:
        """The timing file of line ``index`` (when the run asked for them)."""
        return f"{self.stem(index)}{self.timestamps}"

    def record(self, line: BatchLine, phonemes: str | None, seconds: float) -> None:
        """Record that ``line``'s file (``file_name(line.index)``) now exists, and its
        timing file when the run asked for them; with its id, content and options."""
        index = line.index
        entry: dict[str, Any] = {"index": index}
        if line.id is not None:
            entry["id"] = line.id
        entry["text"] = line.text
        if line.ssml:
            entry["ssml"] = True
        if line.turns:
            entry["turns"] = list(line.turns)
        if line.options():
            entry["options"] = line.options()
        entry.update(phonemes=phonemes, seconds=round(seconds, 3), path=self.file_name(index))
        if self.timestamps is not None:
            entry["timestamps"] = self.timings_name(index)
        self.append(entry)

    def append(self, entry: dict[str, Any]) -> None:
        """Record one finished line: one write of one whole line, at the end of the file."""
        data = (json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8")
        with writing(self.path):
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
            try:
                start = os.lseek(fd, 0, os.SEEK_END)
                if os.write(fd, data) != len(data):  # a full disk takes what fits
                    raise os_error(errno.ENOSPC, self.path)
            finally:
                os.close(fd)
        if self.offsets[entry["index"]] >= 0:
            self._dirty = True  # made again: the old entry must go
        self.offsets[entry["index"]] = start

    # -- ending a run ----------------------------------------------------------------------
    def finish(self) -> None:
        """Leave the manifest sorted by line number (and present, even for nothing done)."""
        if self._dirty or not self._is_sorted() or not self.path.exists():
            self._rewrite_sorted()

    def _rewrite_sorted(self) -> None:
        order = np.flatnonzero(self.offsets >= 0)
        source = self.path if self.path.is_file() else None

        def write(tmp: str) -> None:
            with open(tmp, "wb") as out:
                if source is None:
                    return
                with source.open("rb") as handle:
                    for index in order:
                        handle.seek(int(self.offsets[index]))
                        out.write(handle.readline())

        atomic_write(self.path, write)
        position = 0
        if source is not None:
            with self.path.open("rb") as handle:
                for index in order:
                    self.offsets[index] = position
                    position += len(handle.readline())
        self._dirty = False


def _identity(entry: dict[str, Any]) -> str:
    """``BatchLine.identity`` of the line an entry records."""
    if "id" not in entry and not any(k in entry for k in ("options", "ssml", "turns")):
        return str(entry["text"])
    return identity_of(
        entry["text"], entry.get("options") or {}, bool(entry.get("ssml")), entry.get("turns") or []
    )


def _parse(raw: bytes) -> dict[str, Any] | None:
    if not raw.endswith(b"\n"):
        return None  # torn by a crash mid-write
    try:
        entry = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return entry if isinstance(entry, dict) else None
