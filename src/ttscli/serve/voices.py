"""What a served engine accepts per request: its voice and its options.

Request fields are checked here, before any work is queued: a wrong type, a value out of
range or an unknown voice becomes a ``RequestError`` (HTTP 400 / a WebSocket ``error``).
Voice names are only ever compared with the served voice's name, never used as paths. The
fields and their limits are the engine's own (``Engine.fields``); nothing here knows which
engine it serves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from ttscli.engines.base import (
    Engine,
    OffersVoices,
    OptionError,
    StepsManyStreams,
    VoiceInfo,
    markup_for,
)
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

    def offered_voices(self) -> tuple[VoiceInfo, ...]:
        """The other voices a request may name that this machine holds (read afresh: a
        request that names a new one adds it); none when requests cannot name voices."""
        if not self.takes_voices or not isinstance(self.engine, OffersVoices):
            return ()
        return self.engine.offered_voices()

    def listing(self) -> list[dict[str, Any]]:
        """``GET /v1/voices``: the served voice first, with the fields a request may set,
        then the others a request may name."""
        others = [{**v.as_json(), "engine": self.engine.name} for v in self.offered_voices()]
        return [{**self.voice_info(), "default": True}, *others]

    @cached_property
    def takes_voices(self) -> bool:
        """Whether a request may name its own voices (an engine with a ``voices`` field)."""
        return any(field.name == "voices" for field in self.engine.fields())

    def check_voice(self, voice: object) -> str | None:
        """The request's own voice, when it names one the engine may load (None: the
        served voice); anything else is refused."""
        if voice is None or voice == "":
            return None
        if isinstance(voice, dict) and set(voice) == {"id"}:
            voice = voice["id"]  # OpenAI's form for a custom voice: {"id": NAME}
        if not isinstance(voice, str):
            raise RequestError(f"voice: expected a string, got {type(voice).__name__}")
        if voice in (self.voice_name, "default", *OPENAI_VOICES):
            return None
        if not self.takes_voices:
            raise RequestError(
                f"voice {voice[:60]!r}: this server speaks with {self.voice_name!r} "
                "(see GET /v1/voices)"
            )
        return check_voice_name(voice)

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
        ``speed`` among them) and that are not null; the request's own (``input``,
        ``response_format``, ...) are the server's, and its ``voice`` is checked here."""
        names = {field.name for field in self.engine.fields()}
        given = {k: v for k, v in fields.items() if k in names and v is not None}
        own = self.check_voice(fields.get("voice"))
        if own is not None and "voices" not in given:
            given["voices"] = [own]
        voices = given.get("voices")
        if isinstance(voices, list):
            for name in voices:
                if isinstance(name, str) and name != self.voice_name:
                    check_voice_name(name)
        try:
            options = self.engine.options(given)
            if isinstance(self.engine, StepsManyStreams):
                self.engine.check_slot_options(options)
            return options
        except OptionError as exc:
            raise RequestError(str(exc)) from None


_NOT_A_NAME = re.compile(r"[\x00-\x1f\x7f\\]|\.\.|^[/~.]|^hf://|\.safetensors$", re.IGNORECASE)


def check_voice_name(name: str) -> str:
    """A voice a request names is a name in the served voice repo, never a path on this
    machine or another repo: the server reads no file a client chooses."""
    if len(name) > 200 or _NOT_A_NAME.search(name):
        raise RequestError(
            f"voice {name[:60]!r}: name a voice of the server's voice repo (not a file path)"
        )
    return name
