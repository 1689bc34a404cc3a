"""Check F0 trackers against each other on real speech before training on one of them.

Reads ``*.wav`` files (a corpus's ``wavs/`` folder) and prints, per tracker, the median F0
and, against the first tracker listed (Praat by default), the share of frames both call
voiced on which they agree within 5 % and the shares read an octave up or down. pYIN is
the independent second opinion; WORLD Harvest and DIO are shown because earlier features
used DIO.

    python scripts/check_f0.py data/joe/wavs --limit 100
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import soundfile as sf

from ttscli.audio.dsp import MelSpec
from ttscli.audio.f0 import (
    F0_CEILING,
    F0_FLOOR,
    agreement,
    fit_frames,
    frame_count,
    praat_f0,
    pyin_f0,
    voice_range_f0,
)
from ttscli.util.errors import UserError, script_exit_code


def world_f0(method: str) -> Callable[[np.ndarray, int, int], np.ndarray]:
    def track(audio: np.ndarray, rate: int, hop: int) -> np.ndarray:
        import pyworld

        x = audio.astype(np.float64)
        period = hop / rate * 1000
        if method == "harvest":
            f0, t = pyworld.harvest(
                x, rate, f0_floor=F0_FLOOR, f0_ceil=F0_CEILING, frame_period=period
            )
        else:
            f0, t = pyworld.dio(x, rate, f0_floor=F0_FLOOR, f0_ceil=F0_CEILING, frame_period=period)
            f0 = pyworld.stonemask(x, f0, t, rate)
        return fit_frames(f0, frame_count(len(audio), hop))

    return track


TRACKERS: dict[str, Callable[[np.ndarray, int, int], np.ndarray]] = {
    "praat": praat_f0,
    "praat-range": voice_range_f0,
    "pyin": pyin_f0,
    "harvest": world_f0("harvest"),
    "dio": world_f0("dio"),
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="a folder of .wav files")
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument(
        "--trackers",
        default="praat,pyin,harvest,dio",
        help="comma-separated; the first is the reference the others are compared with "
        f"({', '.join(TRACKERS)}; praat-range: Praat in two passes, the features' tracker)",
    )
    args = parser.parse_args(argv)
    return script_exit_code(lambda: compare(args.folder, args.limit, args.trackers))


def compare(folder: Path, limit: int, trackers: str) -> int:
    names = [n for n in trackers.split(",") if n]
    unknown = [n for n in names if n not in TRACKERS]
    if unknown or not names:
        raise UserError(f"--trackers: any of {', '.join(TRACKERS)}, the reference first")
    files = sorted(folder.glob("*.wav"))[:limit]
    if not files:
        raise UserError(f"{folder}: no .wav files")
    tracks: dict[str, list[np.ndarray]] = {n: [] for n in names}
    for path in files:
        audio, rate = sf.read(str(path), dtype="float32")
        for name in names:
            tracks[name].append(TRACKERS[name](audio, rate, MelSpec().hop_length))
    reference = np.concatenate(tracks[names[0]])
    print(f"{len(files)} files, {len(reference)} frames of {MelSpec().hop_length} samples")
    print(
        f"| tracker | voiced | median F0 (Hz) | agrees with {names[0]} within 5 % "
        "| octave up | octave down |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for name in names:
        track = np.concatenate(tracks[name])
        voiced = track[track > 0]
        result = agreement(reference, track)
        print(
            f"| {name} | {np.mean(track > 0):.0%} | {np.median(voiced):.1f} | "
            f"{result.within:.1%} of {result.both_voiced} | {result.octave_up:.1%} | "
            f"{result.octave_down:.1%} |"
        )
    return 0
