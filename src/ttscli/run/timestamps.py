"""``--timestamps``: word timings (and SSML marks) as JSON, SubRip or WebVTT subtitles."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from ttscli.engines.base import Word
from ttscli.util.atomic import atomic_write_bytes
from ttscli.util.errors import UserError
from ttscli.util.faults import writing

FORMATS = (".json", ".srt", ".vtt")


def batch_timestamps(value: Path) -> str:
    """In a batch ``--timestamps`` names a format (``vtt``, ``.srt``...): each line's
    timings go beside its audio. The suffix it stands for."""
    suffix = "." + str(value).lower().lstrip(".")
    if suffix not in FORMATS:
        raise UserError(f"--timestamps {value}: in a batch, name a format (json, srt or vtt); "
                        "each line's timings go beside its audio")  # fmt: skip
    return suffix


def check_timestamps_path(path: Path) -> None:
    if path.suffix.lower() not in FORMATS:
        raise UserError(f"--timestamps {path}: use a .json, .srt or .vtt file name")
    if not path.parent.is_dir():
        raise UserError(f"--timestamps {path}: folder {path.parent} does not exist")


def _clock(seconds: float, separator: str) -> str:
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def render(timings: Sequence[Word], suffix: str, marks: Sequence[Word] = ()) -> str:
    """One cue per word in the subtitle formats; JSON also lists the marks. A VTT file
    carries the marks as NOTE blocks, which players skip. In a dialogue each word says its
    speaker: ``"speaker": 1`` in JSON, a ``<v S1>`` voice span in VTT, ``[S1]`` in SRT."""
    if suffix == ".json":
        words = [_word_json(w) for w in timings]
        data: dict[str, object] = {"words": words}
        if marks:
            data["marks"] = [{"name": m.text, "time": round(m.start, 3)} for m in marks]
        return json.dumps(data, ensure_ascii=False, indent=1) + "\n"
    if suffix == ".vtt":
        blocks = ["WEBVTT\n"]
        cues = [(w.start, f"{_clock(w.start, '.')} --> {_clock(w.end, '.')}\n{_voice(w)}\n")
                for w in timings]  # fmt: skip
        notes = [(m.start, f"NOTE mark {_cue(m.text)} at {_clock(m.start, '.')}\n") for m in marks]
        blocks += [text for _, text in sorted(cues + notes, key=lambda item: item[0])]
        return "\n".join(blocks)
    blocks = [
        f"{n}\n{_clock(w.start, ',')} --> {_clock(w.end, ',')}\n{_said_by(w)}{w.text}\n"
        for n, w in enumerate(timings, 1)
    ]
    return "\n".join(blocks)


def _word_json(word: Word) -> dict[str, object]:
    data: dict[str, object] = {
        "word": word.text, "start": round(word.start, 3), "end": round(word.end, 3)
    }  # fmt: skip
    if word.speaker is not None:
        data["speaker"] = word.speaker
    return data


def _voice(word: Word) -> str:
    return _cue(word.text) if word.speaker is None else f"<v S{word.speaker}>{_cue(word.text)}"


def _said_by(word: Word) -> str:
    return "" if word.speaker is None else f"[S{word.speaker}] "


def _cue(text: str) -> str:
    """Text as a VTT cue holds it: no '-->' and no markup characters."""
    return text.replace("-->", "->").replace("&", "&amp;").replace("<", "&lt;")


def write_timestamps(path: Path, timings: Sequence[Word], marks: Sequence[Word] = ()) -> None:
    with writing(path):
        atomic_write_bytes(path, render(timings, path.suffix.lower(), marks).encode("utf-8"))
