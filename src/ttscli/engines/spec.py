"""Which engine to load, and with what: the one description the CLI, the server and Ray
workers load an engine from (a few picklable values; the model itself is loaded where it
runs, never sent)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ttscli.engines.base import Engine
from ttscli.util.memory import limit_kernel_cache, release_large_frees, trim


@dataclass(frozen=True)
class EngineSpec:
    kind: str  # "fs2" or "speak"
    arguments: dict[str, Any]
    """Keyword arguments of ``FS2Engine.load`` or ``KyutaiEngine.load``."""

    def load(self) -> Engine:
        """The engine, loaded here; torch and the engine modules are imported only now, so
        a process that never synthesises (a server client, a Ray driver) never pays them.
        The process will meet inputs of every length for as long as it runs, so its kernel
        cache is bounded and freed memory goes back to the system (``ttscli.util.memory``)."""
        limit_kernel_cache()
        release_large_frees()
        if self.kind == "fs2":
            from ttscli.fs2.engine import FS2Engine

            engine: Engine = FS2Engine.load(**self.arguments)
        else:
            from ttscli.kyutai import KyutaiEngine

            engine = KyutaiEngine.load(**self.arguments)
        trim()  # loading leaves copies of the weights freed on the heap
        return engine


def kyutai_spec(
    voice: str | None,
    hf_repo: str | None,
    voice_repo: str | None,
    model_dir: Any,
    device: str,
    n_q: int | None,
    temp: float,
    cfg_coef: float,
    seed: int | None,
) -> EngineSpec:
    """Kyutai TTS as ``speak``, ``serve --engine speak`` and Ray workers load it."""
    return EngineSpec(
        "speak",
        {
            "voice": voice,
            "hf_repo": hf_repo,
            "voice_repo": voice_repo,
            "model_dir": model_dir,
            "device": device,
            "n_q": n_q,
            "temp": temp,
            "cfg_coef": cfg_coef,
            "seed": seed,
        },
    )
