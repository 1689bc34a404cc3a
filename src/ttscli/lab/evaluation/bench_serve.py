"""How ``ttscli serve`` performs: first audio, throughput under load, memory, client start.

Prints one table. Everything is measured in the same run on the same sentences: the server
(a separate process, the same engine flags) against one-process batch synthesis, which is
the most a server could reach on the same cores.

    python scripts/bench_serve.py --sentences src/ttscli/lab/data/lj_val.txt
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import aiohttp

from ttscli.audio.dsp import MelSpec
from ttscli.fs2.engine import FS2Engine
from ttscli.lab.data import VALIDATION_SENTENCES, bundled_text
from ttscli.lab.evaluation.evaluate import machine_description, read_sentences
from ttscli.run.batch import BatchLine, run_batch
from ttscli.util.memory import limit_kernel_cache, release_large_frees


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_server(args: argparse.Namespace, port: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "ttscli", "serve", "--port", str(port)]
    command += ["--device", "cpu", "--max-streams", str(args.max_streams), "--max-queued", "64"]
    if args.checkpoint:
        command += ["--checkpoint", str(args.checkpoint)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("error: the server did not start")


async def one_request(
    session: aiohttp.ClientSession, url: str, text: str, fmt: str = "pcm"
) -> tuple[float, float, int, int]:
    """(first-audio seconds, total seconds, body bytes, status) as the client sees them."""
    started = time.perf_counter()
    first = None
    size = 0
    async with session.post(url, json={"input": text, "response_format": fmt}) as response:
        async for data in response.content.iter_any():
            if first is None:
                first = time.perf_counter() - started
            size += len(data)
        return first or float("nan"), time.perf_counter() - started, size, response.status


async def load(url: str, texts: Sequence[str], clients: int, fmt: str = "pcm") -> dict[str, float]:
    """``clients`` concurrent clients take the texts in turn until none is left; the
    throughput counts 16-bit samples, so it is only read for ``pcm``."""
    pending = list(texts)
    firsts: list[float] = []
    audio_bytes = 0
    refused = 0

    async def client(session: aiohttp.ClientSession) -> None:
        nonlocal audio_bytes, refused
        while pending:
            text = pending.pop()
            first, _, size, status = await one_request(session, url, text, fmt)
            if status != 200:
                refused += 1
                continue
            firsts.append(first)
            audio_bytes += size

    started = time.perf_counter()
    timeout = aiohttp.ClientTimeout(total=None)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        await asyncio.gather(*(client(session) for _ in range(clients)))
    wall = time.perf_counter() - started
    firsts.sort()
    return {
        "p50": statistics.median(firsts),
        "p95": firsts[min(len(firsts) - 1, int(0.95 * len(firsts)))],
        "throughput": audio_bytes / 2 / MelSpec().sample_rate / wall,
        "refused": refused,
    }


def batch_throughput(args: argparse.Namespace, texts: Sequence[str]) -> float:
    """Audio seconds per second of ``run_batch`` in this process, default flags (and the
    allocator setting the CLI and the server load engines with)."""
    limit_kernel_cache()
    release_large_frees()
    engine = FS2Engine.load(args.checkpoint, device="cpu")
    lines = [BatchLine(i + 1, text) for i, text in enumerate(texts)]
    with tempfile.TemporaryDirectory() as folder:
        run_batch(engine, lines[:4], Path(folder) / "warm", "wav", quiet=True)
        started = time.perf_counter()
        summary = run_batch(engine, lines, Path(folder) / "out", "wav", quiet=True)
        return summary.seconds / (time.perf_counter() - started)


def client_wall(url: str, runs: int) -> float:
    with tempfile.TemporaryDirectory() as folder:
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "ttscli", "fs2", "Hello world.", "--server", url,
                 "--out", str(Path(folder) / "h.wav"), "--quiet"],
                check=True,
            )  # fmt: skip
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def memory_over_requests(url: str, pid: int, requests: int) -> list[tuple[int, float]]:
    async def run() -> list[tuple[int, float]]:
        marks = []
        async with aiohttp.ClientSession() as session:
            for n in range(1, requests + 1):
                await one_request(session, url, f"Request number {n} says hello.")
                if n in (1, requests // 10, requests // 2, requests):
                    marks.append((n, rss_mb(pid)))
        return marks

    return asyncio.run(run())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sentences", type=Path, default=bundled_text(VALIDATION_SENTENCES))
    parser.add_argument("--limit", type=int, default=32, help="sentences per load level")
    parser.add_argument("--checkpoint", type=Path, default=None)
    parser.add_argument("--max-streams", type=int, default=4)
    parser.add_argument("--memory-requests", type=int, default=1000)
    parser.add_argument("--client-runs", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    texts = read_sentences(args.sentences, args.limit)

    batch = batch_throughput(args, texts)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start_server(args, port)
    try:
        asyncio.run(load(f"{url}/v1/audio/speech", texts[:4], 1))  # warm-up
        levels = {c: asyncio.run(load(f"{url}/v1/audio/speech", texts, c)) for c in (1, 4, 16)}
        mp3 = asyncio.run(load(f"{url}/v1/audio/speech", texts, 1, "mp3"))
        start_rss = rss_mb(server.pid)
        memory = memory_over_requests(f"{url}/v1/audio/speech", server.pid, args.memory_requests)
        wall = client_wall(url, args.client_runs)
    finally:
        server.terminate()
        server.wait(timeout=30)

    print(f"machine: {machine_description()['cpu_model']}, {os.cpu_count()} cores; {len(texts)} "
          f"sentences per level from {args.sentences.name}; server --max-streams "
          f"{args.max_streams}")  # fmt: skip
    print("| clients | first audio p50 (ms) | p95 (ms) | audio s per s | vs batch | refused |")
    print("|---:|---:|---:|---:|---:|---:|")
    for clients, row in levels.items():
        print(
            f"| {clients} | {row['p50'] * 1000:.0f} | {row['p95'] * 1000:.0f} | "
            f"{row['throughput']:.1f} | {row['throughput'] / batch:.2f}x | {row['refused']} |"
        )
    print(f"| batch (one process, run_batch) | | | {batch:.1f} | 1.00x | |")
    print()
    print("| format, 1 client | first audio p50 (ms) | p95 (ms) |")
    print("|---|---:|---:|")
    print(f"| pcm | {levels[1]['p50'] * 1000:.0f} | {levels[1]['p95'] * 1000:.0f} |")
    print(f"| mp3 | {mp3['p50'] * 1000:.0f} | {mp3['p95'] * 1000:.0f} |")
    print()
    print("| requests served | server RSS (MB) |")
    print("|---:|---:|")
    print(f"| 0 (warm) | {start_rss:.0f} |")
    for n, mb in memory:
        print(f"| {n} | {mb:.0f} |")
    print()
    print(f"`ttscli fs2 \"Hello world.\" --server URL --out h.wav`: {wall:.2f} s wall (median "
          f"of {args.client_runs})")  # fmt: skip
    if args.json:
        args.json.write_text(
            json.dumps(
                {"levels": levels, "mp3": mp3, "batch": batch, "memory": memory, "client": wall}
            )
        )
    return 0
