"""Benchmark Kyutai TTS through ttscli's engine: load, first-audio latency, real-time factor, and
batched throughput, for 32 and 16 codebooks.

Weights: the real kyutai/tts-1.6b-en_fr when it is in the HF cache (``--weights auto``), else
the full-size architecture with random weights built in memory (speed does not depend on weight
values: every step runs the same kernels).  ``--tiny`` uses the test suite's toy architecture,
the only one worth running on a CPU.

Examples:
    python scripts/bench_speak.py --tiny --device cpu --steps 30
    python scripts/bench_speak.py --device cuda                 # H100: full size
    python scripts/bench_speak.py --device cuda --compile on    # the torch.compile trade-off
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from ttscli.kyutai import KyutaiEngine
from ttscli.kyutai.synthetic import FULL_SIZE, build_checkpoint, train_tokenizer, write_voice
from ttscli.kyutai.synthetic import lm_config as make_lm_config
from ttscli.lab.evaluation.devices import device_name, synchronize
from ttscli.util.errors import UserError
from ttscli.util.torch_device import resolve_device

LONG_TEXT = " ".join(
    [
        "Streaming speech synthesis starts talking before the text has fully arrived.",
        "Good morning, how are you today? I am fine, thank you, and the weather is mild.",
        "The quick brown fox jumps over the lazy dog while the band plays in the square.",
    ]
    * 20
)
FIRST_AUDIO_TEXT = "Hello world, this is a latency test of the streaming voice."


@dataclass
class Results:
    label: str
    load_s: float = 0.0
    first_audio_ms: dict[int, float] = field(default_factory=dict)
    rtf: dict[int, float] = field(default_factory=dict)  # batch 1: compute time / audio time
    throughput: dict[tuple[int, int], float] = field(default_factory=dict)  # (n_q, batch)
    memory_gb: dict[tuple[int, int], float] = field(default_factory=dict)


def build_engine(args: argparse.Namespace, work: Path):
    """Real weights if cached and wanted, else random weights (tiny or full size)."""

    if args.weights in ("auto", "real") and not args.tiny:
        try:
            engine = KyutaiEngine.load(
                voice=args.voice,
                hf_repo=args.hf_repo,
                model_dir=args.model_dir,
                device=args.device,
                n_q=32,
                seed=0,
            )
            return engine, "real weights"
        except UserError as exc:
            if args.weights == "real":
                raise
            print(f"(real weights unavailable: {exc})\n(using random weights)", file=sys.stderr)

    if args.tiny:
        build_checkpoint(work / "tiny")
        voice = write_voice(work / "voice.safetensors")
        engine = KyutaiEngine.load(
            voice=str(voice), model_dir=work / "tiny", device=args.device, n_q=32, seed=0
        )
        return engine, "tiny random (test fixture architecture)"
    return _random_full_size(args, work, train_tokenizer, write_voice), "full-size random"


def _random_full_size(args: argparse.Namespace, work: Path, train_tokenizer, write_voice):
    """Build the 1.8B architecture directly on the device: no 4 GB file to write or read."""
    from moshi.models.loaders import CheckpointInfo

    device = resolve_device(args.device)
    lm_config = make_lm_config(text_card=8000, widths=FULL_SIZE)
    lm_config["demux_second_text_stream"] = lm_config.pop("demux_second_stream")
    info = CheckpointInfo(
        moshi_weights=None,  # type: ignore[arg-type]  (None = random init, no file)
        mimi_weights=None,  # type: ignore[arg-type]
        tokenizer=train_tokenizer(work / "spm"),
        lm_config=lm_config,
        raw_config={"model_id": {"sig": "random", "epoch": 0}},
        mimi_config=None,  # moshi's built-in Mimi config: the real codec's architecture
        model_type="tts",
        tts_config={"audio_delay": 1.28, "second_stream_ahead": 2},
        model_id={"sig": "random", "epoch": 0},
    )
    start = time.perf_counter()
    engine = KyutaiEngine.from_checkpoint_info(
        info,
        voice_path=write_voice(work / "voice.safetensors", dim=512, frames=125),
        device=device,
        n_q=32,
        seed=0,
    )
    engine.load_seconds = time.perf_counter() - start
    return engine


def set_codebooks(engine, n_q: int) -> None:
    """Switch codebook count in place (what ``n_q=`` at load does) to avoid a second load."""
    engine.model.n_q = n_q
    engine.model.mimi.set_num_codebooks(n_q)


def first_audio_ms(engine, repeats: int) -> float:
    """Median time from the first text token fed to the first audio chunk, one stream."""
    samples = []
    for _ in range(repeats + 1):  # the first run warms allocators and CUDA graphs
        stream = engine.stream(FIRST_AUDIO_TEXT)
        first = next(stream)
        samples.append((time.perf_counter() - first.text_ready_at) * 1000)
        stream.close()
    return statistics.median(samples[1:])


def throughput(engine, batch: int, steps: int) -> tuple[float, float]:
    """Seconds of audio per wall-clock second at ``batch``, steady state, and peak GB."""
    import torch

    device = engine.device
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    with engine.generation(batch) as gen:
        for slot in range(batch):
            gen.feed(slot, LONG_TEXT)
            gen.close_input(slot)
        while gen.step() is None:  # audio delay + codec warm-up, not steady state
            pass
        synchronize(device)
        start = time.perf_counter()
        frames = 0
        for _ in range(steps):
            frames += gen.step() is not None
        synchronize(device)
        elapsed = time.perf_counter() - start
    memory = torch.cuda.max_memory_allocated() / 1e9 if device.startswith("cuda") else 0.0
    return batch * frames / engine.frame_rate / elapsed, memory


def run(args: argparse.Namespace) -> Results:
    with tempfile.TemporaryDirectory(prefix="bench_speak_") as tmp:
        engine, label = build_engine(args, Path(tmp))
    results = Results(label=label, load_s=engine.load_seconds)
    for n_q in args.n_q:
        set_codebooks(engine, n_q)
        results.first_audio_ms[n_q] = first_audio_ms(engine, args.repeats)
        speed, memory = throughput(engine, 1, args.steps)
        results.rtf[n_q] = 1.0 / speed
        results.memory_gb[(n_q, 1)] = memory
        for batch in args.batches:
            speed, memory = throughput(engine, batch, args.steps)
            results.throughput[(n_q, batch)] = speed
            results.memory_gb[(n_q, batch)] = memory
            print(f"  n_q={n_q} batch={batch}: {speed:.2f} s audio/s", file=sys.stderr, flush=True)
    results.label += f", {engine.model.lm.dtype}, compile {'on' if engine.compile else 'off'}"
    return results


def render(results: Results, args: argparse.Namespace, device: str) -> str:
    cols = list(args.n_q)
    rows: list[tuple[str, list[str]]] = [
        ("load time (s)", [f"{results.load_s:.2f}"] + ["(same model)"] * (len(cols) - 1)),
        (
            "first audio after first text token (ms)",
            [f"{results.first_audio_ms[q]:.0f}" for q in cols],
        ),
        ("batch 1: real-time factor (compute/audio)", [f"{results.rtf[q]:.3f}" for q in cols]),
        ("batch 1: x real time", [f"{1 / results.rtf[q]:.2f}" for q in cols]),
    ]
    for batch in args.batches:
        values = [f"{results.throughput[(q, batch)]:.1f}" for q in cols]
        rows.append((f"batch {batch}: audio seconds per second", values))
    if device.startswith("cuda"):
        for batch in [1, *args.batches]:
            values = [f"{results.memory_gb[(q, batch)]:.1f}" for q in cols]
            rows.append((f"batch {batch}: peak GPU memory (GB)", values))
    header = ["metric", *[f"n_q={q}" for q in cols]]
    width = [max(len(header[0]), *(len(r[0]) for r in rows))]
    width += [max(len(header[i + 1]), *(len(r[1][i]) for r in rows)) for i in range(len(cols))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, width, strict=True)) + " |"

    out = [
        f"device: {device_name(device)} | model: {results.label} | steps timed: {args.steps}",
        line(header),
        "|" + "|".join("-" * (w + 2) for w in width) + "|",
    ]
    out += [line([name, *values]) for name, values in rows]
    return "\n".join(out)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--tiny", action="store_true", help="toy architecture (for CPU)")
    parser.add_argument("--steps", type=int, default=100, help="80 ms frames timed per run")
    parser.add_argument("--batches", default="8,32,64", help="batch sizes for throughput")
    parser.add_argument("--n-q", default="32,16", help="codebook counts to compare")
    parser.add_argument("--repeats", type=int, default=3, help="first-audio runs (median)")
    parser.add_argument("--weights", choices=["auto", "real", "random"], default="auto")
    parser.add_argument("--compile", choices=["default", "on", "off"], default="default")
    parser.add_argument("--hf-repo", default=None)
    parser.add_argument("--model-dir", type=Path, default=None)
    parser.add_argument("--voice", default=None)
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="CPU threads for torch (default: 1 with --tiny, whose ops are too small to split)",
    )
    args = parser.parse_args(argv)
    args.batches = [int(b) for b in args.batches.split(",") if b]
    args.n_q = [int(q) for q in args.n_q.split(",") if q]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.compile != "default":
        os.environ["TTSCLI_TORCH_COMPILE"] = "1" if args.compile == "on" else "0"
    import torch

    threads = args.threads or (1 if args.tiny else None)
    if threads:
        torch.set_num_threads(threads)
    try:
        device = resolve_device(args.device)
        args.device = device
        results = run(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(render(results, args, device))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
