"""Which engine to load, and with what: the one description the CLI, the server and Ray
workers load an engine from (a few picklable values; the model itself is loaded where it
runs, never sent)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ttscli.engines import registry
from ttscli.engines.base import Engine
from ttscli.util.memory import limit_kernel_cache, release_large_frees, trim


@dataclass(frozen=True)
class EngineSpec:
    name: str
    """The engine's name in the registry."""
    arguments: dict[str, Any]
    """Its load fields (model, voice, device, ...)."""

    def with_arguments(self, changes: Mapping[str, Any]) -> EngineSpec:
        """The same engine loaded with some fields changed (a batch line's own model)."""
        return EngineSpec(self.name, {**self.arguments, **changes})

    def load(self, threads: int | None = None) -> Engine[Any]:
        """The engine, loaded here; torch and the engine modules are imported only now, so
        a process that never synthesises (a server client, a Ray driver) never pays them.
        The process will meet inputs of every length for as long as it runs, so its kernel
        cache is bounded and freed memory goes back to the system (``ttscli.util.memory``).
        ``threads``: the CPU threads it may use (a Ray worker's share)."""
        limit_kernel_cache()
        release_large_frees()
        if threads is not None:
            import torch

            torch.set_num_threads(max(1, threads))
        engine = registry.get(self.name).load(self.arguments)
        trim()  # loading leaves copies of the weights freed on the heap
        return engine
