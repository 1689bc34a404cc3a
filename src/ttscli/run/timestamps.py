"""``--timestamps``: word timings as JSON or SubRip subtitles."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from ttscli.engines.base import Word
from ttscli.util.atomic import atomic_write_bytes
from ttscli.util.errors import UserError
from ttscli.util.faults import writing

FORMATS = (".json", ".srt")


def check_timestamps_path(path: Path) -> None:
    if path.suffix.lower() not in FORMATS:
        raise UserError(f"--timestamps {path}: use a .json or .srt file name")
    if not path.parent.is_dir():
        raise UserError(f"--timestamps {path}: folder {path.parent} does not exist")


def _srt_time(seconds: float) -> str:
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d},{millis:03d}"


def render(timings: Sequence[Word], suffix: str) -> str:
    if suffix == ".json":
        words = [
            {"word": w.text, "start": round(w.start, 3), "end": round(w.end, 3)} for w in timings
        ]
        return json.dumps({"words": words}, ensure_ascii=False, indent=1) + "\n"
    blocks = [
        f"{n}\n{_srt_time(w.start)} --> {_srt_time(w.end)}\n{w.text}\n"
        for n, w in enumerate(timings, 1)
    ]
    return "\n".join(blocks)


def write_timestamps(path: Path, timings: Sequence[Word]) -> None:
    with writing(path):
        atomic_write_bytes(path, render(timings, path.suffix.lower()).encode("utf-8"))
