"""What a served engine accepts per request: its voice and its options.

Request fields are checked here, before any work is queued: a wrong type, a value out of
range or an unknown voice becomes a ``RequestError`` (HTTP 400 / a WebSocket ``error``).
Voice names are only ever compared with the served voice's name, never used as paths. The
fields and their limits are the engine's own (``Engine.fields``); nothing here knows which
engine it serves.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from ttscli.engines.base import Engine, OptionError, VoiceInfo, markup_for
from ttscli.text.markup import Markup
from ttscli.text.ssml import looks_like_ssml, parse_ssml
from ttscli.util.errors import UserError

OPENAI_VOICES = ("alloy", "ash", "ballad", "cedar", "coral", "echo", "fable", "marin", "nova",
                 "onyx", "sage", "shimmer", "verse")  # fmt: skip
"""OpenAI's voice names: clients send one of them by default, so each is taken to mean
the server's own voice rather than refused."""


class RequestError(Exception):
    """A bad request: the client gets ``status`` and the message, the server goes on."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class ServedEngine:
    """A loaded engine as the server offers it: one voice, the engine's own fields."""

    engine: Engine[Any]

    @property
    def name(self) -> str:
        return self.engine.name

    @cached_property
    def voice(self) -> VoiceInfo:
        """Read once: an engine may read it from its files (fs2: the model card), and every
        request's voice is checked against it."""
        return self.engine.voice()

    @property
    def voice_name(self) -> str:
        return self.voice.name

    def voice_info(self) -> dict[str, Any]:
        """The voice, the engine and the fields a request may set (``GET /v1/voices``)."""
        info = self.voice.as_json()
        return {
            **info,
            "engine": self.engine.name,
            "model": self.engine.describe(),
            "fields": [field.as_json() for field in self.engine.fields()],
        }

    def check_voice(self, voice: object) -> None:
        if voice is None or voice == "":
            return
        if isinstance(voice, dict) and set(voice) == {"id"}:
            voice = voice["id"]  # OpenAI's form for a custom voice: {"id": NAME}
        if not isinstance(voice, str):
            raise RequestError(f"voice: expected a string, got {type(voice).__name__}")
        if voice not in (self.voice_name, "default", *OPENAI_VOICES):
            raise RequestError(
                f"voice {voice[:60]!r}: this server speaks with {self.voice_name!r} "
                "(see GET /v1/voices)"
            )

    def spoken(self, text: str, options: Any, ssml: bool = False) -> tuple[str | Markup, list[str]]:
        """What to hand the engine for a request's text: SSML (asked for, or starting with
        ``<speak``) as its markup, else the text; and what the engine cannot honour of it."""
        if not ssml and not looks_like_ssml(text):
            return text, []
        try:
            markup = parse_ssml(text)
        except UserError as exc:
            raise RequestError(str(exc)) from None
        return markup_for(self.engine, markup, options)

    def options(self, fields: dict[str, Any]) -> Any:
        """The engine's options from a request's fields: those the engine declares (OpenAI's
        ``speed`` among them) and that are not null; the request's own (``input``, ``voice``,
        ``response_format``, ...) are the server's."""
        names = {field.name for field in self.engine.fields()}
        given = {k: v for k, v in fields.items() if k in names and v is not None}
        try:
            return self.engine.options(given)
        except OptionError as exc:
            raise RequestError(str(exc)) from None
