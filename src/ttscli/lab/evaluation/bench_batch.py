"""Whole commands as users run them: `ttscli fs2` beside Piper on the same lines.

For "Hello world." and for batches of lines, runs each command as its own process, in turn
(ttscli, Piper, ttscli, Piper, ...), and reads its wall time and peak resident memory from
the operating system's accounting of that process (``wait4``). `python -c "import torch"`
is measured in the same run as the floor that any torch program pays; the table gives our
memory above it. That floor includes torch's C teardown at exit, which ``ttscli`` skips
(``ttscli.util.process_exit``), so the table also gives our memory above `import torch` ended by
``os._exit``: the stricter floor. Ratios are taken pair by pair, so a machine that drifts
in speed during the run moves both sides of each ratio alike. Piper runs through its Python
API in one process (``ttscli.lab.evaluation.piper_run``), the way a Python user would batch it.

    python scripts/bench_batch.py                      # hello, 100 lj_val lines
    python scripts/bench_batch.py --lines 100,1000 --repeats 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ttscli.lab.data import TRAIN_SENTENCES, VALIDATION_SENTENCES, bundled_text


@dataclass(frozen=True)
class Measured:
    wall: float
    peak_mb: float


def measure(command: Sequence[str], log: Path) -> Measured:
    """Run ``command`` to its end; its own wall time and peak RSS (not its parent's)."""
    with log.open("ab") as sink:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=sink, stderr=sink)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-3:]
        raise SystemExit(f"error: {' '.join(command[:4])} ... failed: {' / '.join(tail)}")
    return Measured(wall, usage.ru_maxrss / 1024)  # Linux reports KiB


def lines_file(folder: Path, count: int) -> Path:
    """``count`` corpus lines: lj_val for up to 100, else the last lines of lj_train."""
    source = bundled_text(VALIDATION_SENTENCES if count <= 100 else TRAIN_SENTENCES)
    lines = [line for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
    if len(lines) < count:
        raise SystemExit(f"error: {source} has {len(lines)} lines, fewer than {count}")
    path = folder / f"lines-{count}.txt"
    path.write_text("\n".join(lines[-count:] if count > 100 else lines[:count]) + "\n")
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", default="100", help="batch sizes to run, comma-separated")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1, help="uncounted rounds first")
    parser.add_argument("--ttscli", default=str(Path(sys.executable).with_name("ttscli")))
    parser.add_argument("--extra", default="", help="more ttscli fs2 flags for every run")
    args = parser.parse_args(argv)
    python = sys.executable
    counts = [int(n) for n in args.lines.split(",") if n]
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        folder = Path(tmp)
        log = folder / "log.txt"
        extra = args.extra.split()
        scenarios: list[tuple[str, list[str], list[str]]] = [
            (
                '"Hello world."',
                [args.ttscli, "fs2", "Hello world.", "--out", str(folder / "h.wav"), *extra],
                [python, "-m", "ttscli.lab.evaluation.piper_run", "--text", "Hello world.",
                 "--out", str(folder / "p.wav")],
            )
        ]  # fmt: skip
        for count in counts:
            source = str(lines_file(folder, count))
            scenarios.append(
                (
                    f"{count} lines",
                    [args.ttscli, "fs2", "--in", source, "--out", str(folder / "out"), *extra],
                    [python, "-m", "ttscli.lab.evaluation.piper_run", "--in", source,
                     "--out", str(folder / "piper")],
                )
            )  # fmt: skip
        floor: list[Measured] = []
        strict_floor: list[Measured] = []
        results: dict[str, tuple[list[Measured], list[Measured]]] = {}
        for repeat in range(-args.warmup + 1, args.repeats + 1):  # rounds < 1 warm caches
            floor_run = measure([python, "-c", "import torch"], log)
            strict_run = measure([python, "-c", "import os, torch; os._exit(0)"], log)
            for name, ours, theirs in scenarios:
                for out in ("out", "piper"):
                    subprocess.run(["rm", "-rf", str(folder / out)], check=True)
                mine, piper = measure(ours, log), measure(theirs, log)
                if repeat > 0:
                    results.setdefault(name, ([], []))[0].append(mine)
                    results[name][1].append(piper)
            if repeat > 0:
                floor.append(floor_run)
                strict_floor.append(strict_run)
            print(f"round {repeat}/{args.repeats} done", file=sys.stderr, flush=True)
    floor_mb = statistics.median(m.peak_mb for m in floor)
    floor_s = statistics.median(m.wall for m in floor)
    strict_mb = statistics.median(m.peak_mb for m in strict_floor)
    strict_s = statistics.median(m.wall for m in strict_floor)
    print(f'`python -c "import torch"`: {floor_s:.2f} s, peak RSS {floor_mb:.0f} MB')
    print(f"the same ended by os._exit: {strict_s:.2f} s, peak RSS {strict_mb:.0f} MB")
    print(f"medians of {args.repeats} runs each, ratios taken pair by pair\n")
    print(
        "| run | ttscli fs2 wall | Piper wall | ratio | ttscli peak RSS | above torch "
        "| above torch without its exit | Piper peak RSS |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, (mine, piper) in results.items():
        ratio = statistics.median(a.wall / b.wall for a, b in zip(mine, piper, strict=True))
        peak = statistics.median(m.peak_mb for m in mine)
        print(
            f"| {name} | {statistics.median(m.wall for m in mine):.2f} s | "
            f"{statistics.median(m.wall for m in piper):.2f} s | {ratio:.2f}x | {peak:.0f} MB | "
            f"{peak - floor_mb:+.0f} MB | {peak - strict_mb:+.0f} MB | "
            f"{statistics.median(m.peak_mb for m in piper):.0f} MB |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
