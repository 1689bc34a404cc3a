"""How every speaking command carries out its plan: through a server, on a cluster, or
with the engine loaded here. The commands differ only in their flags."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

from ttscli.cli.options import err
from ttscli.cli.report import engine_fields, report, run_on_cluster
from ttscli.engines.base import Chunk, Engine, RunStats
from ttscli.engines.spec import EngineSpec
from ttscli.run.batch import BatchSummary
from ttscli.run.plan import RunPlan


def warn(message: str) -> None:
    """What the engine cannot honour of the markup: one line each, never silence."""
    err.print(f"warning: {message}", markup=False)


def carry_out(
    plan: RunPlan,
    spec: EngineSpec,
    fields: dict[str, Any],
    *,
    quiet: bool,
    json_output: bool,
    server: str | None = None,
    token: str | None = None,
    remote_fields: dict[str, Any] | None = None,
    keep_chunks: bool = False,
    on_chunk: Callable[[Chunk], None] | None = None,
    loading: str | None = None,
) -> tuple[Engine[Any] | None, BatchSummary | RunStats | None]:
    """Run the plan and report it; returns the engine loaded here (None for a server or a
    cluster) and a local run's result, for what a command prints after it."""
    if server:
        remote = plan.execute_remote(server, {**fields, **(remote_fields or {})}, token)
        report(remote, server, {"server": server}, quiet, json_output)
        return None, None
    if plan.cluster is not None:
        summary = run_on_cluster(plan, spec, fields, quiet)
        report(summary, "ray", {}, quiet, json_output)
        return None, None
    status = err.status(loading, spinner="dots") if loading and not quiet else nullcontext()
    with status:
        engine = spec.load()
    result = plan.execute(
        engine,
        fields,
        quiet=quiet,
        keep_chunks=keep_chunks,
        on_chunk=on_chunk,
        on_warning=None if quiet else warn,
        spec=spec,
    )
    facts = engine_fields(engine, plan.out)
    if isinstance(result, RunStats) and engine.reads_words:
        facts["words"] = len(result.words)
    report(result, engine.describe(), facts, quiet, json_output)
    return engine, result
