"""The one table of engines, by name: the CLI, the server and the cluster find an engine
here and never import one directly.

The built-in engines are listed below; another package adds one by declaring an entry point
in the ``ttscli.engines`` group whose object is an ``EngineEntry``. Entries are light (no
torch): a process that only lists engines, checks flags or talks to a server stays fast.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points

from ttscli.engines.entry import EngineEntry
from ttscli.util.errors import UserError

PLUGIN_GROUP = "ttscli.engines"


@cache
def builtin() -> dict[str, EngineEntry]:
    """The engines that ship with ttscli (no package metadata is read for them)."""
    from ttscli.fs2.entry import FS2_ENTRY
    from ttscli.kyutai.entry import KYUTAI_ENTRY

    return {entry.name: entry for entry in (FS2_ENTRY, KYUTAI_ENTRY)}


@cache
def entries() -> dict[str, EngineEntry]:
    """Every engine: built-in first, then those other packages declare. Finding the latter
    reads every installed package's metadata, so it happens only when asked for."""
    found = dict(builtin())
    for point in entry_points(group=PLUGIN_GROUP):
        entry = point.load()
        if not isinstance(entry, EngineEntry):
            raise TypeError(f"entry point {point.value}: not an EngineEntry")
        if entry.name in found:
            raise ValueError(f"engine {entry.name!r} is declared twice ({point.value})")
        found[entry.name] = entry
    return found


def _find(name: str, table: dict[str, EngineEntry]) -> EngineEntry | None:
    if name in table:
        return table[name]
    return next((entry for entry in table.values() if entry.command == name), None)


def names() -> list[str]:
    return list(entries())


def get(name: str) -> EngineEntry:
    """The engine called ``name`` (or whose command is ``name``), or a one-line error; a
    built-in one is found without reading any package metadata."""
    found = _find(name, builtin()) or _find(name, entries())
    if found is None:
        raise UserError(f"no engine called {name!r}: one of {', '.join(entries())}")
    return found
