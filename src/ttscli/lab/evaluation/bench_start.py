"""Where a cold `ttscli fs2 "Hello world." --out h.wav` spends its time.

Runs the real command several times as its own process and splits its wall time into
imports (by top-level package, from Python's ``-X importtime``), loading the voice and
synthesis (from the command's own ``--json`` report), and the rest (interpreter start,
parsing the options, writing the file, exit). `python -c "import torch"` is timed in the same
run: the floor every torch program pays.

    python scripts/bench_start.py --runs 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

SHOWN = ("torch", "numpy", "typer", "rich", "soundfile", "ttscli")


def import_times(stderr: str) -> dict[str, float]:
    """Seconds spent importing each package's own modules, from ``-X importtime`` (each
    module's self time, so a package imported inside another is counted as itself)."""
    totals: dict[str, float] = defaultdict(float)
    for line in stderr.splitlines():
        if not line.startswith("import time:") or line.count("|") != 2:
            continue
        own, _, name = line.removeprefix("import time:").split("|")
        if not own.strip().isdigit():
            continue  # the header line
        package = name.strip().split(".")[0]
        totals[package if package in SHOWN else "other"] += int(own) / 1e6
    return totals


def timed(command: Sequence[str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"error: {' '.join(command[:4])} failed: {result.stderr.strip()[-300:]}")
    return elapsed, result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--text", default="Hello world.")
    parser.add_argument("--extra", default="", help="more ttscli fs2 flags")
    args = parser.parse_args(argv)
    python = sys.executable
    rows: dict[str, list[float]] = defaultdict(list)
    with tempfile.TemporaryDirectory(prefix="bench-start-") as tmp:
        out = str(Path(tmp) / "h.wav")
        cli = ["-c", "from ttscli.cli.app import main; main()", "fs2", args.text, "--out", out,
               "--json", "--quiet", *args.extra.split()]  # fmt: skip
        for run in range(args.runs + 1):  # the first run fills the page cache, uncounted
            floor, _ = timed([python, "-c", "import torch"])
            wall, plain = timed([python, *cli])
            _, profiled = timed([python, "-X", "importtime", *cli])
            if not run:
                continue
            report = json.loads(plain.stdout)
            rows["`import torch` alone"].append(floor)
            rows["ttscli fs2, whole command"].append(wall)
            imports = import_times(profiled.stderr)
            for package in (*SHOWN, "other"):
                rows[f"  import {package}"].append(imports.get(package, 0.0))
            rows["  load the voice"].append(report["load_seconds"])
            rows["  synthesis"].append(report["synthesis_seconds"])
            counted = sum(imports.values()) + report["load_seconds"] + report["synthesis_seconds"]
            rows["  the rest (interpreter, options, file, exit)"].append(max(0.0, wall - counted))
    print(f'{args.runs} runs of `ttscli fs2 "{args.text}" --out h.wav`, medians (seconds)\n')
    print("| part | median | min | max |")
    print("|---|---:|---:|---:|")
    for name, values in rows.items():
        print(
            f"| {name} | {statistics.median(values):.3f} | {min(values):.3f} | {max(values):.3f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
