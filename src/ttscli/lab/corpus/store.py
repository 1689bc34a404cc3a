"""The teacher corpus as a resumable store: what is provably done survives a crash, the
rest is redone.

An utterance is done when its wav exists with the right length AND its alignment line
parses. Opening the folder repairs it (stray temporary files, cut or orphaned lines,
wavs without an alignment are removed) and rewrites the text files sorted by id; new
utterances are then appended (wav first, atomically; then the alignment line; then the
metadata line), and at the end the files are rewritten sorted again. Lines in skipped.tsv
are not tried again (same settings, same result) unless the caller drops them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ttscli.audio.dsp import MelSpec
from ttscli.lab.corpus.folder import (
    ALIGNMENTS,
    METADATA,
    WAVS,
    Alignment,
    Appender,
    MetadataRow,
    clean_field,
    parse_lines,
    read_skipped,
    wav_path,
    write_alignments,
    write_metadata,
    write_skipped,
)
from ttscli.lab.corpus.words import normalized_text
from ttscli.util.atomic import PARTIAL_GLOB, atomic_write

ID_PREFIX = "joe_"


def utterance_id(line_number: int) -> str:
    """Ids follow 1-based line numbers of the text file, blank lines included."""
    return f"{ID_PREFIX}{line_number:05d}"


def read_lines(path: Path) -> dict[int, str]:
    """Non-blank lines by 1-based line number."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return {n: line.strip() for n, line in enumerate(lines, 1) if line.strip()}


@dataclass
class Repair:
    """What opening the folder had to fix (printed, so a crash leaves a visible trace)."""

    temp_files: int = 0
    bad_lines: int = 0
    orphan_wavs: int = 0
    stale: int = 0
    metadata_rebuilt: int = 0

    def __str__(self) -> str:
        parts = [f"{value} {name.replace('_', ' ')}" for name, value in asdict(self).items()]
        return "repaired: " + ", ".join(parts)

    def any(self) -> bool:
        return any(asdict(self).values())


@dataclass
class Record:
    """One finished utterance."""

    alignment: Alignment
    row: MetadataRow


@dataclass
class CorpusStore:
    """The output folder: done records in memory, files kept consistent with the wavs."""

    root: Path
    texts: dict[str, str]
    """Current input line for every id (all lines, not just ``--limit``)."""
    records: dict[str, Record] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    """Id -> reason, for lines that gave no usable utterance."""
    repair: Repair = field(default_factory=Repair)

    def open(self) -> None:
        """Load what is done, drop what is not provably complete, rewrite the text files."""
        (self.root / WAVS).mkdir(parents=True, exist_ok=True)
        self._remove_temp_files()
        alignments = {a.id: a for a in self._lenient(ALIGNMENTS, Alignment.from_line)}
        metadata = {
            row.id: row
            for row in self._lenient(METADATA, MetadataRow.from_line)
            if row.text and row.normalized
        }
        for utt_id, alignment in sorted(alignments.items()):
            text = self.texts.get(utt_id)
            row = metadata.get(utt_id)
            if text is None or (row is not None and row.text != clean_field(text)):
                self.repair.stale += 1  # the input line changed: redo it
            elif not self._wav_complete(alignment):
                self.repair.stale += 1
            else:
                if row is None:
                    row = MetadataRow(utt_id, clean_field(text), clean_field(normalized_text(text)))
                    self.repair.metadata_rebuilt += 1
                self.records[utt_id] = Record(alignment, row)
        for wav in (self.root / WAVS).glob("*.wav"):
            if wav.stem not in self.records:
                wav.unlink()
                self.repair.orphan_wavs += 1
        self.skipped = {
            utt_id: reason
            for utt_id, reason in read_skipped(self.root).items()
            if utt_id in self.texts and utt_id not in self.records
        }
        self.rewrite()

    def _remove_temp_files(self) -> None:
        wavs = self.root / WAVS
        patterns = (
            (wavs, "*.tmp"),
            (wavs, PARTIAL_GLOB),
            (self.root, "*.tmp"),
            (self.root, PARTIAL_GLOB),
        )
        for folder, pattern in patterns:
            for tmp in folder.glob(pattern):
                tmp.unlink()
                self.repair.temp_files += 1

    def _lenient(self, name: str, parse):  # type: ignore[no-untyped-def]
        path = self.root / name
        if not path.exists():
            return []
        items, errors = parse_lines(path, parse, strict=False)
        self.repair.bad_lines += len(errors)
        return items

    def _wav_complete(self, alignment: Alignment) -> bool:
        import soundfile

        try:
            info = soundfile.info(str(wav_path(self.root, alignment.id)))
        except (OSError, RuntimeError):  # missing or unreadable
            return False
        wanted = (alignment.samples, MelSpec().sample_rate, 1)
        return (info.frames, info.samplerate, info.channels) == wanted

    def rewrite(self) -> None:
        """The text files from the records, sorted by id, each replaced atomically."""
        ordered = [self.records[key] for key in sorted(self.records)]
        write_alignments(self.root, (r.alignment for r in ordered))
        write_metadata(self.root, (r.row for r in ordered))
        write_skipped(self.root, self.skipped)

    def add(self, alignment: Alignment, row: MetadataRow, audio: np.ndarray, log: Appender) -> None:
        """Wav (atomically), then alignment line, then metadata line: a crash between any
        two steps leaves something ``open`` recognises and repairs."""
        import soundfile

        rate = MelSpec().sample_rate
        atomic_write(
            wav_path(self.root, alignment.id),
            lambda tmp: soundfile.write(tmp, audio, rate, subtype="PCM_16", format="WAV"),
        )
        log.add(alignment, row)
        self.records[alignment.id] = Record(alignment, row)

    def skip(self, utt_id: str, reason: str, log: Appender) -> None:
        log.skip(utt_id, reason)
        self.skipped[utt_id] = " ".join(reason.split())
