"""Ways to run the same bundled voice faster without changing it, each against eager torch.

The batch path (``FS2Engine.synthesize_batch``, length-sorted mini-batches of 8) is timed
on the same lines three ways, in one process:

* eager, torch's threads as configured (the product's path);
* ``torch.compile`` (Inductor, ``dynamic=True``) of the acoustic model's encoder and decoder,
  and of those plus the vocoder's adapter and generator: its compile cost is the first
  pass's extra time, and the line count at which that cost is repaid is printed (none when
  compiled code is no faster);
* two mini-batches at once, from two Python threads with one torch thread each (the
  parallelism a batch has between its lines, not inside one operation).

Each variant is timed on two passes after its warm-up; the faster pass counts, so a machine
hiccup does not count against it. The compiled variants come last because compiling cannot be
undone in a process.

    python scripts/bench_compile.py --lines 200
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from ttscli.lab.data import TRAIN_SENTENCES, bundled_text
from ttscli.lab.evaluation.evaluate import machine_description


def timed(run: Callable[[], None]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=200, help="the last N lines of lj_train")
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args(argv)

    import torch

    from ttscli.fs2.engine import FS2Engine

    text = bundled_text(TRAIN_SENTENCES).read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line.strip()][-args.lines :]
    engine = FS2Engine.load(device="cpu")
    prepared = sorted((engine.prepare_line(line) for line in lines), key=lambda p: p.size)
    batches = [prepared[i : i + args.batch_size] for i in range(0, len(prepared), args.batch_size)]

    def sequential() -> None:
        for batch in batches:
            engine.synthesize_batch(batch)

    def two_at_once() -> None:
        def worker(share: list[Any]) -> None:
            torch.set_num_threads(1)  # this thread's own setting
            for batch in share:
                engine.synthesize_batch(batch)

        threads = [threading.Thread(target=worker, args=(batches[i::2],)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    rows: list[tuple[str, float, float]] = []  # name, seconds per pass, first pass's extra
    timed(sequential)  # kernels for every shape, unmeasured
    eager = min(timed(sequential) for _ in range(2))
    rows.append((f"eager, {torch.get_num_threads()} torch threads", eager, 0.0))
    timed(two_at_once)
    parallel = min(timed(two_at_once) for _ in range(2))
    rows.append(("two mini-batches at once, 1 thread each", parallel, 0.0))

    model, vocoder = engine.model, engine.vocoder
    for name, parts in (
        ("torch.compile: acoustic model", ("encoder", "decoder")),
        ("torch.compile: acoustic model and vocoder", ("adapter", "generator")),
    ):
        if "encoder" in parts:
            model.encoder = torch.compile(model.encoder, dynamic=True)
            model.decoder = torch.compile(model.decoder, dynamic=True)
        if "generator" in parts and vocoder is not None:
            module = vocoder.module
            module.adapter = torch.compile(module.adapter, dynamic=True)
            module.decoder = torch.compile(module.decoder, dynamic=True)
        first = timed(sequential)
        steady = min(timed(sequential) for _ in range(2))
        rows.append((name, steady, first - steady))

    print(f"{len(lines)} lj_train lines, mini-batches of {args.batch_size}")
    print(f"machine: {machine_description()}")
    print("\n| variant | seconds a pass | vs eager | first pass's extra (compiling) | break-even |")
    print("|---|---:|---:|---:|---:|")
    for name, seconds, extra in rows:
        saved = (eager - seconds) / len(lines)
        if not extra:
            even = ""
        elif saved > 0:
            even = f"{extra / saved:,.0f} lines"
        else:
            even = "never (no faster)"
        print(f"| {name} | {seconds:.2f} | {seconds / eager:.3f}x | {extra:.1f} s | {even} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
