"""``ttscli voices`` and ``ttscli devices``: what can be chosen, listed."""

from __future__ import annotations

from json import dumps
from typing import Annotated

import typer

from ttscli.cli import options as opt
from ttscli.cli.options import err


def voices_command(
    engine: Annotated[str, typer.Option(help="The engine whose voices to list.")] = "kyutai",
    voice_repo: opt.VoiceRepoOption = None,
    hf_repo: opt.HfRepoOption = None,
    model_dir: opt.ModelDirOption = None,
    offline: Annotated[bool, typer.Option("--offline", help="Only voices in the local cache.")] = (
        False
    ),
    json_output: opt.JsonOption = False,
) -> None:
    """List Kyutai voices (cached ones work offline) with each folder's licence."""
    from ttscli.engines import registry
    from ttscli.util.errors import UserError

    entry = registry.get(engine)
    if entry.list_voices is None:
        raise UserError(f"{entry.name} speaks with the voice of its model; it has no list")
    arguments = {
        "voice_repo": voice_repo,
        "hf_repo": hf_repo,
        "model_dir": None if model_dir is None else str(model_dir),
    }
    listing = entry.list_voices(arguments, not offline)
    typer.echo(dumps(listing.json) if json_output else listing.text)


def devices_command(
    json_output: opt.JsonOption = False,
) -> None:
    """List sound output devices (for --output-device)."""
    from ttscli.audio.soundcard import list_output_devices

    found = list_output_devices()
    if json_output:
        typer.echo(dumps([d.__dict__ for d in found]))
        return
    if not found:
        err.print("no sound output devices found", markup=False)
        raise typer.Exit(1)
    typer.echo("\n".join(d.describe() for d in found))
