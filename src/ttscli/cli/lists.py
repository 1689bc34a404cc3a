"""``ttscli voices`` and ``ttscli devices``: what can be chosen, listed."""

from __future__ import annotations

from json import dumps
from typing import Annotated

import typer

from ttscli.cli import options as opt
from ttscli.cli.options import err


def voices_command(
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
        typer.echo(dumps(asdict(listing)))
    else:
        typer.echo(format_listing(listing))


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
