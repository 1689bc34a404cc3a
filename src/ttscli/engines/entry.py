"""What the registry knows of an engine without loading it: its fields, its limits, and
how to load it. An engine package declares one ``EngineEntry``; nothing here imports torch."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ttscli.engines.base import Engine, OptionField, check_fields


@dataclass(frozen=True)
class VoiceListing:
    """What ``ttscli voices`` prints: text for people, JSON for scripts."""

    text: str
    json: dict[str, Any]


@dataclass(frozen=True)
class EngineEntry:
    """How to load one engine, and what it takes, without loading it."""

    name: str
    summary: str
    load_engine: Callable[..., Engine[Any]]
    """Called with the ``load_fields`` by name; imports the engine's heavy modules."""
    request_fields: Callable[[], Sequence[OptionField]]
    """The per-request fields with the limits every model of this engine shares; a loaded
    engine's ``fields()`` may be narrower (one voice's --pitch range)."""
    load_fields: tuple[OptionField, ...] = ()
    """What ``load_engine`` takes (model, voice, device, ...)."""
    line_load_names: tuple[str, ...] = ()
    """The load fields a line of a structured batch may set for itself: the batch loads a
    second engine for the lines that ask for another value (fs2's ``model``)."""
    command: str = ""
    """The ``ttscli`` command that speaks with it, when it has its own; "" for engines
    that get the generic command (``ttscli NAME``)."""
    check_text: Callable[[Any], object] | None = None
    """Fails fast, before loading, on a text this engine would find nothing to say in."""
    reads_words: bool = False
    """Whether it speaks words as they arrive, or needs whole sentences (which stdin then
    releases after a pause as well as at a full stop)."""
    default_streams: int = 4
    """Requests a server runs at once unless told otherwise."""
    attribution: str = ""
    list_voices: Callable[[Mapping[str, Any], bool], VoiceListing] | None = None
    """The voices it can load, given its load fields and whether to look online."""

    def load(self, arguments: Mapping[str, Any]) -> Engine[Any]:
        """The engine, loaded with ``arguments`` (checked against ``load_fields``)."""
        return self.load_engine(**check_fields(self.load_fields, arguments))

    def line_load_fields(self) -> tuple[OptionField, ...]:
        """The ``load_fields`` named by ``line_load_names``."""
        return tuple(f for f in self.load_fields if f.name in self.line_load_names)

    def check_load(self, arguments: Mapping[str, Any]) -> dict[str, Any]:
        """The load fields checked now, before a text is read or a model loads."""
        return check_fields(self.load_fields, arguments)

    def check_request(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """The request fields checked against the limits every model shares."""
        return check_fields(self.request_fields(), fields)
