"""A JSON Lines batch with mixed per-line options beside a plain batch of the same lines.

Per-line ``pitch``, ``energy`` and ``duration`` ride in the same mini-batches as plain
lines (per-row offsets and factors in the acoustic model), so a mixed batch should take the
time of a plain one. Both run as whole ``ttscli fs2`` commands, alternately, into fresh
folders; the table gives each one's median wall time and peak memory, and their ratio.

    python scripts/bench_jsonl.py                 # 200 lines, 3 rounds
    python scripts/bench_jsonl.py --lines 500 --repeats 5
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from ttscli.lab.evaluation.bench_batch import Measured, lines_file, measure


def mixed_options(n: int) -> dict[str, float]:
    """A spread of scales, about two lines in three with some."""
    options: dict[str, float] = {}
    if n % 3 == 1:
        options["pitch"] = (0.8, 1.25, 1.5)[n % 9 // 3]
    if n % 4 == 2:
        options["energy"] = 0.7
    if n % 5 == 3:
        options["duration"] = 1.2
    return options


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--ttscli", default=str(Path(sys.executable).with_name("ttscli")))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-jsonl-") as tmp:
        folder = Path(tmp)
        log = folder / "log.txt"
        plain = lines_file(folder, args.lines)
        texts = plain.read_text(encoding="utf-8").splitlines()
        mixed = folder / "lines.jsonl"
        mixed.write_text("".join(
            json.dumps({"id": f"{n:04d}", "text": text, **mixed_options(n)}) + "\n"
            for n, text in enumerate(texts, 1)
        ), encoding="utf-8")  # fmt: skip
        runs: dict[str, list[Measured]] = {"plain lines": [], "JSONL, mixed options": []}
        for _ in range(args.repeats):
            for name, source in zip(runs, (plain, mixed), strict=True):
                out = folder / "out"
                shutil.rmtree(out, ignore_errors=True)
                command = [args.ttscli, "fs2", "--in", str(source), "--out", str(out), "--quiet"]
                runs[name].append(measure(command, log))
        walls = {name: statistics.median(m.wall for m in ms) for name, ms in runs.items()}
        print(f"| batch of {args.lines} lines | wall s (median of {args.repeats}) | peak MB |")
        print("|---|---:|---:|")
        for name, measured in runs.items():
            peak = max(m.peak_mb for m in measured)
            print(f"| {name} | {walls[name]:.2f} | {peak:.0f} |")
        ratios = [m.wall / p.wall for p, m in zip(*runs.values(), strict=True)]
        print(f"\nmixed / plain, pair by pair: median {statistics.median(ratios):.3f} "
              f"(min {min(ratios):.3f}, max {max(ratios):.3f})")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
