"""The ``ttscli`` command line: parsing and wiring only.

Every command follows one shape: text source -> engine -> chunk stream -> sink(s).
"""

from __future__ import annotations

import functools
import json
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import nullcontext
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import numpy as np
import typer
from rich.console import Console

from ttscli import __version__
from ttscli.errors import UserError

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


class ModelChoice(str, Enum):
    fs2 = "fs2"
    fs2s = "fs2s"


class AudioFormat(str, Enum):
    wav = "wav"
    flac = "flac"
    ogg = "ogg"


class DeviceChoice(str, Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


# Options both engines share, declared once so their flags and help cannot drift apart.
InFileOption = Annotated[
    Path | None,
    typer.Option("--in", help="Text file; with a folder --out, one audio file per line."),
]
OutOption = Annotated[
    str | None,
    typer.Option(
        "--out",
        "-o",
        help="FILE.wav|.flac|.ogg, '-' for raw 16-bit PCM on stdout, or a FOLDER "
        "for batches. Default: play on the sound card.",
    ),
]
OutputDeviceOption = Annotated[
    str | None, typer.Option(help="Sound card by number or name (see `ttscli devices`).")
]
DeviceOption = Annotated[DeviceChoice, typer.Option(help="Where to run.")]
BatchSizeOption = Annotated[int, typer.Option(help="Lines per mini-batch in batch mode.")]
FormatOption = Annotated[AudioFormat, typer.Option("--format", help="File type of batch outputs.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print a JSON summary on stdout.")]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress or stats.")]


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


def _drive(chunks: Iterable[np.ndarray], sink: Any) -> float:
    """Feed chunks to the sink; on any failure or Ctrl-C abort it so nothing is left
    half-written. Returns the seconds of audio written (in samples / rate units)."""
    samples = 0
    try:
        for chunk in chunks:
            sink.write(chunk)
            samples += len(chunk)
    except BaseException:
        sink.abort()
        raise
    sink.close()
    return samples


@app.command()
@user_errors
def fs2(
    text: Annotated[
        str | None, typer.Argument(help="Text to speak; '-' or nothing reads stdin.")
    ] = None,
    in_file: InFileOption = None,
    out: OutOption = None,
    output_device: OutputDeviceOption = None,
    model: Annotated[ModelChoice, typer.Option(help="fs2 (mel + vocoder) or fs2s.")] = (
        ModelChoice.fs2
    ),
    checkpoint: Annotated[
        Path | None, typer.Option(help="Checkpoint folder; default: the bundled voice.")
    ] = None,
    vocoder: Annotated[
        str, typer.Option(help="auto, griffin-lim, or a HiFi-GAN generator file/folder.")
    ] = "auto",
    device: DeviceOption = DeviceChoice.auto,
    pitch: Annotated[
        float, typer.Option(help="Multiply F0 (Hz); 1.5 = higher; 0.5-2 for the bundled voice.")
    ] = 1.0,
    energy: Annotated[float, typer.Option(help="Multiply energy (loudness).")] = 1.0,
    duration: Annotated[float, typer.Option(help="Multiply durations; 2.0 = twice as long.")] = (
        1.0
    ),
    phonemes: Annotated[bool, typer.Option("--phonemes", help="Print the phonemes.")] = False,
    plot: Annotated[Path | None, typer.Option(help="Save mel, pitch and energy as a PNG.")] = None,
    json_output: JsonOption = False,
    batch_size: BatchSizeOption = 8,
    audio_format: FormatOption = AudioFormat.wav,
    quiet: QuietOption = False,
) -> None:
    """Speak with FastSpeech 2 / 2s (the bundled voice or --checkpoint DIR)."""
    from ttscli.batch import prepare_out_dir
    from ttscli.fs2.engine import FS2Engine, check_controls
    from ttscli.fs2.model import Controls
    from ttscli.output import check_output, is_batch_dir, open_sink

    controls = Controls(pitch=pitch, energy=energy, duration=duration)
    check_controls(controls)
    if out == "-" and json_output:
        raise UserError("--json prints on stdout, which --out - already uses for audio")
    if plot is not None:
        from ttscli.plot import check_plot_path

        check_plot_path(plot)
    batch = in_file is not None and is_batch_dir(out)
    if in_file is not None and text is not None:
        raise UserError("give either TEXT or --in FILE, not both")
    # Everything a user can get wrong is checked before the model loads.
    if batch:
        if plot is not None:
            raise UserError("--plot is for one utterance, not for batches")
        lines = _read_batch_lines(in_file)
        prepare_out_dir(Path(out or "."))
    else:
        check_output(out, output_device)
        source = _text_source(text, in_file)

    started = time.perf_counter()
    engine = FS2Engine.load(checkpoint, kind=model.value, vocoder=vocoder, device=device.value)
    load_seconds = time.perf_counter() - started
    engine.check_controls(controls)  # this voice's own limits, before anything is written
    described = f"fs2 ({model.value}, {engine.vocoder_name}, {engine.device})"

    if batch:
        if not quiet:
            err.print(f"{described} loaded in {load_seconds:.2f} s", markup=False)
        _fs2_batch(
            engine,
            lines,
            Path(out or "."),
            audio_format.value,
            controls,
            batch_size,
            quiet,
            json_output,
        )
        return

    from ttscli.prefetch import prefetch

    sink = open_sink(out, engine.sample_rate, output_device)
    done: list[Any] = []
    phoneme_stream = sys.stderr if out == "-" else sys.stdout

    def syntheses() -> Iterator[Any]:
        for passage in source:
            yield from engine.stream_syntheses(passage, controls)

    def chunks() -> Iterator[np.ndarray]:
        for synthesis in prefetch(syntheses()):
            done.append(synthesis)
            if phonemes:
                print(" ".join(synthesis.phonemes), file=phoneme_stream, flush=True)
            yield synthesis.audio

    synth_started = time.perf_counter()
    samples = _drive(chunks(), sink)
    elapsed = time.perf_counter() - synth_started
    audio_seconds = samples / engine.sample_rate
    if plot is not None and done:
        _write_plot(plot, done, engine)
    if not quiet:
        rtf = f", real-time factor {elapsed / audio_seconds:.3f}" if audio_seconds else ""
        err.print(
            f"{described}: loaded in {load_seconds:.2f} s, "
            f"{audio_seconds:.2f} s of audio in {elapsed:.2f} s{rtf}",
            markup=False,
        )
    if json_output:
        summary = {
            "model": model.value,
            "vocoder": engine.vocoder_name,
            "device": str(engine.device),
            "sample_rate": engine.sample_rate,
            "seconds": round(sum(s.seconds for s in done), 3),
            "sentences": [
                {"phonemes": " ".join(s.phonemes), "seconds": round(s.seconds, 3)} for s in done
            ],
            "out": out,
            "load_seconds": round(load_seconds, 3),
            "synthesis_seconds": round(elapsed, 3),
        }
        typer.echo(json.dumps(summary))


def _text_source(text: str | None, in_file: Path | None) -> Iterator[str]:
    """Passages to speak, in order; stdin is read as it arrives."""
    from ttscli.text_input import passages, require_text, stdin_is_piped, stdin_lines

    if in_file is not None:
        lines = _read_text_file(in_file)
        return passages(lines.splitlines())
    if text is not None and text != "-":
        from ttscli.text.frontend import text_to_utterances

        text_to_utterances(require_text(text))  # fail now on text that cannot be spoken
        return iter([text])
    if text is None and not stdin_is_piped():
        raise UserError("no text: give TEXT, --in FILE, or pipe text into stdin")
    return _non_empty(passages(stdin_lines()))


def _non_empty(
    items: Iterator[str], counts: Callable[[str], bool] = lambda item: True
) -> Iterator[str]:
    """Fail clearly when stdin turns out to hold no text at all."""
    seen = False
    for item in items:
        seen = seen or counts(item)
        yield item
    if not seen:
        raise UserError("nothing to say: standard input was empty")


def _read_text_file(path: Path) -> str:
    from ttscli.batch import read_lines

    return "\n".join(line.text for line in read_lines(path))


def _read_batch_lines(path: Path | None) -> list[Any]:
    from ttscli.batch import read_lines

    assert path is not None
    return read_lines(path)


def _fs2_batch(
    engine: Any,
    lines: list[Any],
    out_dir: Path,
    fmt: str,
    controls: Any,
    batch_size: int,
    quiet: bool,
    json_output: bool,
) -> None:
    from ttscli.batch import run_batch

    def prepare(text: str) -> tuple[Any, str, int]:
        phonemes = engine.prepare(text)
        return phonemes, " ".join(phonemes), len(phonemes)

    def synthesize(items: list[Any]) -> list[np.ndarray]:
        return [s.audio for s in engine.synthesize(items, controls)]

    _report_batch(
        run_batch(lines, out_dir, fmt, prepare, synthesize, engine.sample_rate, batch_size, quiet),
        quiet,
        json_output,
    )


def _report_batch(summary: Any, quiet: bool, json_output: bool) -> None:
    if not quiet:
        err.print(
            f"wrote {summary.written} files ({summary.seconds:.1f} s of audio), "
            f"skipped {summary.skipped} already done; manifest {summary.manifest}",
            markup=False,
        )
    if json_output:
        typer.echo(
            json.dumps(
                {
                    "written": summary.written,
                    "skipped": summary.skipped,
                    "seconds": round(summary.seconds, 3),
                    "manifest": str(summary.manifest),
                }
            )
        )


def _write_plot(path: Path, syntheses: list[Any], engine: Any) -> None:
    from ttscli.plot import save_prosody_plot

    audio_config = engine.config.audio
    save_prosody_plot(
        path,
        np.concatenate([s.mel for s in syntheses]),
        np.concatenate([s.pitch_hz for s in syntheses]),
        np.concatenate([s.energy for s in syntheses]),
        audio_config.hop_length / audio_config.sample_rate,
        " | ".join(" ".join(s.phonemes) for s in syntheses),
    )


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
    in_file: InFileOption = None,
    out: OutOption = None,
    output_device: OutputDeviceOption = None,
    read_all: Annotated[
        bool,
        typer.Option(
            "--read-all", help="Read all of stdin before speaking (default: speak as it arrives)."
        ),
    ] = False,
    n_q: Annotated[int, typer.Option("--n-q", help="Codebooks to generate (fewer = faster).")] = (
        32
    ),
    temp: Annotated[float, typer.Option(help="Sampling temperature.")] = 0.6,
    cfg_coef: Annotated[float, typer.Option(help="Classifier-free guidance strength.")] = 2.0,
    seed: Annotated[int | None, typer.Option(help="Random seed for repeatable output.")] = None,
    device: DeviceOption = DeviceChoice.auto,
    timestamps: Annotated[
        Path | None, typer.Option(help="Write word timings to FILE.json or FILE.srt.")
    ] = None,
    hf_repo: Annotated[str | None, typer.Option(help="Model repository on the HF hub.")] = None,
    voice_repo: Annotated[str | None, typer.Option(help="Voice repository on the HF hub.")] = (
        None
    ),
    model_dir: Annotated[
        Path | None, typer.Option(help="Local folder with the model files (no hub).")
    ] = None,
    batch_size: BatchSizeOption = 8,
    audio_format: FormatOption = AudioFormat.wav,
    json_output: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Speak with Kyutai TTS 1.6B, streaming to the sound card as audio is generated."""
    from ttscli.batch import prepare_out_dir
    from ttscli.kyutai import KyutaiEngine
    from ttscli.output import check_output, is_batch_dir, open_sink

    if out == "-" and json_output:
        raise UserError("--json prints on stdout, which --out - already uses for audio")
    if in_file is not None and text is not None:
        raise UserError("give either TEXT or --in FILE, not both")
    batch = in_file is not None and is_batch_dir(out)
    if timestamps is not None:
        if batch:
            raise UserError("--timestamps is for one utterance; batch files get none")
        from ttscli.timestamps import check_timestamps_path

        check_timestamps_path(timestamps)
    if batch:
        lines = _read_batch_lines(in_file)
        prepare_out_dir(Path(out or "."))
    else:
        check_output(out, output_device)
        source = _speak_source(text, in_file, read_all)

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
    if not quiet:
        err.print(f"kyutai: loaded on {engine.device} in {engine.load_seconds:.2f} s", markup=False)

    if batch:
        from ttscli.batch import run_batch

        _report_batch(
            run_batch(
                lines,
                Path(out or "."),
                audio_format.value,
                lambda line: (line, None, len(line)),
                engine.synthesize_batch,
                engine.sample_rate,
                batch_size,
                quiet,
            ),
            quiet,
            json_output,
        )
        return

    from ttscli.prefetch import prefetch

    sink = open_sink(out, engine.sample_rate, output_device)
    started = time.perf_counter()
    samples = _drive(prefetch(engine.stream(source), depth=32), sink)
    elapsed = time.perf_counter() - started
    if timestamps is not None:
        from ttscli.timestamps import write_timestamps

        write_timestamps(timestamps, engine.word_timings)
    audio_seconds = samples / engine.sample_rate
    first = engine.first_audio_seconds
    underruns = getattr(sink, "underruns", None)
    if not quiet:
        parts = [f"{audio_seconds:.2f} s of audio in {elapsed:.2f} s"]
        if first is not None:
            parts.append(f"first audio {first * 1000:.0f} ms after the first word")
        if audio_seconds:
            parts.append(f"real-time factor {elapsed / audio_seconds:.3f}")
        if underruns is not None:
            parts.append(f"{underruns} underruns")
        err.print("kyutai: " + ", ".join(parts), markup=False)
    if json_output:
        typer.echo(
            json.dumps(
                {
                    "device": engine.device,
                    "sample_rate": engine.sample_rate,
                    "seconds": round(audio_seconds, 3),
                    "load_seconds": round(engine.load_seconds, 3),
                    "first_audio_seconds": None if first is None else round(first, 3),
                    "synthesis_seconds": round(elapsed, 3),
                    "underruns": underruns,
                    "words": len(engine.word_timings),
                    "out": out,
                }
            )
        )


def _speak_source(text: str | None, in_file: Path | None, read_all: bool) -> str | Iterator[str]:
    """Kyutai reads words as they come: stdin is passed on in the pieces it arrives in."""
    from ttscli.text_input import require_text, stdin_fragments, stdin_is_piped

    if in_file is not None:
        return require_text(_read_text_file(in_file))
    if text is not None and text != "-":
        return require_text(text)
    if text is None and not stdin_is_piped():
        raise UserError("no text: give TEXT, --in FILE, or pipe text into stdin")
    if read_all:
        return require_text(sys.stdin.read())
    return _non_empty(stdin_fragments(), lambda piece: bool(piece.strip()))


@app.command()
@user_errors
def voices(
    voice_repo: Annotated[str | None, typer.Option(help="Voice repository on the HF hub.")] = (
        None
    ),
    hf_repo: Annotated[
        str | None, typer.Option(help="Model whose voice embeddings to list.")
    ] = None,
    model_dir: Annotated[
        Path | None, typer.Option(help="Local model folder whose voice embeddings to list.")
    ] = None,
    offline: Annotated[bool, typer.Option("--offline", help="Only voices in the local cache.")] = (
        False
    ),
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
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
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
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
    for d in found:
        mark = "*" if d.is_default else " "
        typer.echo(
            f"{mark} {d.index:3d}  {d.name}  ({d.host_api}, {d.channels} ch, "
            f"{d.default_samplerate:.0f} Hz)"
        )


def main() -> None:
    app(prog_name="ttscli")
