"""A corpus plus pitch-shifted copies of its utterances, for a voice that obeys ``--pitch``.

FastSpeech 2 feeds its decoder a pitch embedding, but a decoder trained only on the
teacher's narrow F0 range never has to read it: the text already tells it where the
harmonics go. Adding the same utterances moved up and down by PSOLA (``ttscli.audio.psola``,
durations and formants unchanged) makes the embedding the only way to get them right.

The output is an ordinary corpus folder (``wavs/``, ``metadata.csv``, ``alignments.jsonl``):
the originals linked in, each shifted copy named ``<id>_p<ratio x 1000>`` and its alignment
line carrying ``"pitch_shift": ratio``, so the features script and the trainers need no
second input. Ratios are log-uniform in ``[low, high]``, seeded per utterance.

    python -m ttscli.lab shift-corpus --corpus data/joe --out data/joe-pitch --workers 2

Resumable: wavs that exist are kept; the two text files are rewritten whole at the end.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import os
import random
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import soundfile as sf

from ttscli.audio.psola import psola_shift
from ttscli.lab.corpus.folder import (
    MetadataRow,
    read_alignments,
    read_metadata,
    require_corpus,
    wav_path,
    write_alignments,
    write_metadata,
)
from ttscli.util.atomic import atomic_write
from ttscli.util.errors import UserError, script_exit_code


@dataclass(frozen=True)
class ShiftTask:
    source: Path
    target: Path
    ratio: float


def shifted_id(utterance_id: str, ratio: float) -> str:
    return f"{utterance_id}_p{round(ratio * 1000):04d}"


def draw_ratios(utterance_id: str, copies: int, low: float, high: float, seed: int) -> list[float]:
    """``copies`` ratios, log-uniform in [low, high], the same on every run."""
    rng = random.Random(f"{seed}:{utterance_id}")
    return [round(math.exp(rng.uniform(math.log(low), math.log(high))), 3) for _ in range(copies)]


def link_or_copy(source: Path, target: Path) -> None:
    if target.exists():
        return
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def run_shift(task: ShiftTask) -> str:
    if task.target.exists():
        return "skipped"
    audio, rate = sf.read(str(task.source), dtype="float32")
    shifted = psola_shift(audio, rate, task.ratio)
    atomic_write(task.target, lambda tmp: sf.write(tmp, shifted, rate, format="WAV"))
    return "done"


def build(
    corpus: Path,
    out: Path,
    copies: int = 1,
    low: float = 0.66,
    high: float = 1.6,
    seed: int = 1234,
    workers: int = 1,
    limit: int | None = None,
) -> dict[str, int]:
    """Write the combined corpus; returns counts of shifted wavs made and kept."""
    require_corpus(corpus)
    if not 0 < low <= high or copies < 1:
        raise UserError(
            f"--low {low:g} --high {high:g} --copies {copies}: need 0 < low <= high and copies >= 1"
        )
    items = read_alignments(corpus)[:limit]
    metadata = {row.id: row for row in read_metadata(corpus)}
    (out / "wavs").mkdir(parents=True, exist_ok=True)
    alignments, rows, tasks = [], [], []
    for item in items:
        source = wav_path(corpus, item.id)
        row = metadata.get(item.id)
        if not source.exists() or row is None:
            continue
        link_or_copy(source, wav_path(out, item.id))
        alignments.append(item)
        rows.append(row)
        for ratio in draw_ratios(item.id, copies, low, high, seed):
            new_id = shifted_id(item.id, ratio)
            tasks.append(ShiftTask(source, wav_path(out, new_id), ratio))
            alignments.append(replace(item, id=new_id, pitch_shift=ratio))
            rows.append(MetadataRow(new_id, row.text, row.normalized))
    counts: dict[str, int] = {}
    started = time.monotonic()
    with mp.Pool(workers) as pool:
        for n, status in enumerate(pool.imap_unordered(run_shift, tasks, chunksize=4), 1):
            counts[status] = counts.get(status, 0) + 1
            if n % 200 == 0:
                print(f"{n}/{len(tasks)} {counts} {time.monotonic() - started:.0f} s", flush=True)
    write_alignments(out, alignments)
    write_metadata(out, rows)
    return counts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ttscli.lab shift-corpus", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--copies", type=int, default=1, help="shifted copies per utterance")
    parser.add_argument("--low", type=float, default=0.66, help="lowest pitch ratio")
    parser.add_argument("--high", type=float, default=1.6, help="highest pitch ratio")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--workers", type=int, default=max(1, mp.cpu_count()))
    parser.add_argument("--limit", type=int, default=None, help="only the first N utterances")
    args = parser.parse_args(argv)

    def run() -> int:
        counts = build(
            args.corpus, args.out, args.copies, args.low, args.high, args.seed, args.workers,
            args.limit,
        )  # fmt: skip
        print(f"shifted copies: {counts}")
        return 0

    return script_exit_code(run)


if __name__ == "__main__":
    raise SystemExit(main())
