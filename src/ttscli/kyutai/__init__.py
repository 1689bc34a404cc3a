"""Kyutai TTS 1.6B (streaming text in, streaming audio out) for ttscli.

Importing this package is cheap: torch and moshi load only when a model is built, so
``ttscli voices`` and error paths stay fast.
"""

from ttscli.kyutai.engine import KyutaiEngine
from ttscli.kyutai.voices import list_voices
from ttscli.kyutai.weights import (
    DEFAULT_TTS_REPO,
    DEFAULT_VOICE,
    DEFAULT_VOICE_REPO,
    resolve_checkpoint,
    resolve_voice,
)

__all__ = [
    "DEFAULT_TTS_REPO",
    "DEFAULT_VOICE",
    "DEFAULT_VOICE_REPO",
    "KyutaiEngine",
    "list_voices",
    "resolve_checkpoint",
    "resolve_voice",
]
