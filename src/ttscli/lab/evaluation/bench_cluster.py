"""What ``--cluster ray`` costs and gains: Ray workers against one process, the driver's
own cost per line, and the driver's memory as the input grows.

    python scripts/bench_cluster.py --sentences src/ttscli/lab/data/lj_val.txt --lines 200
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ttscli.audio.dsp import MelSpec
from ttscli.cluster.ray_batch import ClusterSettings, import_ray, run_cluster_batch
from ttscli.engines.base import Chunk, OptionField, PreparedLine, VoiceInfo, check_fields
from ttscli.engines.spec import EngineSpec
from ttscli.fs2.engine import FS2Engine
from ttscli.lab.data import VALIDATION_SENTENCES, bundled_text
from ttscli.lab.evaluation.evaluate import machine_description, read_sentences
from ttscli.run.batch import run_batch
from ttscli.run.lines import BatchLine


class InstantEngine:
    """A stand-in that answers every line with 10 samples at once: it measures the driver
    (reading, bookkeeping, writing files and the manifest), never the synthesis."""

    name = "instant"
    sample_rate = MelSpec().sample_rate
    load_seconds = 0.0
    chunks_ahead = 1

    def describe(self) -> str:
        return "instant stand-in engine"

    reads_words = False

    def facts(self) -> dict[str, object]:
        return {"device": "none"}

    def voice(self) -> VoiceInfo:
        return VoiceInfo(name="instant")

    def fields(self) -> tuple[OptionField, ...]:
        return ()

    def options(self, fields: Mapping[str, object]) -> None:
        check_fields((), fields)

    def stream(self, text: object, options: object = None) -> Iterator[Chunk]:
        yield Chunk(np.zeros(10, np.float32), self.sample_rate)

    def prepare_line(self, text: object, options: object = None) -> PreparedLine:
        return PreparedLine(str(text), text, None, len(str(text)))

    def synthesize_batch(self, lines: Sequence[PreparedLine], options: object = None) -> list:
        return [Chunk(np.zeros(10, np.float32), self.sample_rate) for _ in lines]


@dataclass(frozen=True)
class InstantSpec:
    def load(self, threads: int | None = None) -> InstantEngine:
        return InstantEngine()


def numbered(texts: Sequence[str], count: int) -> list[BatchLine]:
    return [BatchLine(n + 1, texts[n % len(texts)]) for n in range(count)]


def synthetic(count: int) -> Iterator[BatchLine]:
    for n in range(1, count + 1):
        yield BatchLine(n, f"Line {n}.")


class Lines:
    """A re-readable stream of ``count`` generated lines (never a list in memory)."""

    def __init__(self, count: int) -> None:
        self.count = count

    def __iter__(self) -> Iterator[BatchLine]:
        return synthetic(self.count)

    def __len__(self) -> int:
        return self.count


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def driver_run(count: int) -> tuple[int, float, float]:
    """``count`` generated lines through an instant engine, in a fresh process: (count,
    the driver's peak RSS in MB, its milliseconds per line)."""
    code = (
        "from ttscli.lab.evaluation.bench_cluster import measure_driver; "
        f"print(*measure_driver({count}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True)
    mb, ms = out.stdout.decode().split()[-2:]
    return count, float(mb), float(ms)


def measure_driver(count: int) -> tuple[float, float]:
    ray = import_ray()
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
    try:
        settings = ClusterSettings(workers=2, worker_cpus=1, shard_lines=500)
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            run_cluster_batch(InstantSpec(), Lines(count), Path(tmp), "wav", {}, settings)
            wall = time.perf_counter() - started
    finally:
        ray.shutdown()
    return peak_rss_mb(), wall / count * 1000


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sentences", type=Path, default=bundled_text(VALIDATION_SENTENCES))
    parser.add_argument("--lines", type=int, default=200)
    parser.add_argument("--checkpoint", type=Path, default=None)
    parser.add_argument("--memory-lines", default="1000,10000,100000")
    args = parser.parse_args(argv)
    ray = import_ray()
    texts = read_sentences(args.sentences, None)
    lines = numbered(texts, args.lines)

    import torch

    torch.set_num_threads(2)
    engine = FS2Engine.load(args.checkpoint, device="cpu")
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        single = run_batch(engine, lines, Path(tmp) / "single", "wav", batch_size=1, quiet=True)
        single_wall = time.perf_counter() - started
    del engine

    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
    try:
        spec = EngineSpec("fs2", {"checkpoint": args.checkpoint, "device": "cpu"})
        settings = ClusterSettings(workers=2, worker_cpus=1, shard_lines=8)
        with tempfile.TemporaryDirectory() as tmp:
            run_cluster_batch(spec, lines[:8], Path(tmp) / "warm", "wav", {}, settings, 1)
            started = time.perf_counter()
            cluster = run_cluster_batch(
                spec, lines, Path(tmp) / "cluster", "wav", {}, settings, batch_size=1
            )
            cluster_wall = time.perf_counter() - started

    finally:
        ray.shutdown()
    memory = [driver_run(int(count)) for count in args.memory_lines.split(",")]

    per_line_overhead = (cluster_wall - single_wall) / len(lines) * 1000
    cpu = machine_description()["cpu_model"]
    print(f"machine: {cpu}, {os.cpu_count()} cores; {len(lines)} lines from {args.sentences.name}")
    print("voice: the bundled fs2 voice, --batch-size 1")
    print("| run | wall (s) | lines/s | audio s per s |")
    print("|---|---:|---:|---:|")
    for name, wall, seconds in (
        ("one process, 2 threads", single_wall, single.seconds),
        ("--cluster ray, 2 workers x 1 thread", cluster_wall, cluster.seconds),
    ):
        print(f"| {name} | {wall:.1f} | {len(lines) / wall:.2f} | {seconds / wall:.1f} |")
    speed = single_wall / cluster_wall
    print(
        f"\ncluster vs one process: {speed:.2f}x the speed ({per_line_overhead:+.1f} ms per line)"
    )
    print("\nThe driver alone, with an instant stand-in engine (10 samples per line), each in a")
    print("fresh process (Ray's own import included):")
    print("\n| lines (instant stand-in engine) | driver peak RSS (MB) | driver ms per line |")
    print("|---:|---:|---:|")
    for count, mb, ms in memory:
        print(f"| {count:,} | {mb:.0f} | {ms:.3f} |")
    driver_ms = memory[-1][2]
    per_worker = len(lines) / cluster_wall / 2
    print(f"\nOn paper: one worker makes {per_worker:.2f} lines/s here; the driver handles "
          f"{1000 / driver_ms:.0f} lines/s, so one driver saturates at about "
          f"{1000 / driver_ms / per_worker:.0f} such workers.")  # fmt: skip
    return 0
