"""The engines one batch speaks with: the run's own, and another for each set of load
fields that lines ask for themselves (fs2's ``model``).

A line that asks for what the run already loaded is spoken by the run's engine, whether it
names the run's value or what that value chose (fs2's ``auto`` reports the model it picked
in ``facts()``); any other value loads a second engine the first time a line asks for it,
kept for the rest of the run, so a file that mixes models loads each model once, wherever
its lines are. Where a value only the engine can resolve turns out to choose an engine
already loaded (``auto`` in a run that named the model it picks), the new copy is dropped
at once and the loaded one speaks: a batch never holds the same model twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from ttscli.engines.base import Engine
from ttscli.run.lines import BatchLine
from ttscli.util.errors import UserError

LoadKey = tuple[tuple[str, Any], ...]


class EngineSource(Protocol):
    """What an engine is loaded from, with some of its load fields changed:
    ``ttscli.engines.spec.EngineSpec`` (picklable, so Ray workers are sent it by value)."""

    arguments: dict[str, Any]

    def load(self, threads: int | None = None) -> Engine[Any]: ...

    def with_arguments(self, changes: Mapping[str, Any]) -> EngineSource: ...


class LineEngines:
    """Which engine speaks each line; ``spec`` (how the run's engine was loaded) loads the
    others, with ``threads`` as the run's engine has them. Without a spec, every line must
    be the run's."""

    def __init__(
        self, engine: Engine[Any], spec: EngineSource | None = None, threads: int | None = None
    ) -> None:
        self.engine = engine
        self._spec = spec
        self._threads = threads
        self._loaded: dict[LoadKey, Engine[Any]] = {(): engine}
        self._chosen = engine.facts()

    def for_line(self, line: BatchLine) -> Engine[Any]:
        """The engine that speaks ``line``, loaded now if it is the first to ask for it."""
        key = self._key(line.load)
        engine = self._loaded.get(key)
        if engine is None:
            asked = ", ".join(f"{name} {value}" for name, value in key)
            if self._spec is None:
                raise UserError(f"{asked}: this run speaks with one model")
            try:
                engine = self._spec.with_arguments(dict(key)).load(self._threads)
            except UserError as exc:
                raise UserError(f"{asked}: {exc}") from None
            facts = engine.facts()
            same = (known for known in self._loaded.values() if known.facts() == facts)
            engine = next(same, engine)
            self._loaded[key] = engine
        return engine

    def _key(self, load: Mapping[str, Any]) -> LoadKey:
        """The line's load fields that differ from the run's (none: the run's engine)."""
        base = self._spec.arguments if self._spec is not None else {}
        return tuple(
            sorted((k, v) for k, v in load.items() if v not in (base.get(k), self._chosen.get(k)))
        )
