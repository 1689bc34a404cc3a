"""The ``ttscli`` command line: parsing and wiring only.

Every command follows one shape: text source -> engine -> chunk stream -> sink(s).
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from ttscli import __version__
from ttscli import cli_options as opt
from ttscli.batch import BatchSummary
from ttscli.engine import Chunk, Engine, RunStats
from ttscli.errors import UserError
from ttscli.fs2.kinds import ModelKind
from ttscli.plan import RunPlan, wants_batch

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
err = Console(stderr=True, highlight=False, soft_wrap=True)
F = TypeVar("F", bound=Callable[..., Any])


def user_errors(command: F) -> F:
    """Turn UserError and Ctrl-C into one line on stderr and an exit code."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except UserError as exc:
            err.print(f"error: {exc}", markup=False, soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            err.print("interrupted", markup=False)
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


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
    result: BatchSummary | RunStats,
    engine: Engine,
    out: str | None,
    *,
    json_output: bool,
    quiet: bool,
    extra: dict[str, Any],
) -> None:
    """What a run did: one line on stderr unless --quiet, a JSON object with --json."""
    if not quiet:
        err.print(f"{engine.describe()}: {result.describe()}", markup=False)
    if json_output and isinstance(result, BatchSummary):
        typer.echo(json.dumps(result.as_json()))
    elif json_output:
        fields = {"engine": engine.name, "device": str(getattr(engine, "device", ""))}
        fields |= {"sample_rate": engine.sample_rate, "out": out}
        typer.echo(json.dumps(result.as_json(fields | extra)))


@app.command()
@user_errors
def fs2(
    text: Annotated[
        str | None, typer.Argument(help="Text to speak; '-' or nothing reads stdin.")
    ] = None,
    in_file: opt.InFileOption = None,
    out: opt.OutOption = None,
    output_device: opt.OutputDeviceOption = None,
    model: Annotated[ModelKind, typer.Option(help="fs2 (mel + vocoder) or fs2s.")] = (
        ModelKind.fs2
    ),
    checkpoint: Annotated[
        Path | None, typer.Option(help="Checkpoint folder; default: the bundled voice.")
    ] = None,
    vocoder: Annotated[
        str, typer.Option(help="auto, griffin-lim, or a HiFi-GAN generator file/folder.")
    ] = "auto",
    device: opt.DeviceOption = opt.DeviceChoice.auto,
    pitch: Annotated[
        float, typer.Option(help="Multiply F0 (Hz); 1.5 = higher; 0.5-2 for the bundled voice.")
    ] = 1.0,
    energy: Annotated[float, typer.Option(help="Multiply energy (loudness).")] = 1.0,
    duration: Annotated[float, typer.Option(help="Multiply durations; 2.0 = twice as long.")] = (
        1.0
    ),
    phonemes: Annotated[bool, typer.Option("--phonemes", help="Print the phonemes.")] = False,
    plot: Annotated[Path | None, typer.Option(help="Save mel, pitch and energy as a PNG.")] = None,
    json_output: opt.JsonOption = False,
    batch_size: opt.BatchSizeOption = 8,
    audio_format: opt.FormatOption = opt.AudioFormat.wav,
    quiet: opt.QuietOption = False,
) -> None:
    """Speak with FastSpeech 2 / 2s (the bundled voice or --checkpoint DIR)."""
    from ttscli.fs2.engine import FS2Engine, check_controls
    from ttscli.fs2.model import Controls
    from ttscli.plot import check_plot_path, save_syntheses_plot
    from ttscli.text.frontend import text_to_utterances
    from ttscli.text_input import STDIN_PAUSE_SECONDS

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
        check_text=text_to_utterances,
        pause_after=STDIN_PAUSE_SECONDS,
    )
    engine = FS2Engine.load(checkpoint, kind=model, vocoder=vocoder, device=device.value)
    phoneme_stream = sys.stderr if out == "-" else sys.stdout

    def show_phonemes(chunk: Chunk) -> None:
        print(" ".join(chunk.phonemes), file=phoneme_stream, flush=True)

    result = plan.execute(
        engine,
        controls,
        audio_format=audio_format.value,
        quiet=quiet,
        keep_chunks=plot is not None,
        on_chunk=show_phonemes if phonemes else None,
    )
    extra = {"model": model.value, "vocoder": engine.vocoder_name}
    _report(result, engine, out, json_output=json_output, quiet=quiet, extra=extra)
    if plot is not None and isinstance(result, RunStats) and result.chunks:
        save_syntheses_plot(plot, [c.detail for c in result.chunks], engine.frame_seconds)


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
) -> None:
    """Speak with Kyutai TTS 1.6B, streaming to the sound card as audio is generated."""
    from ttscli.kyutai import KyutaiEngine
    from ttscli.text_input import require_text
    from ttscli.timestamps import check_timestamps_path, write_timestamps

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
    )
    with err.status("loading Kyutai TTS...", spinner="dots") if not quiet else nullcontext():
        engine = KyutaiEngine.load(
            voice=voice,
            hf_repo=hf_repo,
            voice_repo=voice_repo,
            model_dir=model_dir,
            device=device.value,
            n_q=n_q,
            temp=temp,
            cfg_coef=cfg_coef,
            seed=seed,
        )
    result = plan.execute(engine, None, audio_format=audio_format.value, quiet=quiet)
    words = len(result.words) if isinstance(result, RunStats) else None
    _report(result, engine, out, json_output=json_output, quiet=quiet, extra={"words": words})
    if isinstance(result, RunStats) and timestamps is not None:
        write_timestamps(timestamps, result.words)


@app.command()
@user_errors
def voices(
    voice_repo: opt.VoiceRepoOption = None,
    hf_repo: opt.HfRepoOption = None,
    model_dir: opt.ModelDirOption = None,
    offline: Annotated[bool, typer.Option("--offline", help="Only voices in the local cache.")] = (
        False
    ),
    json_output: opt.JsonOption = False,
) -> None:
    """List Kyutai voices (cached ones work offline) with each folder's licence."""
    from dataclasses import asdict

    from ttscli.kyutai.voices import format_listing, list_voices, suffix_from_cached_config

    suffix = suffix_from_cached_config(hf_repo, model_dir)
    listing = list_voices(voice_repo, online=not offline, voice_suffix=suffix)
    if json_output:
        typer.echo(json.dumps(asdict(listing)))
    else:
        typer.echo(format_listing(listing))


@app.command()
@user_errors
def devices(
    json_output: opt.JsonOption = False,
) -> None:
    """List sound output devices (for --output-device)."""
    from ttscli.audio.soundcard import list_output_devices

    found = list_output_devices()
    if json_output:
        typer.echo(json.dumps([d.__dict__ for d in found]))
        return
    if not found:
        err.print("no sound output devices found", markup=False)
        raise typer.Exit(1)
    typer.echo("\n".join(d.describe() for d in found))


def main() -> None:
    app(prog_name="ttscli")
