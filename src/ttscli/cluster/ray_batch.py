"""``--cluster ray``: a batch's lines synthesised by Ray actors, written by the driver.

Each worker is an actor that loads the engine once and turns shards of lines into encoded
audio. The driver reads the input as a stream, keeps a bounded number of shards in flight
(back-pressure: its memory does not grow with the input), and writes every file atomically
and its manifest entry, exactly as the single-process batch does, so resuming, the
manifest's format and "every line exactly once" are the same. A worker that dies is
restarted by Ray and the shard it held runs again; nothing of it was written, so nothing is
written twice. Ctrl-C stops the work; the same command again resumes it.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import soundfile as sf

from ttscli.audio.formats import FORMATS
from ttscli.run.batch import (
    BatchSummary,
    check_batch_size,
    groups,
    kept,
    prepare,
    prepare_out_dir,
    synthesize_lines,
)
from ttscli.run.line_engines import EngineSource, LineEngines
from ttscli.run.lines import BatchLine
from ttscli.run.manifest import Manifest
from ttscli.run.timestamps import render
from ttscli.util.atomic import atomic_write_bytes, remove_partials
from ttscli.util.errors import UserError
from ttscli.util.faults import WriteFault, writing

__all__ = ["ClusterSettings", "run_cluster_batch"]

INSTALL_HINT = "--cluster ray needs Ray: pip install 'ttscli[cluster]'"


@dataclass(frozen=True)
class ClusterSettings:
    address: str | None = None
    workers: int = 2
    worker_cpus: float = 1.0
    worker_gpus: float = 0.0
    shard_lines: int = 16
    in_flight_per_worker: int = 2

    def check(self) -> None:
        if self.workers < 1:
            raise UserError(f"--workers {self.workers}: must be at least 1")
        if self.worker_cpus <= 0:
            raise UserError(f"--worker-cpus {self.worker_cpus:g}: must be above 0")
        if self.worker_gpus < 0:
            raise UserError(f"--worker-gpus {self.worker_gpus:g}: cannot be negative")


@dataclass
class WorkerFigures:
    lines: int = 0
    audio_seconds: float = 0.0
    compute_seconds: float = 0.0


@dataclass
class ClusterSummary(BatchSummary):
    """A batch's summary, with each worker's share."""

    wall_seconds: float = 0.0
    workers: dict[str, WorkerFigures] = field(default_factory=dict)

    def describe(self) -> str:
        rate = self.written / self.wall_seconds if self.wall_seconds else 0.0
        return f"{super().describe()}; {len(self.workers)} workers, {rate:.1f} lines/s"

    def as_json(self) -> dict[str, Any]:
        return {
            **super().as_json(),
            "wall_seconds": round(self.wall_seconds, 3),
            "workers": {
                name: {
                    "lines": w.lines,
                    "audio_seconds": round(w.audio_seconds, 3),
                    "compute_seconds": round(w.compute_seconds, 3),
                }
                for name, w in self.workers.items()
            },
        }


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise UserError(INSTALL_HINT) from None
    return ray


def encode(audio: Any, sample_rate: int, fmt: str) -> bytes:
    """A whole file's bytes, written the way ``FileSink`` writes one."""
    container, subtype = FORMATS[fmt]
    buffer = io.BytesIO()
    with sf.SoundFile(
        buffer, "w", samplerate=sample_rate, channels=1, format=container, subtype=subtype
    ) as out:
        out.write(audio)
    return buffer.getvalue()


class ShardWorker:
    """The body of a Ray actor: an engine loaded once, shards of lines in, files out."""

    def __init__(self, spec: EngineSource, threads: int) -> None:
        self.engine = spec.load(threads)
        self.engines = LineEngines(self.engine, spec, threads)
        self.name = f"{socket.gethostname()}:{os.getpid()}"

    def pid(self) -> int:
        return os.getpid()

    def synthesize(
        self,
        shard: list[BatchLine],
        fields: dict[str, Any],
        fmt: str,
        batch_size: int,
        timestamps: str | None = None,
    ) -> dict[str, Any]:
        """Encoded files for the shard's lines (and their timing files' text, in the
        format ``timestamps`` names), or the first error (the options or a bad line); made
        the way the one-process batch makes them."""
        started = time.perf_counter()
        try:
            options = self.engine.options(fields)
            items = [(line, prepare(self.engines, line, fields)) for line in shard]
        except UserError as exc:
            return {"error": str(exc)}
        made = synthesize_lines(self.engines, items, batch_size, options, fields)
        files = [
            (line, prepared.phonemes, chunk.seconds, encode(chunk.audio, chunk.sample_rate, fmt),
             render(chunk.words, timestamps, chunk.marks) if timestamps else None)
            for line, prepared, chunk in made
        ]  # fmt: skip
        return {
            "worker": self.name,
            "files": files,
            "compute_seconds": time.perf_counter() - started,
        }


def check_reachable(address: str) -> None:
    """A cluster that cannot be reached fails in one line now; Ray itself would retry for
    minutes first."""
    if address == "auto":
        return  # Ray finds the cluster this machine belongs to
    target = address.split("://", 1)[-1]
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        raise UserError(f"--cluster-address {address}: expected HOST:PORT (or ray://HOST:PORT)")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=5):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise UserError(f"--cluster-address {address}: cannot reach it ({reason})") from None


def connect(ray: Any, address: str | None) -> bool:
    """Join the cluster at ``address`` (or RAY_ADDRESS), or start a local instance.
    Returns whether this process started Ray (and so must stop it)."""
    if ray.is_initialized():
        return False
    target = address or os.environ.get("RAY_ADDRESS") or None
    if target is not None:
        check_reachable(target)
    # Ray announces at WARNING level that it enabled token authentication for the local
    # instance it starts (it did: nothing to act on); keep the CLI's stderr to our lines.
    logging.getLogger("ray._private.authentication").setLevel(logging.ERROR)
    try:
        ray.init(
            address=target,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
        )
    except (ConnectionError, RuntimeError, ValueError, TimeoutError) as exc:
        where = target or "a local Ray instance"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"--cluster-address {where}: cannot connect ({first[:160]})") from None
    return True


def run_cluster_batch(
    spec: EngineSource,
    lines: Iterable[BatchLine],
    out_dir: Path,
    fmt: str,
    fields: dict[str, Any],
    settings: ClusterSettings,
    batch_size: int = 8,
    progress: Callable[[int, float], None] | None = None,
    on_workers: Callable[[list[Any]], None] | None = None,
    timestamps: str | None = None,
) -> ClusterSummary:
    """Every line not yet done, synthesised by ``settings.workers`` Ray actors (with each
    line's timing file too when ``timestamps`` names a format, as ``run_batch``)."""
    settings.check()
    check_batch_size(batch_size)
    ray = import_ray()
    prepare_out_dir(out_dir)
    manifest = Manifest(out_dir, fmt, timestamps)
    skipped = manifest.resume(lines)
    pending = manifest.lines - skipped
    summary = ClusterSummary(0, skipped, 0.0, manifest.path)
    if pending == 0:
        manifest.finish()
        return summary
    started_here = connect(ray, settings.address)
    started = time.perf_counter()
    try:
        actor = ray.remote(ShardWorker).options(
            num_cpus=settings.worker_cpus,
            num_gpus=settings.worker_gpus,
            max_restarts=-1,
            max_task_retries=-1,
        )
        threads = max(1, int(settings.worker_cpus))
        workers = [actor.remote(spec, threads) for _ in range(settings.workers)]
        if on_workers is not None:
            on_workers(workers)
        limit = settings.workers * settings.in_flight_per_worker
        in_flight: list[Any] = []
        shards = groups(
            (ln for ln in lines if not manifest.is_done(ln.index)), settings.shard_lines
        )
        turn = 0
        exhausted = False
        while in_flight or not exhausted:
            while not exhausted and len(in_flight) < limit:
                shard = next(shards, None)
                if shard is None:
                    exhausted = True
                    break
                worker = workers[turn % len(workers)]
                turn += 1
                task = worker.synthesize.remote(shard, fields, fmt, batch_size, timestamps)
                in_flight.append(task)
            if not in_flight:
                break
            ready, in_flight = ray.wait(in_flight, num_returns=1)
            for ref in ready:
                result = ray.get(ref)
                if "error" in result:
                    raise UserError(result["error"])
                try:
                    _write(result, out_dir, manifest, summary)
                except WriteFault as fault:
                    raise fault.after(kept(skipped + summary.written, manifest)) from None
                if progress is not None:
                    progress(len(result["files"]), sum(f[2] for f in result["files"]))
        summary.wall_seconds = time.perf_counter() - started
    except BaseException:
        with contextlib.suppress(OSError):  # what failed is being reported already
            manifest.finish()
        with contextlib.suppress(OSError):
            remove_partials(out_dir)
        raise
    finally:
        if started_here:
            ray.shutdown()
    with writing(manifest.path):
        manifest.finish()
    return summary


def _write(
    result: dict[str, Any], out_dir: Path, manifest: Manifest, summary: ClusterSummary
) -> None:
    figures = summary.workers.setdefault(result["worker"], WorkerFigures())
    figures.compute_seconds += result["compute_seconds"]
    for line, phonemes, seconds, data, timings in result["files"]:
        index = line.index
        target = out_dir / manifest.file_name(index)
        with writing(target):
            atomic_write_bytes(target, data, make_folder=False)
        if timings is not None:
            beside = out_dir / manifest.timings_name(index)
            with writing(beside):
                atomic_write_bytes(beside, timings.encode("utf-8"), make_folder=False)
        manifest.record(line, phonemes, seconds)
        summary.written += 1
        summary.seconds += seconds
        figures.lines += 1
        figures.audio_seconds += seconds
