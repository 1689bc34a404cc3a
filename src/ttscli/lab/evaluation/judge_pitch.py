"""Does DNSMOS mark a voice down for being low, whatever made it low? The check behind the
quality target of ``--pitch 0.8``: a drop that a synthesiser with no pitch shifter also
shows belongs to the judge, not to a shifter, an acoustic model or a vocoder.

espeak-ng sets pitch as a parameter of its own synthesis (``-p``, 0-99), so its audio at a
lower pitch carries no shifting artefact. Each ``-p`` renders the same sentences; the table
gives the median F0 (``speech_f0``, the judge of ``evaluate.py --pitch``), its ratio to the
same sentences at ``-p 50`` (espeak-ng's default) and the mean DNSMOS OVRL. ``--wavs`` adds
recordings and their PSOLA copies at ``--ratios``, so both can be read at the same F0 in Hz.
``--bundled`` adds the bundled voice on the same sentences, at each ratio through its model
(``--pitch``) and PSOLA-shifted from its own output at 1: whether a drop belongs to how the
pitch is moved or to what is being moved.

    python scripts/check_judge_pitch.py --sentences src/ttscli/lab/data/lj_val.txt --limit 8 \\
        --pitches 0,10,20,30,40,50,75 --wavs DIR
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

from ttscli.audio.psola import psola_shift
from ttscli.lab.evaluation.evaluate import DnsmosJudge, EspeakSystem
from ttscli.lab.evaluation.vocoder_f0 import median_f0
from ttscli.util.errors import UserError

ESPEAK_DEFAULT_PITCH = 50
DEFAULT_PITCHES = (0, 10, 20, 30, 40, 50, 75)
DEFAULT_RATIOS = (0.8, 1.0, 1.5)


@dataclass
class JudgedRow:
    """One way of making the voice, over all sentences."""

    label: str
    f0_hz: list[float] = field(default_factory=list)
    ratio: list[float] = field(default_factory=list)  # F0 / the same sentence's reference F0
    ovrl: list[float] = field(default_factory=list)

    def add(self, audio: np.ndarray, rate: int, reference_f0: float, judge: DnsmosJudge) -> None:
        f0 = median_f0(audio, rate)
        self.f0_hz.append(f0)
        self.ratio.append(f0 / reference_f0)
        self.ovrl.append(judge.ovrl_at(audio, rate))


def espeak_rows(
    sentences: Sequence[str], pitches: Sequence[int], judge: DnsmosJudge, voice: str = "en-us"
) -> list[JudgedRow]:
    rows = [JudgedRow(f"espeak-ng -p {pitch}") for pitch in pitches]
    speakers = [EspeakSystem(voice, pitch) for pitch in pitches]
    default = EspeakSystem(voice, ESPEAK_DEFAULT_PITCH)
    for text in sentences:
        reference = median_f0(*default.waveform(text))
        for speaker, row in zip(speakers, rows, strict=True):
            row.add(*speaker.waveform(text), reference, judge)
    return rows


def recording_rows(
    recordings: Sequence[Path], ratios: Sequence[float], judge: DnsmosJudge
) -> list[JudgedRow]:
    rows = [JudgedRow(f"recording, PSOLA x{ratio:g}") for ratio in ratios]
    for path in recordings:
        audio, rate = soundfile.read(path, dtype="float32")
        if audio.ndim != 1:
            raise UserError(f"{path}: need mono audio")
        reference = median_f0(audio, rate)
        for ratio, row in zip(ratios, rows, strict=True):
            copy = audio if ratio == 1.0 else psola_shift(audio, rate, ratio)
            row.add(copy, rate, reference, judge)
    return rows


def bundled_voice_rows(
    sentences: Sequence[str], ratios: Sequence[float], judge: DnsmosJudge
) -> list[JudgedRow]:
    """If PSOLA on the voice's own output loses as much as the model's route, the judge is
    hearing the voice, not the way its pitch was moved."""
    from ttscli.fs2.engine import FS2Engine
    from ttscli.fs2.kinds import Controls

    engine = FS2Engine.load(None, device="cpu")
    rate = engine.sample_rate

    def speak(text: str, pitch: float) -> np.ndarray:
        return np.concatenate([chunk.audio for chunk in engine.stream(text, Controls(pitch))])

    through_model = {ratio: JudgedRow(f"bundled voice, --pitch {ratio:g}") for ratio in ratios}
    # At 1 both routes are the same audio: one row.
    shifted = {
        ratio: JudgedRow(f"bundled voice at 1, PSOLA x{ratio:g}")
        for ratio in ratios
        if ratio != 1.0
    }
    for text in sentences:
        own = speak(text, 1.0)
        reference = median_f0(own, rate)
        for ratio in ratios:
            renderings = [(through_model[ratio], own if ratio == 1.0 else speak(text, ratio))]
            if ratio in shifted:
                renderings.append((shifted[ratio], psola_shift(own, rate, ratio)))
            for row, audio in renderings:
                row.add(audio, rate, reference, judge)
    return [*through_model.values(), *shifted.values()]


def print_table(rows: Sequence[JudgedRow], out: TextIO = sys.stdout) -> None:
    print("| made by | median F0 (Hz) | F0 / reference | OVRL |", file=out)
    print("|---|---:|---:|---:|", file=out)
    for row in rows:
        print(
            f"| {row.label} | {np.nanmedian(row.f0_hz):.0f} | x{np.nanmedian(row.ratio):.3f}"
            f" | {statistics.fmean(row.ovrl):.2f} |",
            file=out,
        )


def number_list(text: str, kind: type) -> list:
    """A comma-separated option ("0.8,1,1.5") as numbers, or a one-line UserError."""
    try:
        values = [kind(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise UserError(f"not a comma-separated list of numbers: {text!r}") from None
    if not values:
        raise UserError("an empty list")
    return values


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sentences", type=Path, required=True, help="one sentence per line")
    parser.add_argument("--limit", type=int, default=8, help="the first N sentences / recordings")
    parser.add_argument("--pitches", default=",".join(map(str, DEFAULT_PITCHES)))
    parser.add_argument("--voice", default="en-us", help="espeak-ng voice")
    parser.add_argument("--wavs", type=Path, default=None, help="also these recordings (.wav)")
    parser.add_argument("--ratios", default=",".join(f"{r:g}" for r in DEFAULT_RATIOS))
    parser.add_argument(
        "--bundled",
        action="store_true",
        help="also the bundled voice at --ratios: through its model and PSOLA-shifted",
    )
    args = parser.parse_args(argv)
    try:
        pitches = number_list(args.pitches, int)
        if any(not 0 <= pitch <= 99 for pitch in pitches):
            raise UserError("espeak-ng pitches lie in 0-99")
        ratios = number_list(args.ratios, float)
        if any(ratio <= 0 for ratio in ratios):
            raise UserError("ratios must be positive")
        try:
            lines = args.sentences.read_text(encoding="utf-8").splitlines()
        except OSError as error:
            raise UserError(f"cannot read {args.sentences}: {error.strerror}") from None
        sentences = [line.strip() for line in lines if line.strip()][: args.limit]
        if not sentences:
            raise UserError(f"{args.sentences}: no sentences")
        recordings: list[Path] = []
        if args.wavs is not None:
            recordings = sorted(args.wavs.glob("*.wav"))[: args.limit]
            if not recordings:
                raise UserError(f"{args.wavs}: no .wav files")
        judge = DnsmosJudge()
        rows = recording_rows(recordings, ratios, judge) if recordings else []
        if args.bundled:
            rows += bundled_voice_rows(sentences, ratios, judge)
        rows += espeak_rows(sentences, pitches, judge, args.voice)
    except (UserError, RuntimeError) as error:  # RuntimeError: no espeak-ng binary
        print(f"error: {error}", file=sys.stderr)
        return 1
    print_table(rows)
    return 0
