"""Does DNSMOS score loudness? The check behind reading the voice's OVRL beside Piper's:
Piper scales every sentence to full scale, ttscli speaks at the level of the recordings it
learnt from, so the same judge hears the two several decibels apart, and DNSMOS is given
the waveform as it is, with no level alignment of its own.

Each ``--wavs`` folder (``evaluate --save-audio`` writes one per system) is judged as it
is, at each of ``--gains`` (decibels; what passes full scale is clipped, as the judge
clips), and peak-normalised as Piper's output is. The table gives each row's median RMS
and peak level and its mean OVRL, SIG and BAK.

    python -m ttscli.lab check-judge-level --wavs runs/audio/teacher-seed0 \\
        --wavs runs/audio/ttscli-fs2s --gains=-6,-3,3 --limit 100
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import numpy as np
import soundfile

from ttscli.audio.resample import resample
from ttscli.lab.evaluation.evaluate import JUDGE_RATE, DnsmosJudge, rms_db
from ttscli.lab.evaluation.judge_pitch import number_list
from ttscli.util.errors import UserError

PEAK_NORMALISED = "peak-normalised"


def peak_db(audio: np.ndarray) -> float:
    """Peak level in dB full scale; silence reads as -inf rather than an error."""
    peak = float(np.max(np.abs(audio)))
    return 20.0 * float(np.log10(peak)) if peak > 0 else float("-inf")


@dataclass
class LevelRow:
    """One folder at one level, over all of its files."""

    label: str
    rms_db: list[float] = field(default_factory=list)
    peak_db: list[float] = field(default_factory=list)
    ovrl: list[float] = field(default_factory=list)
    sig: list[float] = field(default_factory=list)
    bak: list[float] = field(default_factory=list)

    def add(self, audio: np.ndarray, judge: DnsmosJudge) -> None:
        """Judge ``audio`` (16 kHz) after the clipping the judge applies, so the levels
        printed are those of what it heard."""
        heard = np.clip(audio, -1.0, 1.0)
        self.rms_db.append(rms_db(heard))
        self.peak_db.append(peak_db(heard))
        scores = judge.score(heard)
        self.ovrl.append(scores.ovrl)
        self.sig.append(scores.sig)
        self.bak.append(scores.bak)


def scaled(audio: np.ndarray, level: float | str) -> np.ndarray:
    """``audio`` moved by ``level`` dB, or brought to full-scale peak (Piper's own rule)."""
    if level == PEAK_NORMALISED:
        peak = float(np.max(np.abs(audio)))
        return audio / peak if peak > 0 else audio
    return audio * np.float32(10.0 ** (float(level) / 20.0))


def level_label(folder: Path, level: float | str) -> str:
    if level == PEAK_NORMALISED:
        return f"{folder.name}, {PEAK_NORMALISED}"
    return f"{folder.name}, as written" if level == 0 else f"{folder.name}, {level:+g} dB"


def folder_rows(
    folder: Path, levels: Sequence[float | str], judge: DnsmosJudge, limit: int
) -> list[LevelRow]:
    """One row per level for the first ``limit`` .wav files of ``folder``, in name order
    (the order ``evaluate --save-audio`` numbers its sentences in)."""
    files = sorted(folder.glob("*.wav"))[:limit]
    if not files:
        raise UserError(f"{folder}: no .wav files")
    rows = [LevelRow(level_label(folder, level)) for level in levels]
    for path in files:
        try:
            audio, rate = soundfile.read(path, dtype="float32")
        except (OSError, RuntimeError) as error:  # soundfile raises RuntimeError subclasses
            raise UserError(f"{path}: cannot read audio ({error})") from None
        if audio.ndim != 1:
            raise UserError(f"{path}: need mono audio")
        audio = resample(audio, rate, JUDGE_RATE)
        for level, row in zip(levels, rows, strict=True):
            row.add(scaled(audio, level), judge)
    return rows


def print_table(rows: Sequence[LevelRow], out: TextIO = sys.stdout) -> None:
    print("| audio | median RMS (dBFS) | median peak (dBFS) | OVRL | SIG | BAK |", file=out)
    print("|---|---:|---:|---:|---:|---:|", file=out)
    for row in rows:
        print(
            f"| {row.label} | {statistics.median(row.rms_db):.1f} "
            f"| {statistics.median(row.peak_db):.1f} | {statistics.fmean(row.ovrl):.3f} "
            f"| {statistics.fmean(row.sig):.3f} | {statistics.fmean(row.bak):.3f} |",
            file=out,
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--wavs",
        type=Path,
        action="append",
        required=True,
        help="a folder of .wav files; repeat for several",
    )
    parser.add_argument(
        "--gains", default="-6,-3,3", help="dB, comma-separated, as --gains=-6,3 (0 is added)"
    )
    parser.add_argument("--limit", type=int, default=100, help="the first N files of a folder")
    args = parser.parse_args(argv)
    try:
        if args.limit < 1:
            raise UserError("--limit must be at least 1")
        gains = number_list(args.gains, float)
        levels: list[float | str] = [*sorted({0.0, *gains}), PEAK_NORMALISED]
        judge = DnsmosJudge()
        rows = [
            row for folder in args.wavs for row in folder_rows(folder, levels, judge, args.limit)
        ]
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print_table(rows)
    return 0
