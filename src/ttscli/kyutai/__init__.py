"""Kyutai TTS 1.6B (streaming text in, streaming audio out) for ttscli.

Importing this package is cheap: torch and moshi load only when a model is built, and the
engine's own modules only when one of the names below is first used, so a command that
never speaks with Kyutai (``ttscli fs2``, ``--help``) never imports them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ttscli.kyutai.engine import KyutaiEngine
    from ttscli.kyutai.voices import list_voices
    from ttscli.kyutai.weights import (
        DEFAULT_TTS_REPO,
        DEFAULT_VOICE,
        DEFAULT_VOICE_REPO,
        resolve_checkpoint,
        resolve_voice,
    )

_HOMES = {
    "KyutaiEngine": "engine",
    "list_voices": "voices",
    "DEFAULT_TTS_REPO": "weights",
    "DEFAULT_VOICE": "weights",
    "DEFAULT_VOICE_REPO": "weights",
    "resolve_checkpoint": "weights",
    "resolve_voice": "weights",
}

__all__ = [
    "DEFAULT_TTS_REPO",
    "DEFAULT_VOICE",
    "DEFAULT_VOICE_REPO",
    "KyutaiEngine",
    "list_voices",
    "resolve_checkpoint",
    "resolve_voice",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)
