"""Where does the voice lose words against its teacher? One judge, the same phonemes, and
one part of the voice at a time replaced by what the teacher's recording holds.

The teacher corpus of held-out lines has, for each line, the teacher speaking *our*
front-end's phonemes, the frames each phoneme lasted, and (after ``preprocess``) the
recording's log-mel, F0 and energy. So each row below differs from the one above it in
one part only, and the WER between rows says what that part costs:

- the recordings: the teacher on our phonemes (the front-end's share is the gap between
  this row and the teacher on its own text, in ``evaluate``);
- the recordings' mels and F0 through the voice's mel vocoder: the vocoder's share, with
  a perfect acoustic model (``--model fs2`` only: FS2s has no mel to swap);
- the voice as it speaks, then with the recordings' durations, pitch or energy in place
  of its predictions: the share of each predictor.

    python -m ttscli.lab build-corpus --text src/ttscli/lab/data/lj_val.txt --out data/joe-val
    python -m ttscli.lab preprocess --corpus data/joe-val --out data/joe-val-feat
    python -m ttscli.lab check-wer-gap --corpus data/joe-val --features data/joe-val-feat

Each line is one utterance (no sentence split), so the voice's row can differ a little
from ``evaluate``'s, which speaks sentence by sentence.

``--dnsmos-level DB`` adds DNSMOS OVRL and SIG, every row's audio brought to that RMS level
first (DNSMOS scores loudness as well as sound, and the rows are not equally loud), so the
same table says which part of the voice costs sound as well as words.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np
import soundfile as sf
import torch

from ttscli.audio.resample import resample
from ttscli.fs2.engine import FS2Engine
from ttscli.fs2.kinds import ModelKind
from ttscli.fs2.model import Controls
from ttscli.lab.corpus.folder import read_metadata, require_corpus, wav_path
from ttscli.lab.evaluation.evaluate import (
    JUDGE_RATE,
    DnsmosJudge,
    MosScores,
    SphinxJudge,
    add_dnsmos_level,
    check_dnsmos_level,
    corpus_wer,
)
from ttscli.util.errors import UserError, script_exit_code


@dataclass(frozen=True)
class Line:
    """One held-out line: its text, the teacher's recording and the recording's features."""

    id: str
    text: str
    recording: Path
    features: dict[str, np.ndarray]


@dataclass(frozen=True)
class GapRow:
    name: str
    wer: float
    seconds: float
    mos: MosScores | None = None
    """Mean DNSMOS over the lines at the common level, when one was asked for."""


Render = Callable[[Line], np.ndarray]

VOICE_ROWS: tuple[tuple[str, frozenset[str]], ...] = (
    ("the voice", frozenset()),
    ("the voice, recorded durations", frozenset({"durations"})),
    ("the voice, recorded durations and pitch", frozenset({"durations", "pitch"})),
    ("the voice, recorded durations and energy", frozenset({"durations", "energy"})),
    (
        "the voice, recorded durations, pitch and energy",
        frozenset({"durations", "pitch", "energy"}),
    ),
)
"""The voice's rows: which of its predictions the recording's values replace."""


def read_lines(corpus: Path, features: Path, limit: int | None) -> list[Line]:
    """The corpus's lines in metadata order, each with its features (all must exist)."""
    require_corpus(corpus)
    rows = read_metadata(corpus)[:limit]
    if not rows:
        raise UserError(f"--corpus {corpus}: metadata.csv has no lines")
    lines = []
    for row in rows:
        npz = features / f"{row.id}.npz"
        if not npz.is_file():
            raise UserError(f"--features {features}: no {npz.name} (run preprocess on the corpus)")
        with np.load(npz) as data:
            lines.append(Line(row.id, row.text, wav_path(corpus, row.id), dict(data)))
    return lines


def recording(line: Line) -> np.ndarray:
    return sf.read(str(line.recording), dtype="float32")[0]


def voice_audio(engine: FS2Engine, line: Line, recorded: frozenset[str]) -> np.ndarray:
    """The voice on the line's phonemes, with the recording's values for ``recorded``."""
    stats = engine.model.variance_adaptor.stats
    data = line.features
    ids = torch.from_numpy(data["phonemes"]).long()[None]
    given: dict[str, torch.Tensor] = {}
    if "durations" in recorded:
        given["durations"] = torch.from_numpy(data["durations"]).long()[None]
    if "pitch" in recorded:
        pitch = (data["log_f0"] - stats.log_f0_mean) / stats.log_f0_std
        given["pitch"] = torch.from_numpy(pitch).float()[None]
    if "energy" in recorded:
        energy = (data["energy"] - stats.energy_mean) / stats.energy_std
        given["energy"] = torch.from_numpy(energy).float()[None]
    with torch.inference_mode():
        out = engine.model(ids, torch.tensor([ids.shape[1]]), Controls(), **given)
        wave = engine.run_vocoder(engine.vocoder_input(out))[0]
    return wave[: int(out.frame_lengths[0]) * engine.config.audio.hop_length].numpy()


def vocoded_recording(engine: FS2Engine, line: Line) -> np.ndarray:
    """The recording's own log-mel and F0 through the voice's mel vocoder."""
    assert engine.vocoder is not None
    mel = torch.from_numpy(line.features["mel"].astype(np.float32))[None]
    log_f0 = torch.from_numpy(line.features["log_f0"]).float()[None]
    with torch.inference_mode():
        wave = engine.vocoder(mel.transpose(1, 2).to(engine.vocoder_dtype), log_f0)[0]
    return wave.float().numpy()


def judge_row(
    name: str, lines: Sequence[Line], render: Render, rate: int, sound: DnsmosJudge | None
) -> GapRow:
    judge = SphinxJudge()
    hypotheses, seconds, scores = [], 0.0, []
    for line in lines:
        audio = render(line)
        seconds += len(audio) / rate
        audio_16k = resample(audio, rate, JUDGE_RATE)
        hypotheses.append(judge.transcribe(audio_16k))
        if sound is not None:
            scores.append(sound.score(audio_16k))
    mos = None
    if scores:
        mos = MosScores(
            float(np.mean([s.ovrl for s in scores])),
            float(np.mean([s.sig for s in scores])),
            float(np.mean([s.bak for s in scores])),
        )
    return GapRow(name, corpus_wer([line.text for line in lines], hypotheses), seconds, mos)


def gap_table(
    engine: FS2Engine, lines: Sequence[Line], log: TextIO, sound: DnsmosJudge | None = None
) -> list[GapRow]:
    """One row per render; ``sound``, a judge with a level, adds each row's DNSMOS."""
    rate = sf.info(str(lines[0].recording)).samplerate
    if rate != engine.sample_rate:
        raise UserError(f"the recordings are {rate} Hz, the voice {engine.sample_rate} Hz")
    renders: list[tuple[str, Render]] = [("the recordings (teacher)", recording)]
    if engine.vocoder is not None:
        renders.append(
            (
                "the recordings' mels and F0 through the voice's vocoder",
                lambda line: vocoded_recording(engine, line),
            )
        )
    for name, recorded in VOICE_ROWS:
        renders.append((name, lambda line, r=recorded: voice_audio(engine, line, r)))
    rows = []
    for name, render in renders:
        rows.append(judge_row(name, lines, render, rate, sound))
        mos = rows[-1].mos
        sound_note = "" if mos is None else f", OVRL {mos.ovrl:.3f}, SIG {mos.sig:.3f}"
        print(f"{name}: WER {rows[-1].wer:.3f}{sound_note}", file=log, flush=True)
    return rows


def markdown(rows: Sequence[GapRow]) -> str:
    reference = rows[0]
    sound = reference.mos is not None
    header = "| row | WER | vs the recordings | audio seconds |"
    rule = "|---|---:|---:|---:|"
    if sound:
        header += " DNSMOS OVRL | SIG | SIG vs the recordings |"
        rule += "---:|---:|---:|"
    out = [header, rule]
    for row in rows:
        line = (
            f"| {row.name} | {row.wer:.3f} | {row.wer - reference.wer:+.3f} | {row.seconds:.1f} |"
        )
        if row.mos is not None and reference.mos is not None:
            line += (
                f" {row.mos.ovrl:.3f} | {row.mos.sig:.3f} |"
                f" {row.mos.sig - reference.mos.sig:+.3f} |"
            )
        out.append(line)
    return "\n".join(out)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m ttscli.lab check-wer-gap", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--corpus", type=Path, required=True, help="teacher corpus of held-out lines"
    )
    parser.add_argument("--features", type=Path, required=True, help="its preprocess output")
    parser.add_argument("--checkpoint", type=Path, default=None, help="default: the bundled voice")
    parser.add_argument(
        "--model",
        choices=[kind.value for kind in ModelKind],
        default=ModelKind.auto.value,
        help="the decoder to judge (default: the one the voice speaks with)",
    )
    parser.add_argument("--limit", type=int, default=None, help="only the first N lines")
    parser.add_argument("--threads", type=int, default=2)
    add_dnsmos_level(
        parser,
        "also score every row by DNSMOS, its audio first brought to this RMS level (dBFS, "
        "e.g. -26)",
    )
    args = parser.parse_args(argv)
    check_dnsmos_level(parser, args.dnsmos_level)
    return args


def check(args: argparse.Namespace) -> int:
    torch.set_num_threads(args.threads)
    lines = read_lines(args.corpus, args.features, args.limit)
    engine = FS2Engine.load(args.checkpoint, kind=args.model, device="cpu")
    sound = None if args.dnsmos_level is None else DnsmosJudge(args.dnsmos_level)
    rows = gap_table(engine, lines, sys.stderr, sound)
    voice = args.checkpoint or "bundled"
    print(f"{len(lines)} lines of {args.corpus}; voice {voice} ({engine.kind.value})")
    if sound is not None:
        print(f"DNSMOS heard every row at {sound.level:g} dBFS RMS.")
    print()
    print(markdown(rows))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    return script_exit_code(lambda: check(args))
