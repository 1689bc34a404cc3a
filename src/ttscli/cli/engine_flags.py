"""Command-line flags turned into an engine's load fields, whichever engine it is."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ttscli.engines.entry import EngineEntry
from ttscli.util.errors import UserError


def parse_engine_options(pairs: list[str] | None) -> dict[str, Any]:
    """``--engine-option KEY=VALUE`` pairs; a VALUE that reads as JSON (a number, true,
    null, a quoted string) is taken as such, anything else as a string."""
    parsed: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UserError(f"--engine-option {pair!r}: expected KEY=VALUE")
        try:
            parsed[key.strip()] = json.loads(value)
        except ValueError:
            parsed[key.strip()] = value
    return parsed


def load_arguments(
    entry: EngineEntry,
    flags: Mapping[str, tuple[Any, Any]],
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The load fields ``entry`` takes, from ``flags`` (name -> (value, the flag's default))
    and ``extra`` (``--engine-option``). A flag set to something other than its default
    that this engine does not take is an error, not silently dropped."""
    takes = {field.name for field in entry.load_fields}
    arguments: dict[str, Any] = {}
    for name, (value, default) in flags.items():
        if name in takes:
            if value is not None:
                arguments[name] = str(value) if isinstance(value, Path) else value
        elif value != default:
            flag = "--" + name.replace("_", "-")
            raise UserError(f"{flag}: not an option of the {entry.name} engine")
    for name, value in (extra or {}).items():
        if name not in takes:
            known = ", ".join(sorted(takes)) or "none"
            raise UserError(f"--engine-option {name}: {entry.name} takes {known}")
        arguments[name] = value
    return arguments
