"""How much does the voice's F0 move from frame to frame and across a sentence, against the
recordings it learnt from, and what do adding movement (``pitch_roughness`` in a
checkpoint's config), widening the intonation (``pitch_spread``) and moving the voice's
level (``pitch_level``) do to the judges at ``--pitch`` 1 and at the raised and lowered
ratios?

A pitch predictor trained by regression predicts the mean of what it heard, so its contour
keeps the sentence's intonation but loses the small movement within syllables that the
recordings have. Roughness here is the root-mean-square step, in semitones, between
neighbouring voiced frames (within runs of voiced frames), read by two trackers so that
neither's own jitter is mistaken for the voice's. Spread is the standard deviation of the
log-F0 of a sentence's voiced frames, in semitones (Praat): how far its intonation ranges,
which a regression-trained predictor also compresses. The recordings are the first ``--count``
utterances of a corpus folder, which ``train_fs2.py`` holds out for validation, so the
level is chosen on sentences the model never trained on and never on the evaluation set.

    python scripts/check_pitch_roughness.py --corpus data/joe --count 30 \\
        --levels 0,0.45,0.6,0.75 --ratios 1,1.5 --judge
    python scripts/check_pitch_roughness.py --corpus data/joe --count 64 \\
        --levels 0.6 --spreads 1,1.06 --pitch-levels 1,1.016 --judge
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import numpy as np
import soundfile

from ttscli.audio.dsp import MelSpec
from ttscli.audio.f0 import pyin_f0, voice_range_f0
from ttscli.fs2.config import (
    PITCH_LEVEL_RANGE,
    PITCH_ROUGHNESS_RANGE,
    PITCH_SPREAD_RANGE,
    span_text,
)
from ttscli.lab.evaluation.judge_pitch import number_list
from ttscli.util.errors import UserError

MIN_RUN_FRAMES = 4
"""Voiced runs shorter than this are left out: their steps are mostly the tracker's
onset and offset errors."""

Tracker = Callable[[np.ndarray, int, int], np.ndarray]
TRACKERS: dict[str, Tracker] = {"Praat": voice_range_f0, "pYIN": pyin_f0}
SPREAD_TRACKER = "Praat"
"""pYIN's Viterbi smoothing narrows both sources' range; Praat reads each frame alone."""


def f0_roughness(track: np.ndarray, min_run: int = MIN_RUN_FRAMES) -> float | None:
    """RMS step in semitones between neighbouring voiced frames of ``track`` (Hz, 0 where
    unvoiced), within voiced runs of at least ``min_run`` frames; None without such a run."""
    steps: list[np.ndarray] = []
    voiced = np.asarray(track) > 0
    edges = np.flatnonzero(np.diff(np.concatenate([[0], voiced.astype(np.int8), [0]])))
    for start, end in zip(edges[::2], edges[1::2], strict=True):
        if end - start >= min_run:
            steps.append(np.diff(12.0 * np.log2(track[start:end])))
    if not steps:
        return None
    return float(np.sqrt(np.mean(np.concatenate(steps) ** 2)))


@dataclass
class RoughnessRow:
    """One source of audio over all sentences: roughness by tracker, judges by ratio."""

    label: str
    roughness: dict[str, list[float]] = field(default_factory=dict)
    spread: list[float] = field(default_factory=list)
    """Per sentence: the standard deviation of its voiced log-F0, semitones (Praat)."""
    median_f0: list[float] = field(default_factory=list)
    """Per sentence: the median F0 of its voiced frames, Hz (Praat)."""
    ovrl: dict[float, list[float]] = field(default_factory=dict)
    hypotheses: dict[float, list[str]] = field(default_factory=dict)

    def measure(self, audio: np.ndarray, rate: int) -> None:
        for name, tracker in TRACKERS.items():
            track = tracker(audio, rate, MelSpec().hop_length)
            value = f0_roughness(track)
            if value is not None:
                self.roughness.setdefault(name, []).append(value)
            if name == SPREAD_TRACKER:
                self.measure_range(track[track > 0])

    def measure_range(self, voiced: np.ndarray) -> None:
        """Spread and median of one sentence's voiced F0 (Hz), where it has enough frames."""
        if len(voiced) >= MIN_RUN_FRAMES:
            self.spread.append(float(np.std(12.0 * np.log2(voiced))))
            self.median_f0.append(float(np.median(voiced)))


class Judges:
    """DNSMOS OVRL and PocketSphinx, loaded only when asked for (they are slow to load)."""

    def __init__(self) -> None:
        from ttscli.lab.evaluation.evaluate import DnsmosJudge, SphinxJudge

        self.dnsmos, self.sphinx = DnsmosJudge(), SphinxJudge()

    def judge(self, row: RoughnessRow, ratio: float, audio: np.ndarray, rate: int) -> None:
        from ttscli.audio.resample import resample
        from ttscli.lab.evaluation.evaluate import JUDGE_RATE

        heard = resample(audio, rate, JUDGE_RATE)
        row.ovrl.setdefault(ratio, []).append(self.dnsmos.score(heard).ovrl)
        row.hypotheses.setdefault(ratio, []).append(self.sphinx.transcribe(heard))


def held_out(corpus: Path, count: int) -> list[tuple[Path, str]]:
    """The first ``count`` utterances of a corpus folder: (recording, text)."""
    metadata = corpus / "metadata.csv"
    if not metadata.is_file():
        raise UserError(f"{corpus}: no metadata.csv (a folder made by build_corpus.py)")
    items = []
    for line in metadata.read_text(encoding="utf-8").splitlines()[:count]:
        name, text = line.split("|")[:2]
        path = corpus / "wavs" / f"{name}.wav"
        if not path.is_file():
            raise UserError(f"{path}: listed in metadata.csv but missing")
        items.append((path, text))
    return items


def measure(
    items: Sequence[tuple[Path, str]],
    levels: Sequence[float],
    ratios: Sequence[float],
    judges: Judges | None,
    progress: TextIO = sys.stderr,
    spreads: Sequence[float] = (1.0,),
    pitch_levels: Sequence[float] = (1.0,),
    checkpoint: Path | None = None,
) -> list[RoughnessRow]:
    """Rows for the recordings and for the voice at each roughness level, spread and
    pitch level."""
    from ttscli.fs2.engine import FS2Engine
    from ttscli.fs2.kinds import Controls

    engine = FS2Engine.load(checkpoint, device="cpu")
    adaptor = engine.model.variance_adaptor
    recordings = RoughnessRow("recordings")
    settings = [
        (level, spread, pitch_level)
        for pitch_level in pitch_levels
        for spread in spreads
        for level in levels
    ]
    voices = [
        RoughnessRow(f"voice, roughness {level:g}, spread {spread:g}, level {pitch_level:g}")
        for level, spread, pitch_level in settings
    ]
    for number, (path, text) in enumerate(items, 1):
        audio, rate = soundfile.read(path, dtype="float32")
        recordings.measure(audio, rate)
        if judges is not None:
            judges.judge(recordings, 1.0, audio, rate)
        # Roughness is read at 1 only; the other ratios are spoken only to be judged.
        spoken_ratios = ratios if judges is not None else [1.0]
        for (level, spread, pitch_level), row in zip(settings, voices, strict=True):
            adaptor.pitch_roughness, adaptor.pitch_spread = level, spread
            adaptor.pitch_level = pitch_level
            for ratio in spoken_ratios:
                chunks = engine.stream(text, Controls(pitch=ratio))
                spoken = np.concatenate([chunk.audio for chunk in chunks])
                if ratio == 1.0:
                    row.measure(spoken, engine.sample_rate)
                if judges is not None:
                    judges.judge(row, ratio, spoken, engine.sample_rate)
        print(f"{number}/{len(items)}", file=progress, flush=True)
    return [recordings, *voices]


def print_table(
    rows: Sequence[RoughnessRow], texts: Sequence[str], ratios: Sequence[float], out: TextIO
) -> None:
    from ttscli.lab.evaluation.evaluate import corpus_wer

    judged = [r for r in ratios if any(r in row.ovrl for row in rows)]
    head = "| audio | " + " | ".join(f"roughness {name}" for name in TRACKERS)
    head += " | spread | median F0"
    for ratio in judged:
        head += f" | WER @{ratio:g} | OVRL @{ratio:g}"
    print(head + " |", file=out)
    print("|---|" + "---:|" * (len(TRACKERS) + 2 + 2 * len(judged)), file=out)
    for row in rows:
        cells = [row.label]
        for name in TRACKERS:
            values = row.roughness.get(name)
            cells.append(f"{np.mean(values):.3f}" if values else "n/a")
        cells.append(f"{np.mean(row.spread):.2f}" if row.spread else "n/a")
        cells.append(f"{np.exp(np.mean(np.log(row.median_f0))):.1f}" if row.median_f0 else "n/a")
        for ratio in judged:
            if ratio in row.ovrl:
                cells.append(f"{corpus_wer(texts, row.hypotheses[ratio]):.3f}")
                cells.append(f"{np.mean(row.ovrl[ratio]):.2f}")
            else:
                cells += ["n/a", "n/a"]
        print("| " + " | ".join(cells) + " |", file=out)
    print(
        "Roughness: RMS step in semitones between neighbouring voiced frames "
        f"({MelSpec().hop_length}-sample hop), mean over sentences. Spread: standard "
        f"deviation of a sentence's voiced log-F0 in semitones ({SPREAD_TRACKER}), mean over "
        "sentences; median F0: Hz, geometric mean of the sentences' medians.",
        file=out,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, required=True, help="a build_corpus.py folder")
    parser.add_argument("--count", type=int, default=30, help="held-out utterances to use")
    parser.add_argument("--levels", default="0,0.45,0.6,0.75", help="roughness in semitones")
    parser.add_argument(
        "--spreads", default="1", help="pitch_spread factors (each with every level)"
    )
    parser.add_argument(
        "--pitch-levels", default="1", help="pitch_level factors (each with every spread)"
    )
    parser.add_argument(
        "--checkpoint", type=Path, default=None, help="the voice (default: the bundled one)"
    )
    parser.add_argument("--ratios", default="1,1.5", help="--pitch values to judge at")
    parser.add_argument("--judge", action="store_true", help="add DNSMOS OVRL and WER")
    args = parser.parse_args(argv)
    try:
        levels, ratios = number_list(args.levels, float), number_list(args.ratios, float)
        spreads = number_list(args.spreads, float)
        pitch_levels = number_list(args.pitch_levels, float)
        for flag, values, span, unit in (
            ("--levels", levels, PITCH_ROUGHNESS_RANGE, "semitones"),
            ("--spreads", spreads, PITCH_SPREAD_RANGE, "factors"),
            ("--pitch-levels", pitch_levels, PITCH_LEVEL_RANGE, "factors"),
        ):
            if not all(span[0] <= value <= span[1] for value in values):
                raise UserError(f"{flag}: {unit} in {span_text(span)}")
        if 1.0 not in ratios:
            ratios = [1.0, *ratios]
        items = held_out(args.corpus, args.count)
        if not items:
            raise UserError(f"{args.corpus}: metadata.csv lists no utterances")
        judges = Judges() if args.judge else None
        rows = measure(
            items,
            levels,
            ratios,
            judges,
            spreads=spreads,
            pitch_levels=pitch_levels,
            checkpoint=args.checkpoint,
        )
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print_table(rows, [text for _, text in items], ratios, sys.stdout)
    return 0
