"""What a command prints when a run ends, and the progress of a batch on a cluster."""

from __future__ import annotations

import time
from json import dumps
from typing import Any

import typer
from rich.console import Console

from ttscli.cli.options import err
from ttscli.cluster.ray_batch import ClusterSettings, ClusterSummary
from ttscli.engines.base import Engine, RunStats
from ttscli.engines.spec import EngineSpec
from ttscli.run.batch import BatchSummary
from ttscli.run.plan import RunPlan
from ttscli.util.errors import UserError


def report(
    result: BatchSummary | ClusterSummary | RunStats,
    label: str,
    fields: dict[str, Any],
    quiet: bool,
    json: bool,
) -> None:
    """What a run did: one line on stderr unless --quiet, a JSON object with --json."""
    if not quiet:
        err.print(f"{label}: {result.describe()}", markup=False)
    if json and isinstance(result, (BatchSummary, ClusterSummary)):
        typer.echo(dumps(result.as_json()))
    elif json:
        typer.echo(dumps(result.as_json(fields)))


def engine_fields(engine: Engine[Any], out: str | None) -> dict[str, Any]:
    """The run's facts for --json: the engine's own, and where the audio went."""
    facts = engine.facts()
    return {
        "engine": engine.name,
        "device": facts.pop("device", ""),
        "sample_rate": engine.sample_rate,
        "out": out,
        **facts,
    }


def cluster_settings(
    name: str | None, address: str | None, workers: int, cpus: float, gpus: float
) -> ClusterSettings | None:
    if name is None:
        return None
    if name != "ray":
        raise UserError(f"--cluster {name}: the only cluster engine is ray")
    return ClusterSettings(address, workers, cpus, gpus)


def run_on_cluster(
    plan: RunPlan, spec: EngineSpec, fields: dict[str, Any], quiet: bool
) -> ClusterSummary:
    """The plan's batch on Ray, with a progress bar of lines and audio per second."""
    from rich.progress import (  # only batches draw a progress bar
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    progress = Progress(
        TextColumn("[bold]synthesising on Ray"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=quiet,
    )
    started = time.perf_counter()
    audio = [0.0]
    with progress:
        total = len(plan.lines) if plan.lines is not None else None
        task = progress.add_task("cluster", total=total, rate="")

        def advance(lines: int, seconds: float) -> None:
            audio[0] += seconds
            elapsed = max(time.perf_counter() - started, 1e-9)
            done = int(progress.tasks[0].completed) + lines
            rate = f"{done / elapsed:.1f} lines/s, {audio[0] / elapsed:.1f} s audio/s"
            progress.update(task, advance=lines, rate=rate)

        return plan.execute_on_cluster(spec, fields, progress=advance)
