"""What a served engine accepts per request: its voices and its options.

Request fields are checked here, before any work is queued: a wrong type, a value out of
range or an unknown voice becomes a ``RequestError`` (HTTP 400 / a WebSocket ``error``).
Voice names are only ever looked up in a fixed table, never used as paths.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ttscli.engines.base import Engine
from ttscli.fs2.model import Controls
from ttscli.util.errors import UserError

OPENAI_VOICES = ("alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage",
                 "shimmer", "verse")  # fmt: skip
"""OpenAI's voice names: clients send one of them by default, so each is taken to mean
the server's own voice rather than refused."""


class RequestError(Exception):
    """A bad request: the client gets ``status`` and the message, the server goes on."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def number(fields: dict[str, Any], name: str, default: float, low: float, high: float) -> float:
    value = fields.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RequestError(f"{name}: expected a number, got {type(value).__name__}")
    if not math.isfinite(value) or not low <= value <= high:
        raise RequestError(f"{name}: {value} is outside {low:g}-{high:g}")
    return float(value)


@dataclass
class ServedEngine:
    """An engine with the names and per-request options the server offers for it."""

    engine: Engine
    kind: str  # "fs2" or "speak"
    voice_name: str
    voice_info: dict[str, Any]
    settings: dict[str, Any]
    """For speak: the sampling settings fixed at start (n_q, temp, cfg_coef, seed)."""

    @property
    def streams_words(self) -> bool:
        """Kyutai reads words while it speaks; FastSpeech 2 needs whole sentences."""
        return self.kind == "speak"

    def check_voice(self, voice: object) -> None:
        if voice is None or voice == "":
            return
        if not isinstance(voice, str):
            raise RequestError(f"voice: expected a string, got {type(voice).__name__}")
        if voice not in (self.voice_name, "default", *OPENAI_VOICES):
            raise RequestError(
                f"voice {voice[:60]!r}: this server speaks with {self.voice_name!r} "
                "(see GET /v1/voices)"
            )

    def options(self, fields: dict[str, Any]) -> Any:
        """Engine options from a request's fields (OpenAI's ``speed`` included)."""
        speed = number(fields, "speed", 1.0, 0.25, 4.0)
        if self.kind == "fs2":
            controls = Controls(
                pitch=number(fields, "pitch", 1.0, 0.1, 10.0),
                energy=number(fields, "energy", 1.0, 0.1, 10.0),
                duration=number(fields, "duration", 1.0, 0.1, 10.0) / speed,
            )
            try:
                self.engine.check_options(controls)
            except UserError as exc:
                raise RequestError(str(exc)) from None
            return controls
        if speed != 1.0:
            raise RequestError("speed: Kyutai speaks at its own pace; only 1.0 is accepted")
        for name, value in self.settings.items():
            asked = fields.get(name)
            if asked is not None and asked != value:
                raise RequestError(
                    f"{name}: this server runs with {name}={value} (set when it started)"
                )
        return None
