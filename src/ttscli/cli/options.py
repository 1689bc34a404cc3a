"""The flags the commands share, declared once so their names and help cannot drift apart,
and the one way a command turns a user's mistake into a line on stderr.

Only typer, rich and the standard library are imported here: ``ttscli --help`` stays fast.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from ttscli.engines.base import OptionError
from ttscli.engines.registry import get as engine_entry
from ttscli.util.errors import UserError
from ttscli.util.faults import IO_EXIT_CODE

err = Console(stderr=True, highlight=False, soft_wrap=True)
F = TypeVar("F", bound=Callable[..., Any])


def user_errors(command: F) -> F:
    """Turn UserError and Ctrl-C into one line on stderr and an exit code."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except OptionError as exc:
            err.print(f"error: {exc.as_flag()}", markup=False, soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None
        except UserError as exc:
            err.print(f"error: {exc}", markup=False, soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            err.print("interrupted", markup=False)
            raise typer.Exit(130) from None
        except MemoryError:
            err.print(
                "error: out of memory; close other programs, or give shorter texts or a "
                "smaller --batch-size",
                markup=False,
            )
            raise typer.Exit(IO_EXIT_CODE) from None

    return wrapper  # type: ignore[return-value]


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
HfRepoOption = Annotated[
    str | None, typer.Option(help="Model repository on the HF hub (its voices, for `voices`).")
]
VoiceRepoOption = Annotated[str | None, typer.Option(help="Voice repository on the HF hub.")]
ModelDirOption = Annotated[
    Path | None, typer.Option(help="Local folder with the model files (no hub).")
]
ServerOption = Annotated[
    str | None,
    typer.Option(
        "--server",
        envvar="TTSCLI_SERVER",
        help="Ask a running `ttscli serve` at this URL instead of loading a model here.",
    ),
]
TokenOption = Annotated[
    str | None,
    typer.Option("--token", envvar="TTSCLI_TOKEN", help="Bearer token for --server."),
]


def field_help(engine: str, name: str) -> str:
    """The help of an engine's field, as the engine itself states it (limits included)."""
    entry = engine_entry(engine)
    for field in (*entry.request_fields(), *entry.load_fields):
        if field.name == name:
            return field.help
    raise KeyError(name)


def field_choices(engine: str, name: str) -> list[str]:
    entry = engine_entry(engine)
    return next(list(f.choices) for f in entry.load_fields if f.name == name)


def one_of(choices: Sequence[str]) -> dict[str, Any]:
    """``typer.Option`` arguments for a string limited to ``choices``.

    A callback raising typer's ``BadParameter``, not ``click.Choice``: typer 0.26 and later
    run on their own copy of click, which does not catch real click's errors, so a wrong
    value came out as a traceback instead of a usage error."""
    allowed = tuple(choices)

    def check(value: str | None) -> str | None:
        if value is not None and value not in allowed:
            listed = ", ".join(repr(choice) for choice in allowed)
            raise typer.BadParameter(f"{value!r} is not one of {listed}.")
        return value

    return {"callback": check, "metavar": "|".join(allowed)}


# FastSpeech 2's own flags, shared by `fs2` and `serve`.
ModelOption = Annotated[
    str,
    typer.Option(help=field_help("fs2", "model"), **one_of(field_choices("fs2", "model"))),
]
CheckpointOption = Annotated[Path | None, typer.Option(help=field_help("fs2", "checkpoint"))]
VocoderOption = Annotated[str, typer.Option(help=field_help("fs2", "vocoder"))]
PrecisionOption = Annotated[
    str,
    typer.Option(help=field_help("fs2", "precision"), **one_of(field_choices("fs2", "precision"))),
]
PitchOption = Annotated[float, typer.Option(help=field_help("fs2", "pitch"))]
EnergyOption = Annotated[float, typer.Option(help=field_help("fs2", "energy"))]
DurationOption = Annotated[float, typer.Option(help=field_help("fs2", "duration"))]
SsmlOption = Annotated[
    bool,
    typer.Option("--ssml", help="The text is SSML (also assumed when it starts with <speak>)."),
]
LexiconOption = Annotated[
    Path | None,
    typer.Option(
        envvar="TTSCLI_LEXICON",
        help="Pronunciation lexicon: WORD<TAB>pronunciation, one a line (fs2: ARPAbet or "
        "IPA; speak: a respelling). Entries win over the dictionary.",
    ),
]
SentenceSilenceOption = Annotated[
    float, typer.Option(help="Seconds of silence added between sentences.")
]
ParagraphSilenceOption = Annotated[
    float, typer.Option(help="Seconds of silence added after a paragraph (a blank line).")
]
TimestampsOption = Annotated[
    Path | None,
    typer.Option(
        help="Write word timings (and SSML marks) to FILE.json, .srt or .vtt; in a batch, "
        "name the format (vtt) and each line gets its own file beside its audio."
    ),
]
EngineOptionOption = Annotated[
    list[str] | None,
    typer.Option(
        "--engine-option",
        metavar="KEY=VALUE",
        help="A load field of the engine that has no flag of its own (repeatable).",
    ),
]

# Batches on a cluster (`--in LINES --out FOLDER --cluster ray`).
ClusterOption = Annotated[
    str | None,
    typer.Option(help="ray: run the batch on Ray actors (pip install 'ttscli\\[cluster]')."),
]
ClusterAddressOption = Annotated[
    str | None,
    typer.Option(help="Ray cluster HOST:PORT (default: RAY_ADDRESS, else a local instance)."),
]
WorkersOption = Annotated[int, typer.Option(help="Ray workers (each loads the engine once).")]
WorkerCpusOption = Annotated[float, typer.Option(help="CPUs (and torch threads) per worker.")]
WorkerGpusOption = Annotated[float, typer.Option(help="GPUs per worker (1 for speak on GPUs).")]
