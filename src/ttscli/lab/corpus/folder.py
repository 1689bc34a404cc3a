"""The corpus folder format, read and written here and nowhere else.

A corpus is an LJSpeech-style folder that every lab step agrees on::

    wavs/<id>.wav       mono PCM at the mel sample rate, exactly ``samples`` long
    metadata.csv        id|text|normalised text        (LJSpeech, no header)
    alignments.jsonl    {"id", "phonemes", "durations", "samples"[, "pitch_shift"]}
    corpus.json         the settings the teacher corpus was made with (build-corpus)
    skipped.tsv         id<TAB>reason for each line the teacher could not use

Durations count mel frames, so ``samples`` is always their sum times the hop of
``MelSpec``: that invariant is what lets preprocessing cut a wav into exactly as many
frames as the labels claim. A bad line is an error that names the file and the line,
because a silently dropped utterance would surface only as a worse voice hours later.
Writes replace the whole file atomically (``ttscli.util.atomic``), so a crash never
leaves half a file under its name.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from ttscli.audio.dsp import MelSpec
from ttscli.util.atomic import atomic_write
from ttscli.util.errors import UserError

METADATA = "metadata.csv"
ALIGNMENTS = "alignments.jsonl"
SETTINGS = "corpus.json"
SKIPPED = "skipped.tsv"
WAVS = "wavs"

T = TypeVar("T")


class CorpusFormatError(UserError):
    """A corpus file that breaks the format; the message starts with ``file:line``."""


@dataclass(frozen=True)
class Alignment:
    """One utterance's phonemes and how many mel frames each lasts."""

    id: str
    phonemes: tuple[str, ...]
    durations: tuple[int, ...]
    samples: int
    pitch_shift: float | None = None
    """Only on PSOLA copies (shift-corpus): how far the copy was moved from the voice."""

    @property
    def frames(self) -> int:
        return sum(self.durations)

    def to_line(self) -> str:
        fields: dict[str, Any] = {
            "id": self.id,
            "phonemes": list(self.phonemes),
            "durations": list(self.durations),
            "samples": self.samples,
        }
        if self.pitch_shift is not None:
            fields["pitch_shift"] = self.pitch_shift
        return json.dumps(fields, ensure_ascii=False) + "\n"

    @classmethod
    def from_line(cls, line: str, hop: int | None = None) -> Alignment:
        """Parse and check one line; ``ValueError`` says what is wrong with it."""
        hop = hop or MelSpec().hop_length
        try:
            item = json.loads(line)
        except json.JSONDecodeError as error:
            raise ValueError(f"not JSON ({error.msg})") from None
        if not isinstance(item, dict):
            raise ValueError("not a JSON object")
        missing = [key for key in ("id", "phonemes", "durations", "samples") if key not in item]
        if missing:
            raise ValueError(f"no {', '.join(missing)}")
        utt_id, phonemes, durations = item["id"], item["phonemes"], item["durations"]
        if not isinstance(utt_id, str) or not utt_id:
            raise ValueError("id must be a non-empty string")
        if not isinstance(phonemes, list) or not all(isinstance(p, str) for p in phonemes):
            raise ValueError(f"{utt_id}: phonemes must be a list of strings")
        if not isinstance(durations, list) or not all(
            isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in durations
        ):
            raise ValueError(f"{utt_id}: durations must be whole frame counts >= 0")
        if not phonemes or len(phonemes) != len(durations):
            raise ValueError(f"{utt_id}: {len(phonemes)} phonemes but {len(durations)} durations")
        if item["samples"] != sum(durations) * hop:
            raise ValueError(
                f"{utt_id}: samples {item['samples']} is not the durations' "
                f"{sum(durations)} frames times hop {hop}"
            )
        shift = item.get("pitch_shift")
        if shift is not None and not (isinstance(shift, int | float) and shift > 0):
            raise ValueError(f"{utt_id}: pitch_shift must be a positive number")
        return cls(
            utt_id,
            tuple(phonemes),
            tuple(durations),
            int(item["samples"]),
            None if shift is None else float(shift),
        )


@dataclass(frozen=True)
class MetadataRow:
    """One metadata.csv line: the text as written and as the front-end normalised it."""

    id: str
    text: str
    normalized: str = ""

    @property
    def spoken(self) -> str:
        """What to phonemize: the normalised column when there is one (it reads best)."""
        return self.normalized or self.text

    def to_line(self) -> str:
        return f"{self.id}|{clean_field(self.text)}|{clean_field(self.normalized)}\n"

    @classmethod
    def from_line(cls, line: str) -> MetadataRow:
        fields = line.split("|")
        if len(fields) < 2 or not fields[0].strip():
            raise ValueError("expected id|text|normalised text")
        normalized = fields[2] if len(fields) > 2 else ""
        return cls(fields[0].strip(), fields[1], normalized)


def clean_field(text: str) -> str:
    """One metadata field: no pipes or line breaks, which would break the LJSpeech format."""
    return " ".join(text.replace("|", " ").split())


def wav_path(root: Path, utt_id: str) -> Path:
    return root / WAVS / f"{utt_id}.wav"


def parse_lines(
    path: Path, parse: Callable[[str], T], strict: bool = True
) -> tuple[list[T], list[CorpusFormatError]]:
    """Every non-blank line of ``path`` through ``parse``. Strict: the first bad line
    raises; otherwise bad lines come back as errors beside the good items (the corpus
    builder repairs what a crash cut short)."""
    if not path.is_file():
        raise CorpusFormatError(f"{path}: not found (an LJSpeech-style corpus folder is needed)")
    items: list[T] = []
    errors: list[CorpusFormatError] = []
    text = path.read_text(encoding="utf-8", errors="strict" if strict else "replace")
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            items.append(parse(line))
        except ValueError as error:
            problem = CorpusFormatError(f"{path}:{number}: {error}")
            if strict:
                raise problem from None
            errors.append(problem)
    return items, errors


def read_alignments(root: Path, strict: bool = True) -> list[Alignment]:
    return read_alignment_file(root / ALIGNMENTS, strict)


def read_alignment_file(path: Path, strict: bool = True) -> list[Alignment]:
    """An alignments.jsonl anywhere (``align-mas --compare`` reads a teacher's)."""
    return parse_lines(path, Alignment.from_line, strict)[0]


def read_metadata(root: Path, strict: bool = True) -> list[MetadataRow]:
    return parse_lines(root / METADATA, MetadataRow.from_line, strict)[0]


def write_lines(path: Path, lines: Iterable[str]) -> None:
    """Replace ``path`` with ``lines`` in one atomic step (fsynced before the rename)."""

    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8", newline="\n") as handle:
            handle.writelines(lines)
            handle.flush()
            os.fsync(handle.fileno())

    atomic_write(path, write)


def write_alignments(root: Path, alignments: Iterable[Alignment]) -> None:
    write_lines(root / ALIGNMENTS, (a.to_line() for a in alignments))


def write_metadata(root: Path, rows: Iterable[MetadataRow]) -> None:
    write_lines(root / METADATA, (row.to_line() for row in rows))


def require_corpus(root: Path, flag: str = "--corpus") -> None:
    """A one-line error for a folder that is not a corpus (before any work starts)."""
    for name in (ALIGNMENTS, METADATA):
        if not (root / name).is_file():
            raise CorpusFormatError(f"{flag} {root}: no {name} (make one with build-corpus)")


def read_settings(root: Path) -> dict[str, Any] | None:
    """corpus.json, or None before the first run."""
    path = root / SETTINGS
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise CorpusFormatError(f"{path}:{error.lineno}: not JSON ({error.msg})") from None


def write_settings(root: Path, record: dict[str, Any]) -> None:
    write_lines(root / SETTINGS, [json.dumps(record, indent=2) + "\n"])


def skip_line(utt_id: str, reason: str) -> str:
    return f"{utt_id}\t{' '.join(reason.split())}\n"


def read_skipped(root: Path) -> dict[str, str]:
    """Id -> reason; a line without a reason still marks its id as skipped."""
    path = root / SKIPPED
    if not path.exists():
        return {}
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return {i: reason for i, _, reason in (line.partition("\t") for line in lines) if i}


def write_skipped(root: Path, skipped: dict[str, str]) -> None:
    write_lines(root / SKIPPED, (skip_line(i, r) for i, r in sorted(skipped.items())))


class Appender:
    """The three text files open for appending while a build runs: a line per finished or
    skipped utterance, so a crash loses at most the utterance in flight (and the next
    ``read_*(strict=False)`` finds any half line)."""

    def __init__(self, root: Path) -> None:
        def open_(name: str) -> Any:
            return open(root / name, "a", encoding="utf-8", newline="\n")

        self.alignments, self.metadata, self.skipped = (
            open_(ALIGNMENTS),
            open_(METADATA),
            open_(SKIPPED),
        )

    def add(self, alignment: Alignment, row: MetadataRow) -> None:
        """Alignment line first, then metadata: the repair on open accepts that order."""
        self.alignments.write(alignment.to_line())
        self.alignments.flush()
        self.metadata.write(row.to_line())
        self.metadata.flush()

    def skip(self, utt_id: str, reason: str) -> None:
        self.skipped.write(skip_line(utt_id, reason))
        self.skipped.flush()

    def sync(self) -> None:
        for handle in (self.alignments, self.metadata):
            os.fsync(handle.fileno())

    def close(self) -> None:
        for handle in (self.alignments, self.metadata, self.skipped):
            handle.close()

    def __enter__(self) -> Appender:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
