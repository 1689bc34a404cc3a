"""``ttscli NAME``: a command for every engine in the registry that has none of its own,
its flags made from the fields the engine describes. An engine added to the registry is
usable from the command line with no change here."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Annotated, Any

import typer

from ttscli.cli import options as opt
from ttscli.cli.options import user_errors
from ttscli.cli.report import cluster_settings
from ttscli.cli.runs import carry_out
from ttscli.engines.base import OptionField
from ttscli.engines.entry import EngineEntry
from ttscli.engines.spec import EngineSpec
from ttscli.run.plan import RunPlan

PYTHON_TYPES: dict[str, type] = {"number": float, "integer": int, "string": str, "boolean": bool}


def _shared(
    text: Annotated[str | None, typer.Argument(help="Text to speak; '-' or nothing reads stdin.")],
    in_file: opt.InFileOption,
    out: opt.OutOption,
    output_device: opt.OutputDeviceOption,
    json_output: opt.JsonOption,
    batch_size: opt.BatchSizeOption,
    audio_format: opt.FormatOption,
    quiet: opt.QuietOption,
    server: opt.ServerOption,
    token: opt.TokenOption,
    cluster: opt.ClusterOption,
    cluster_address: opt.ClusterAddressOption,
    workers: opt.WorkersOption,
    worker_cpus: opt.WorkerCpusOption,
    worker_gpus: opt.WorkerGpusOption,
) -> None:
    """The flags every speaking command has; only its signature is used."""


SHARED_DEFAULTS: dict[str, Any] = {
    "text": None, "in_file": None, "out": None, "output_device": None, "json_output": False,
    "batch_size": 8, "audio_format": opt.AudioFormat.wav, "quiet": False, "server": None,
    "token": None, "cluster": None, "cluster_address": None, "workers": 2, "worker_cpus": 1.0,
    "worker_gpus": 0.0,
}  # fmt: skip


def _parameter(field: OptionField) -> inspect.Parameter:
    python_type: Any = PYTHON_TYPES[field.type]
    if field.optional:
        python_type = python_type | None
    extra: dict[str, Any] = opt.one_of(field.choices) if field.choices else {}
    flag = "--" + field.name.replace("_", "-")
    option = typer.Option(flag, help=field.help, **extra)
    return inspect.Parameter(
        field.name,
        inspect.Parameter.KEYWORD_ONLY,
        default=field.default,
        annotation=Annotated[python_type, option],
    )


def engine_command(entry: EngineEntry) -> Callable[..., None]:
    """A typer command speaking with ``entry``: the shared flags, then its fields."""
    request = list(entry.request_fields())
    load = list(entry.load_fields)
    names = [f.name for f in request + load]
    clash = {n for n in names if names.count(n) > 1} | (set(names) & set(SHARED_DEFAULTS))
    if clash:
        raise ValueError(f"engine {entry.name}: field names {sorted(clash)} clash")

    def command(**values: Any) -> None:
        from ttscli.run.sources import STDIN_PAUSE_SECONDS, require_text

        settings = cluster_settings(
            values["cluster"], values["cluster_address"], values["workers"],
            values["worker_cpus"], values["worker_gpus"],
        )  # fmt: skip
        fields = {f.name: values[f.name] for f in request}
        entry.check_request(fields)
        arguments = {f.name: values[f.name] for f in load}
        entry.check_load(arguments)
        server = values["server"]
        plan = RunPlan(
            text=values["text"],
            in_file=values["in_file"],
            out=values["out"],
            output_device=values["output_device"],
            batch_size=values["batch_size"],
            json_output=values["json_output"],
            check_text=entry.check_text if entry.check_text and not server else require_text,
            pause_after=None if entry.reads_words else STDIN_PAUSE_SECONDS,
            audio_format=values["audio_format"].value,
            cluster=settings,
            line_fields=entry.request_fields(),
        )
        carry_out(
            plan,
            EngineSpec(entry.name, arguments),
            fields,
            quiet=values["quiet"],
            json_output=values["json_output"],
            server=server,
            token=values["token"],
        )

    shared = [
        p.replace(default=SHARED_DEFAULTS[p.name])
        for p in inspect.signature(_shared, eval_str=True).parameters.values()
    ]
    params = shared + [_parameter(f) for f in request + load]
    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in params}
    command.__doc__ = entry.summary
    command.__name__ = entry.name
    return user_errors(command)
