"""The flags both commands share, declared once so their names and help cannot drift apart.

Only typer and the standard library are imported here: ``ttscli --help`` stays fast.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer


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
