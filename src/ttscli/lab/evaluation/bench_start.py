"""Where a cold `ttscli fs2 "Hello world." --out h.wav` spends its time, and how soon a
long text is heard beside a short one.

Runs the real command several times as its own process and splits its wall time into
imports (by top-level package, from Python's ``-X importtime``), loading the voice and
synthesis (from the command's own ``--json`` report), and the rest (interpreter start,
parsing the options, writing the file, exit). `python -c "import torch"` is timed in the same
run: the floor every torch program pays.

Then first audio for "Hello.", a paragraph's first sentence alone and the whole paragraph
(``lj_val`` lines, on stdin and as the argument), two ways: the command's own
``first_audio_seconds`` (from the text's arrival to its first audio), and the whole process
with ``--out -`` (from starting it to the first audio byte on its stdout). The texts take
turns within each round, so a machine that drifts moves them alike; the differences that
matter (paragraph minus its first sentence, first sentence minus "Hello.") are printed.

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


def first_byte_seconds(command: Sequence[str], stdin_text: str | None) -> float:
    """Seconds from starting ``command`` to the first byte on its stdout (``--out -``
    writes audio only), with ``stdin_text`` written to it and closed at once."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL if stdin_text is None else subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    if stdin_text is not None:
        assert process.stdin is not None
        process.stdin.write(stdin_text.encode("utf-8"))
        process.stdin.close()
    first = process.stdout.read(1)
    elapsed = time.perf_counter() - started
    process.stdout.read()
    error = process.stderr.read()
    if process.wait() != 0 or not first:
        raise SystemExit(f"error: {' '.join(command[:4])} failed: {error.decode()[-300:]}")
    return elapsed


def paragraph(lines: int) -> str:
    """The first ``lines`` held-out sentences as one paragraph."""
    from ttscli.lab.data import VALIDATION_SENTENCES, bundled_text

    text = bundled_text(VALIDATION_SENTENCES).read_text(encoding="utf-8")
    return " ".join(line.strip() for line in text.splitlines()[:lines])


def first_audio_table(python: str, runs: int, lines: int, extra: list[str]) -> None:
    """Medians of ``runs`` rounds (after one uncounted) of each text, both measures."""
    whole = paragraph(lines)
    first = paragraph(1)
    texts = {
        '"Hello."': ("Hello.", False),
        "the first sentence alone": (first, False),
        f"the {lines}-sentence paragraph on stdin": (whole, True),
        f"the {lines}-sentence paragraph as the argument": (whole, False),
    }
    inside: dict[str, list[float]] = defaultdict(list)
    outside: dict[str, list[float]] = defaultdict(list)
    cli = [python, "-c", "from ttscli.cli.app import main; main()", "fs2"]
    with tempfile.TemporaryDirectory(prefix="bench-first-") as tmp:
        wav = str(Path(tmp) / "x.wav")
        for run in range(runs + 1):
            for name, (text, on_stdin) in texts.items():
                said = ["-"] if on_stdin else [text]
                reported = subprocess.run(
                    [*cli, *said, "--out", wav, "--json", "--quiet", *extra],
                    input=text if on_stdin else None,
                    capture_output=True,
                    text=True,
                )
                if reported.returncode != 0:
                    raise SystemExit(f"error: ttscli fs2 failed: {reported.stderr[-300:]}")
                heard = first_byte_seconds(
                    [*cli, *said, "--out", "-", "--quiet", *extra], text if on_stdin else None
                )
                if run:
                    inside[name].append(json.loads(reported.stdout)["first_audio_seconds"])
                    outside[name].append(heard)
    median = {name: statistics.median(values) for name, values in inside.items()}
    median_out = {name: statistics.median(values) for name, values in outside.items()}
    print(f"\nFirst audio, medians of {runs} (seconds); the paragraph: lj_val lines 1-{lines}\n")
    print("| text | `--json` first_audio_seconds | whole process to the first byte of `--out -` |")
    print("|---|---:|---:|")
    for name in texts:
        print(f"| {name} | {median[name]:.3f} | {median_out[name]:.3f} |")
    names = list(texts)
    print("\n| difference | `--json` | whole process |")
    print("|---|---:|---:|")
    for label, a, b in (
        ("paragraph on stdin minus its first sentence (target at most 0.050)", 2, 1),
        ("paragraph as the argument minus its first sentence", 3, 1),
        ('first sentence minus "Hello." (its own phonemes and frames)', 1, 0),
    ):
        print(
            f"| {label} | {median[names[a]] - median[names[b]]:+.3f} "
            f"| {median_out[names[a]] - median_out[names[b]]:+.3f} |"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--text", default="Hello world.")
    parser.add_argument("--extra", default="", help="more ttscli fs2 flags")
    parser.add_argument(
        "--paragraph-lines", type=int, default=12, help="sentences in the long text"
    )
    parser.add_argument("--only", choices=("start", "first-audio"), help="one of the two tables")
    args = parser.parse_args(argv)
    if args.only != "first-audio":
        cold_start_table(args)
    if args.only != "start":
        first_audio_table(sys.executable, args.runs, args.paragraph_lines, args.extra.split())
    return 0


def cold_start_table(args: argparse.Namespace) -> None:
    """Medians of ``args.runs`` cold starts, split by part."""
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


if __name__ == "__main__":
    sys.exit(main())
