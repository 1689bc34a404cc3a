"""Does a mel vocoder render the F0 its mel asks for? The check behind `--pitch` through the
model: an acoustic model that follows the pitch embedding is of no use if the vocoder
keeps its own F0.

Each recording is moved by Praat's PSOLA to several pitch ratios; its true log-mel (and,
for a vocoder that reads pitch, its two-pass Praat F0) goes through the vocoder; the
table gives the median over recordings of the output's median F0 (``speech_f0``, the
judge of ``evaluate.py --pitch``) over the unshifted recording's, beside the same ratio
read on the PSOLA copy itself (what the vocoder was asked for). ``--dnsmos`` adds DNSMOS
OVRL of the copies and of the vocoder's audio (needs the ``eval`` extra). ``--mels
original`` hands the vocoder the unshifted recording's mel with the copy's F0: what it gets
from an acoustic model whose mel does not show the new pitch, so only its F0 input can.

    python scripts/check_vocoder_f0.py --wavs DIR --limit 8 --vocoder runs/voc-nsf/best
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
import torch

from ttscli.audio.dsp import log_mel
from ttscli.audio.f0 import continuous_log_f0, median_speech_f0, voice_range_f0
from ttscli.audio.psola import psola_shift
from ttscli.fs2.engine import bundled_checkpoint
from ttscli.fs2.latent_vocoder import LatentVocoder
from ttscli.fs2.vocoders import load_bundled_latent
from ttscli.util.errors import UserError

DEFAULT_RATIOS = (0.7, 0.8, 1.0, 1.25, 1.5)


@dataclass
class RatioRow:
    """What one pitch ratio gave over all recordings."""

    ratio: float
    asked: list[float] = field(default_factory=list)  # PSOLA copy's F0 / original's
    rendered: list[float] = field(default_factory=list)  # vocoder output's F0 / original's
    asked_ovrl: list[float] = field(default_factory=list)
    rendered_ovrl: list[float] = field(default_factory=list)


def median_f0(audio: np.ndarray, rate: int) -> float:
    """``median_speech_f0``, NaN where it has no reading (the table takes NaN-aware medians)."""
    f0 = median_speech_f0(audio, rate)
    return float("nan") if f0 is None else f0


def vocode(
    vocoder: LatentVocoder, audio: np.ndarray, pitch_from: np.ndarray | None = None
) -> np.ndarray:
    """The vocoder's rendering of ``audio``'s own log-mel and, if it reads pitch, of the F0
    of ``pitch_from`` (the same frames at another pitch; default ``audio``)."""
    spec = vocoder.config.mel
    mel = log_mel(torch.from_numpy(audio)[None], spec)
    log_f0 = None
    if vocoder.reads_pitch:
        source = audio if pitch_from is None else pitch_from
        track = voice_range_f0(source, spec.sample_rate, spec.hop_length, frames=mel.shape[-1])
        log_f0 = torch.from_numpy(continuous_log_f0(track)[0])[None]
    with torch.inference_mode():
        return vocoder(mel, log_f0).squeeze(0).numpy()


def follow_table(
    vocoder: LatentVocoder,
    recordings: Sequence[Path],
    ratios: Sequence[float] = DEFAULT_RATIOS,
    judge_quality: bool = False,
    original_mels: bool = False,
) -> list[RatioRow]:
    rows = [RatioRow(ratio) for ratio in ratios]
    judge = None
    if judge_quality:
        from ttscli.lab.evaluation.evaluate import DnsmosJudge  # the eval extra

        judge = DnsmosJudge()
    rate = vocoder.config.mel.sample_rate
    for path in recordings:
        audio, file_rate = soundfile.read(path, dtype="float32")
        if file_rate != rate or audio.ndim != 1:
            raise UserError(f"{path}: need mono audio at {rate} Hz (got {file_rate} Hz)")
        reference = median_f0(audio, rate)
        for row in rows:
            copy = audio if row.ratio == 1.0 else psola_shift(audio, rate, row.ratio)
            rendered = vocode(vocoder, audio, copy) if original_mels else vocode(vocoder, copy)
            row.asked.append(median_f0(copy, rate) / reference)
            row.rendered.append(median_f0(rendered, rate) / reference)
            if judge is not None:
                row.asked_ovrl.append(judge.ovrl_at(copy, rate))
                row.rendered_ovrl.append(judge.ovrl_at(rendered, rate))
    return rows


def print_table(rows: Sequence[RatioRow], out: TextIO = sys.stdout) -> None:
    quality = any(row.asked_ovrl for row in rows)
    head = "| ratio | PSOLA copy F0 | vocoder F0 | vocoder F0 / asked |"
    rule = "|---:|---:|---:|---:|"
    if quality:
        head += " OVRL copy | OVRL vocoder |"
        rule += "---:|---:|"
    print(head, file=out)
    print(rule, file=out)
    for row in rows:
        asked = float(np.nanmedian(row.asked))
        rendered = float(np.nanmedian(row.rendered))
        line = f"| {row.ratio:g} | x{asked:.3f} | x{rendered:.3f} | {rendered / asked:.3f} |"
        if quality:
            line += (
                f" {statistics.fmean(row.asked_ovrl):.2f} |"
                f" {statistics.fmean(row.rendered_ovrl):.2f} |"
            )
        print(line, file=out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wavs", type=Path, required=True, help="folder of recordings (.wav)")
    parser.add_argument("--limit", type=int, default=8, help="the first N recordings by name")
    parser.add_argument("--vocoder", type=Path, default=None, help="default: the bundled one")
    parser.add_argument("--ratios", default=",".join(f"{r:g}" for r in DEFAULT_RATIOS))
    parser.add_argument("--dnsmos", action="store_true", help="also DNSMOS OVRL (eval extra)")
    parser.add_argument(
        "--mels",
        choices=["copy", "original"],
        default="copy",
        help="the copy's own mel, or the unshifted recording's with the copy's F0",
    )
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    try:
        recordings = sorted(args.wavs.glob("*.wav"))[: args.limit]
        if not recordings:
            raise UserError(f"--wavs {args.wavs}: no .wav files there")
        ratios = [float(r) for r in args.ratios.split(",") if r]
        if any(r <= 0 for r in ratios):
            raise UserError(f"--ratios {args.ratios}: ratios must be positive")
        torch.set_num_threads(args.threads)
        vocoder = load_bundled_latent(args.vocoder or bundled_checkpoint())
        rows = follow_table(
            vocoder, recordings, ratios, args.dnsmos, original_mels=args.mels == "original"
        )
    except (UserError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    mels = "the unshifted recordings' mels" if args.mels == "original" else "the copies' mels"
    print(
        f"{len(recordings)} recordings from {args.wavs}; vocoder {args.vocoder or 'bundled'}; "
        f"{mels}\n"
    )
    print_table(rows)
    return 0
