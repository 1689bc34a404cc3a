"""The ``ttscli`` command line: parsing and wiring only.

Every command follows one shape: text source -> engine -> chunk stream -> sink(s).
"""

from __future__ import annotations

import sys
from contextlib import nullcontext
from json import dumps
from pathlib import Path
from typing import Annotated, Any

import typer

from ttscli import __version__
from ttscli.cli import options as opt
from ttscli.cli.lists import devices_command, voices_command
from ttscli.cli.options import err, user_errors
from ttscli.cli.serve import serve_command
from ttscli.cluster.ray_batch import ClusterSettings, ClusterSummary
from ttscli.engines.base import Chunk, Engine, RunStats
from ttscli.engines.spec import EngineSpec, kyutai_spec
from ttscli.fs2.kinds import ModelKind
from ttscli.run.batch import BatchSummary
from ttscli.run.plan import RunPlan, wants_batch
from ttscli.util.errors import UserError
from ttscli.util.process_exit import exit_process

KYUTAI_ATTRIBUTION = (
    "Kyutai TTS 1.6B weights (kyutai/tts-1.6b-en_fr) by Kyutai, licensed CC-BY 4.0; "
    "voices in kyutai/tts-voices carry their own licences (see `ttscli voices`)."
)

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help=(
        "Speech synthesis on the command line: `speak` streams Kyutai TTS 1.6B, "
        "`fs2` runs the bundled FastSpeech 2 voice.\n\n" + KYUTAI_ATTRIBUTION
    ),
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ttscli {__version__}\n{KYUTAI_ATTRIBUTION}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show version.")
    ] = False,
) -> None:
    """Speech synthesis on the command line."""


def _report(
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


def _engine_fields(engine: Engine, out: str | None) -> dict[str, Any]:
    device = str(getattr(engine, "device", ""))
    return {"engine": engine.name, "device": device, "sample_rate": engine.sample_rate, "out": out}


@app.command()
@user_errors
def fs2(
    text: Annotated[
        str | None, typer.Argument(help="Text to speak; '-' or nothing reads stdin.")
    ] = None,
    in_file: opt.InFileOption = None,
    out: opt.OutOption = None,
    output_device: opt.OutputDeviceOption = None,
    model: opt.ModelOption = ModelKind.fs2,
    checkpoint: opt.CheckpointOption = None,
    vocoder: opt.VocoderOption = "auto",
    device: opt.DeviceOption = opt.DeviceChoice.auto,
    pitch: opt.PitchOption = 1.0,
    energy: opt.EnergyOption = 1.0,
    duration: opt.DurationOption = 1.0,
    phonemes: Annotated[bool, typer.Option("--phonemes", help="Print the phonemes.")] = False,
    plot: Annotated[Path | None, typer.Option(help="Save mel, pitch and energy as a PNG.")] = None,
    json_output: opt.JsonOption = False,
    batch_size: opt.BatchSizeOption = 8,
    audio_format: opt.FormatOption = opt.AudioFormat.wav,
    quiet: opt.QuietOption = False,
    server: opt.ServerOption = None,
    token: opt.TokenOption = None,
    cluster: opt.ClusterOption = None,
    cluster_address: opt.ClusterAddressOption = None,
    workers: opt.WorkersOption = 2,
    worker_cpus: opt.WorkerCpusOption = 1.0,
    worker_gpus: opt.WorkerGpusOption = 0.0,
) -> None:
    """Speak with FastSpeech 2 / 2s (the bundled voice or --checkpoint DIR)."""
    from ttscli.cli.plot import check_plot_path, save_syntheses_plot
    from ttscli.fs2.kinds import Controls, check_controls
    from ttscli.run.sources import STDIN_PAUSE_SECONDS, require_text

    controls = Controls(pitch=pitch, energy=energy, duration=duration)
    check_controls(controls)
    if plot is not None:
        check_plot_path(plot)
        if wants_batch(in_file, out):
            raise UserError("--plot is for one utterance, not for batches")
    plan = RunPlan(
        text=text,
        in_file=in_file,
        out=out,
        output_device=output_device,
        batch_size=batch_size,
        json_output=json_output,
        check_text=require_text if server else _speakable,
        pause_after=STDIN_PAUSE_SECONDS,
        audio_format=audio_format.value,
        cluster=_cluster(cluster, cluster_address, workers, worker_cpus, worker_gpus),
    )
    if server:
        fields = {"model": model.value, "pitch": pitch, "energy": energy, "duration": duration}
        remote = plan.execute_remote(server, fields, token)
        _report(remote, server, {"server": server}, quiet, json_output)
        return
    load = {"checkpoint": checkpoint, "kind": model, "vocoder": vocoder, "device": device.value}
    spec = EngineSpec("fs2", load)
    if plan.cluster is not None:
        result = plan.execute_on_cluster(spec, controls, quiet)
        _report(result, "ray", {}, quiet, json_output)
        return
    engine = spec.load()
    phoneme_stream = sys.stderr if out == "-" else sys.stdout

    def show_phonemes(chunk: Chunk) -> None:
        if chunk.phonemes:  # the first chunk of each sentence
            print(" ".join(chunk.phonemes), file=phoneme_stream, flush=True)

    result = plan.execute(
        engine,
        controls,
        quiet=quiet,
        keep_chunks=plot is not None,
        on_chunk=show_phonemes if phonemes else None,
    )
    fields = _engine_fields(engine, out) | {"model": model.value, "vocoder": engine.vocoder_name}
    _report(result, engine.describe(), fields, quiet, json_output)
    if plot is not None and isinstance(result, RunStats) and result.chunks:
        syntheses = [c.detail for c in result.chunks if c.detail is not None]
        save_syntheses_plot(plot, syntheses, engine.frame_seconds)


def _cluster(
    name: str | None, address: str | None, workers: int, cpus: float, gpus: float
) -> ClusterSettings | None:
    if name is None:
        return None
    if name != "ray":
        raise UserError(f"--cluster {name}: the only cluster engine is ray")
    return ClusterSettings(address, workers, cpus, gpus)


def _speakable(text: str) -> object:
    """Fail before the model loads on text with nothing to say (the server checks its own)."""
    from ttscli.text.frontend import text_to_utterances

    return text_to_utterances(text)


@app.command()
@user_errors
def speak(
    text: Annotated[
        str | None, typer.Argument(help="Text to speak; '-' or nothing reads stdin as it arrives.")
    ] = None,
    voice: Annotated[
        str | None,
        typer.Option(help="Voice: a path in the voice repo or a local .safetensors embedding."),
    ] = None,
    in_file: opt.InFileOption = None,
    out: opt.OutOption = None,
    output_device: opt.OutputDeviceOption = None,
    read_all: Annotated[
        bool,
        typer.Option(
            "--read-all", help="Read all of stdin before speaking (default: speak as it arrives)."
        ),
    ] = False,
    n_q: Annotated[
        int | None,
        typer.Option("--n-q", help="Codebooks to generate (fewer = faster); default: all."),
    ] = None,
    temp: Annotated[float, typer.Option(help="Sampling temperature.")] = 0.6,
    cfg_coef: Annotated[float, typer.Option(help="Classifier-free guidance strength.")] = 2.0,
    seed: Annotated[int | None, typer.Option(help="Random seed for repeatable output.")] = None,
    device: opt.DeviceOption = opt.DeviceChoice.auto,
    timestamps: Annotated[
        Path | None, typer.Option(help="Write word timings to FILE.json or FILE.srt.")
    ] = None,
    hf_repo: opt.HfRepoOption = None,
    voice_repo: opt.VoiceRepoOption = None,
    model_dir: opt.ModelDirOption = None,
    batch_size: opt.BatchSizeOption = 8,
    audio_format: opt.FormatOption = opt.AudioFormat.wav,
    json_output: opt.JsonOption = False,
    quiet: opt.QuietOption = False,
    server: opt.ServerOption = None,
    token: opt.TokenOption = None,
    cluster: opt.ClusterOption = None,
    cluster_address: opt.ClusterAddressOption = None,
    workers: opt.WorkersOption = 2,
    worker_cpus: opt.WorkerCpusOption = 1.0,
    worker_gpus: opt.WorkerGpusOption = 0.0,
) -> None:
    """Speak with Kyutai TTS 1.6B, streaming to the sound card as audio is generated."""
    from ttscli.run.sources import require_text
    from ttscli.run.timestamps import check_timestamps_path, write_timestamps

    if timestamps is not None:
        if wants_batch(in_file, out):
            raise UserError("--timestamps is for one utterance; batch files get none")
        check_timestamps_path(timestamps)
    plan = RunPlan(
        text=text,
        in_file=in_file,
        out=out,
        output_device=output_device,
        batch_size=batch_size,
        json_output=json_output,
        check_text=require_text,
        read_all=read_all,
        audio_format=audio_format.value,
        cluster=_cluster(cluster, cluster_address, workers, worker_cpus, worker_gpus),
    )
    if server:
        fields = {"voice": voice, "n_q": n_q, "seed": seed}
        remote = plan.execute_remote(server, fields, token)
        _report(remote, server, {"server": server}, quiet, json_output)
        return
    spec = kyutai_spec(
        voice, hf_repo, voice_repo, model_dir, device.value, n_q, temp, cfg_coef, seed
    )
    if plan.cluster is not None:
        result = plan.execute_on_cluster(spec, None, quiet)
        _report(result, "ray", {}, quiet, json_output)
        return
    with err.status("loading Kyutai TTS...", spinner="dots") if not quiet else nullcontext():
        engine = spec.load()
    result = plan.execute(engine, None, quiet=quiet)
    words = len(result.words) if isinstance(result, RunStats) else None
    fields = _engine_fields(engine, out) | {"words": words}
    _report(result, engine.describe(), fields, quiet, json_output)
    if isinstance(result, RunStats) and timestamps is not None:
        write_timestamps(timestamps, result.words)


app.command("voices")(user_errors(voices_command))
app.command("devices")(user_errors(devices_command))
app.command("serve")(user_errors(serve_command))


def main() -> None:
    """The console script: the app, then an exit that skips torch's C teardown."""
    try:
        app(prog_name="ttscli")
    except SystemExit as exc:
        code = exc.code
    else:
        code = 0
    exit_process(code)  # outside the handler, so the exception's frames are freed first
