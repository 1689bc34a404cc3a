"""The ``ttscli`` command line: the app and its commands, one module each.

Every speaking command follows one shape: text source -> engine -> chunk stream -> sink(s).
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from ttscli import __version__
from ttscli.cli.fs2 import fs2_command
from ttscli.cli.generic import engine_command
from ttscli.cli.lists import devices_command, voices_command
from ttscli.cli.options import user_errors
from ttscli.cli.serve import serve_command
from ttscli.cli.speak import speak_command
from ttscli.engines import registry
from ttscli.util.process_exit import exit_process

BUILT_IN_COMMANDS = ("fs2", "speak", "voices", "devices", "serve")


def _engines() -> dict[str, registry.EngineEntry]:
    """The engines this command line needs: the built-in ones for a built-in command (so
    that ``ttscli fs2 ...`` reads no other package's metadata), all of them otherwise
    (``--help``, a plug-in engine's command)."""
    command = next((arg for arg in sys.argv[1:] if not arg.startswith("-")), None)
    return registry.builtin() if command in BUILT_IN_COMMANDS else registry.entries()


def _attributions() -> str:
    return "\n\n".join(e.attribution for e in _engines().values() if e.attribution)


app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help=(
        "Speech synthesis on the command line: `speak` streams Kyutai TTS 1.6B, "
        "`fs2` runs the bundled FastSpeech 2 voice.\n\n" + _attributions()
    ),
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ttscli {__version__}\n{_attributions()}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show version.")
    ] = False,
) -> None:
    """Speech synthesis on the command line."""


app.command("fs2")(user_errors(fs2_command))
app.command("speak")(user_errors(speak_command))
app.command("voices")(user_errors(voices_command))
app.command("devices")(user_errors(devices_command))
app.command("serve")(user_errors(serve_command))
for _entry in _engines().values():
    if not _entry.command:  # an engine without a command of its own
        app.command(_entry.name)(engine_command(_entry))


def main() -> None:
    """The console script: the app, then an exit that skips torch's C teardown."""
    try:
        app(prog_name="ttscli")
    except SystemExit as exc:
        code = exc.code
    else:
        code = 0
    exit_process(code)  # outside the handler, so the exception's frames are freed first
