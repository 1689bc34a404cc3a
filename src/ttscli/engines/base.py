"""The interface every engine implements: text in, a stream of audio chunks out.

The CLI, the server and batch workers only wire a text source to an ``Engine`` and its
chunks to a sink (``ttscli.run``); nothing here knows about files, sockets or sound cards,
and nothing here imports torch, so a client that only talks to a server stays light.

Each engine describes the request fields it takes (``OptionField``) and turns them into its
own typed options (``Engine.options``), so a caller passes a user's fields through without
knowing which engine it drives.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

import numpy as np

from ttscli.text.dialogue import Dialogue
from ttscli.text.feed import PAUSE
from ttscli.text.markup import Markup, MarkupStream
from ttscli.util.errors import UserError

OptionsT = TypeVar("OptionsT")


class OptionError(UserError):
    """A request field with a value its engine refuses. The CLI names the flag
    (``--pitch 3: ...``), the server the JSON field (``pitch: ...``)."""

    def __init__(self, name: str, value: object, reason: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.value = value
        self.reason = reason

    def as_flag(self) -> str:
        return f"--{self.name.replace('_', '-')} {self.value}: {self.reason}"


FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "number": (int, float),
    "integer": (int,),
    "string": (str,),
    "boolean": (bool,),
    "strings": (list, tuple),
}


@dataclass(frozen=True)
class OptionField:
    """One field an engine takes, with its limits: ``--help``, ``/v1/voices``, the web page
    and every check of a request read them from here, so they cannot disagree."""

    name: str
    type: str
    """``number``, ``integer``, ``string`` or ``boolean`` (JSON's names), or ``strings``
    (a list of strings, whose count ``minimum`` and ``maximum`` bound)."""
    default: Any
    help: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    optional: bool = False
    """``None`` is a value (for example: no seed, all codebooks)."""
    why: str = ""
    """Why the limits are where they are, told with a value outside them."""

    def check(self, value: object) -> Any:
        """The value, as this field's type, or an ``OptionError`` saying what is wrong."""
        if value is None:
            if self.optional:
                return None
            raise OptionError(self.name, value, f"expected a {self.type}")
        if self.type == "string" and isinstance(value, os.PathLike):
            value = os.fspath(value)  # a path given from Python
        allowed = FIELD_TYPES[self.type]
        wrong_bool = isinstance(value, bool) and self.type != "boolean"
        if wrong_bool or not isinstance(value, allowed):
            raise OptionError(
                self.name, value, f"expected a {self.type}, got {type(value).__name__}"
            )
        if self.type == "strings":
            return self._check_strings(value)  # type: ignore[arg-type]
        if self.type == "number":
            value = float(value)  # type: ignore[arg-type]
            if not math.isfinite(value):
                raise OptionError(self.name, value, "must be a finite number")
        if self.choices and value not in self.choices:
            raise OptionError(self.name, value, f"one of {', '.join(self.choices)}")
        low, high = self.minimum, self.maximum
        if low is not None and high is not None and not low <= value <= high:  # type: ignore[operator]
            why = f" ({self.why})" if self.why else ""
            raise OptionError(self.name, value, f"must be between {low:g} and {high:g}{why}")
        if low is not None and value < low:  # type: ignore[operator]
            raise OptionError(self.name, value, f"must be at least {low:g}")
        if high is not None and value > high:  # type: ignore[operator]
            raise OptionError(self.name, value, f"must be at most {high:g}")
        return value

    def _check_strings(self, value: list[Any] | tuple[Any, ...]) -> tuple[str, ...]:
        if not all(isinstance(item, str) for item in value):
            raise OptionError(self.name, value, "expected a list of strings")
        low, high = self.minimum, self.maximum
        if low is not None and len(value) < low:
            raise OptionError(self.name, value, f"give at least {low:g}")
        if high is not None and len(value) > high:
            why = f" ({self.why})" if self.why else ""
            raise OptionError(self.name, value, f"at most {high:g}{why}")
        return tuple(value)

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "type": self.type, "default": self.default}
        data["help"] = self.help
        if self.minimum is not None:
            data["minimum"] = self.minimum
        if self.maximum is not None:
            data["maximum"] = self.maximum
        if self.choices:
            data["choices"] = list(self.choices)
        return data


def check_fields(
    fields: Sequence[OptionField], given: Mapping[str, Any], *, strict: bool = True
) -> dict[str, Any]:
    """Every field's value (given or default), checked. ``strict``: a name no field has is
    an error (a typo must not be ignored); otherwise it is left out."""
    known = {f.name: f for f in fields}
    if strict:
        for name in given:
            if name not in known:
                expected = ", ".join(known) or "none"
                raise OptionError(name, given[name], f"not an option of this engine ({expected})")
    return {
        name: spec.check(given[name]) if name in given else spec.default
        for name, spec in known.items()
    }


SILENCE_LIMITS = (0.0, 10.0)
SILENCE_FIELDS = (
    OptionField(
        "sentence_silence", "number", 0.0, "Seconds of silence added between sentences.",
        *SILENCE_LIMITS,
    ),
    OptionField(
        "paragraph_silence", "number", 0.0,
        "Seconds of silence added after a paragraph (a blank line, SSML <p>).", *SILENCE_LIMITS,
    ),
)  # fmt: skip
"""Pauses between sentences and paragraphs: both engines take them."""


@dataclass(frozen=True)
class Prosody:
    """What an engine that models prosody frame by frame decided for a sentence."""

    mel: np.ndarray
    """(frames, n_mels) log-mel."""
    pitch_hz: np.ndarray
    energy: np.ndarray
    frame_seconds: float


@dataclass(frozen=True)
class Word:
    """A word and where it is spoken, in seconds from the start of the stream's audio."""

    text: str
    start: float
    end: float
    speaker: int | None = None
    """In a dialogue, who says it: 1 or 2 (``[S1]``, ``[S2]``)."""


@dataclass(frozen=True)
class Chunk:
    """A piece of audio with what is known about it when it is produced."""

    audio: np.ndarray
    """float32 mono in [-1, 1]; may be empty when a chunk only closes the stream's words."""
    sample_rate: int
    text: str | None = None
    """The sentence this chunk speaks, for engines that speak a sentence at a time."""
    phonemes: tuple[str, ...] = ()
    sentence_seconds: float | None = None
    """With ``text``: how long that whole sentence is (its audio may come in several chunks)."""
    words: tuple[Word, ...] = ()
    """Words whose timing became final with this chunk (each word appears in one chunk)."""
    marks: tuple[Word, ...] = ()
    """SSML ``<mark>``s reached in this chunk's sentence: the name, at its time (start = end)."""
    stream_seconds: float | None = None
    """Where this chunk starts in the stream its word times count from, when it carries
    words: a caller that joins several streams (a server speaking passage by passage)
    shifts the times by where it placed the chunk."""
    text_ready_at: float | None = None
    """``time.perf_counter()`` when the text this chunk speaks was complete: the start of
    its first-audio latency."""
    prosody: Prosody | None = None
    """Frame-level prosody behind this audio, from engines that model it (``--plot``)."""

    @property
    def seconds(self) -> float:
        return len(self.audio) / self.sample_rate


@dataclass(frozen=True)
class PreparedLine:
    """A batch line checked and turned into the engine's input before any audio is made."""

    text: str
    payload: object
    """The engine's own input for this line: only the engine that made it reads it."""
    phonemes: str | None
    size: int
    """Input length, for sorting a batch so that mini-batches pad little."""
    options: Any = None
    """The line's own options (the engine's typed options), when it has any."""
    batch_key: Any = None
    """Lines whose keys differ never share a mini-batch (what the engine cannot vary
    row by row, such as a sampling temperature)."""


@dataclass(frozen=True)
class VoiceInfo:
    """The voice a loaded engine speaks with, as ``/v1/voices`` and ``--json`` show it."""

    name: str
    licence: str = ""
    attribution: str = ""
    commercial_use: bool | None = None
    summary: str = ""
    languages: tuple[str, ...] = ("en",)
    """What it speaks, as language codes (Home Assistant picks voices by them)."""

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name}
        for key in ("licence", "attribution", "summary"):
            if getattr(self, key):
                data[key] = getattr(self, key)
        if self.commercial_use is not None:
            data["commercial_use"] = self.commercial_use
        data["languages"] = list(self.languages)
        return data


class Engine(Protocol, Generic[OptionsT]):
    """What the runners, the server and batch workers need from a loaded engine."""

    name: str
    """The engine's one name, as the registry knows it."""
    sample_rate: int
    load_seconds: float
    chunks_ahead: int
    """How many chunks a runner may compute ahead of playback (bounded memory)."""
    reads_words: bool
    """True when it speaks words as they arrive (Kyutai); False when it needs whole
    sentences (FastSpeech 2), so callers hand it complete sentences."""

    def describe(self) -> str:
        """A short line naming the model, its output stage and the device."""
        ...

    def facts(self) -> dict[str, Any]:
        """What ran, for ``--json`` and ``/health``: device, model and the like."""
        ...

    def voice(self) -> VoiceInfo:
        """The voice this engine speaks with (name, licence, attribution)."""
        ...

    def fields(self) -> tuple[OptionField, ...]:
        """The per-request fields ``options`` takes, with this loaded model's own limits."""
        ...

    def options(self, fields: Mapping[str, Any]) -> OptionsT:
        """Typed options from request fields (absent ones take their defaults); an
        ``OptionError`` names the field this engine cannot honour, before any output."""
        ...

    def stream(
        self,
        text: str | Iterable[str] | Markup | MarkupStream,
        options: OptionsT | None = None,
    ) -> Iterator[Chunk]:
        """Chunks as soon as they exist; ``text`` may be fragments still arriving, or
        ``Markup`` (whole, or a ``MarkupStream`` of pieces as they arrive) for an engine
        that reads markup (``ReadsMarkup``)."""
        ...

    def prepare_line(
        self, text: str | Markup | Dialogue, options: OptionsT | None = None
    ) -> PreparedLine:
        """Check one batch line and make the engine's input from it (``UserError`` if bad):
        plain text (an SSML document is recognised by its ``<speak``), markup, or a
        dialogue's turns; ``options`` are the line's own."""
        ...

    def synthesize_batch(
        self, lines: Sequence[PreparedLine], options: OptionsT | None = None
    ) -> list[Chunk]:
        """One chunk per line, computed together where the engine can batch; each line
        with its own options when it has them (``options`` otherwise)."""
        ...


@runtime_checkable
class ReadsMarkup(Protocol):
    """The capability of an engine that takes ``Markup`` (SSML's spans) in ``stream``."""

    def markup_warnings(self, markup: Markup, options: Any = None) -> list[str]:
        """What of ``markup`` it cannot honour, one line each (never silence)."""
        ...


def markup_for(
    engine: object, markup: Markup, options: Any = None
) -> tuple[Markup | str, list[str]]:
    """What to hand ``engine`` for ``markup``, and the warnings to show: the markup itself
    for an engine that reads it, else its plain text."""
    if isinstance(engine, ReadsMarkup):
        return markup, engine.markup_warnings(markup, options)
    return markup.text, [*markup.warnings, PLAIN_TEXT_ONLY]


PLAIN_TEXT_ONLY = "this engine reads plain text: the markup is ignored"


def markup_stream_for(
    engine: object,
    pieces: Iterable[Markup],
    options: Any = None,
    on_warning: Callable[[str], None] | None = None,
) -> MarkupStream | Iterator[str]:
    """``markup_for`` for markup that arrives a piece at a time: each piece goes on once it
    is here, and each warning is told (once) as the piece that causes it arrives."""
    told: set[str] = set()

    def tell(warnings: list[str]) -> None:
        for warning in warnings:
            if warning not in told:
                told.add(warning)
                if on_warning is not None:
                    on_warning(warning)

    def checked() -> Iterator[Markup]:
        for piece in pieces:
            tell(engine.markup_warnings(piece, options))  # type: ignore[attr-defined]
            yield piece

    def texts() -> Iterator[str]:
        for piece in pieces:
            tell([*piece.warnings, PLAIN_TEXT_ONLY])
            if piece.text.strip():
                yield piece.text + " "
                yield PAUSE  # a piece ends a sentence: let a sentence engine start on it

    if isinstance(engine, ReadsMarkup):
        return MarkupStream(checked())
    return texts()


class StreamSlots(Protocol):
    """Many streams stepped together in one batched model loop (Kyutai's slots): a server
    serves every active request with one model call per step. ``feed`` takes whole words."""

    input_closed: list[bool]
    first_text_at: list[float | None]

    def __enter__(self) -> StreamSlots: ...

    def __exit__(self, *exc: object) -> None: ...

    def open(self) -> int | None:
        """A free slot, reset for a new stream, or None when all are taken."""
        ...

    def feed_text(self, slot: int, text: str, options: Any = None) -> object:
        """Whole words of plain text for ``slot``, with ``options`` (the request's)."""
        ...

    def feed_markup(self, slot: int, markup: Markup, options: Any = None) -> None:
        """A piece of markup for ``slot``, followed as the engine's ``stream`` follows it."""
        ...

    def close_input(self, slot: int) -> None: ...

    def has_text(self, slot: int) -> bool: ...

    def runnable(self, slot: int) -> bool:
        """Whether the slot holds enough words to take a step."""
        ...

    def step_slots(self, slots: Sequence[int]) -> dict[int, np.ndarray]:
        """One model step for ``slots``; the audio each produced."""
        ...

    def new_words(self, slot: int) -> list[Word]: ...

    def new_marks(self, slot: int, final: bool = False) -> list[Word]:
        """Marks whose time is known (all that are left when ``final``)."""
        ...

    def slot_done(self, slot: int) -> bool: ...

    def last_words(self, slot: int) -> list[Word]: ...

    def release(self, slot: int) -> None: ...


@runtime_checkable
class StepsManyStreams(Protocol):
    """The optional capability of an engine that can step many streams together."""

    def open_slots(self, count: int) -> StreamSlots: ...

    def check_slot_options(self, options: Any) -> None:
        """An ``OptionError`` for options a slot cannot take (what the whole batch of
        slots shares, such as the sampling temperature), before a request is queued."""
        ...


@runtime_checkable
class OffersVoices(Protocol):
    """The optional capability of an engine whose requests may name other voices: the ones
    this machine already holds, so that a client can list them (``GET /v1/voices``, a
    Wyoming ``describe``) before it asks for one."""

    def offered_voices(self) -> tuple[VoiceInfo, ...]:
        """Voices other than the loaded one that a request may name without a download;
        read from local files only, never from the network."""
        ...


@dataclass
class RunStats:
    """What one run did, returned by the runner that drove it."""

    load_seconds: float = 0.0
    first_audio_seconds: float | None = None
    """From the moment the first text to speak was complete to its first audio."""
    audio_seconds: float = 0.0
    compute_seconds: float = 0.0
    """Time spent inside the engine (not waiting for input or for the sink)."""
    wall_seconds: float = 0.0
    underruns: int | None = None
    chunks: list[Chunk] = field(default_factory=list, repr=False)
    """Kept only when the caller asked for them (``--plot``, ``--phonemes`` summaries)."""
    words: list[Word] = field(default_factory=list)
    marks: list[Word] = field(default_factory=list)
    sentences: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    """What the engine was asked (in markup) and could not honour."""

    @property
    def real_time_factor(self) -> float | None:
        return self.compute_seconds / self.audio_seconds if self.audio_seconds else None

    def describe(self) -> str:
        """One line for stderr."""
        parts = [
            f"loaded in {self.load_seconds:.2f} s",
            f"{self.audio_seconds:.2f} s of audio in {self.compute_seconds:.2f} s",
        ]
        if self.first_audio_seconds is not None:
            parts.append(f"first audio {self.first_audio_seconds * 1000:.0f} ms after its text")
        if self.real_time_factor is not None:
            parts.append(f"real-time factor {self.real_time_factor:.3f}")
        if self.underruns is not None:
            parts.append(f"{self.underruns} underruns")
        return ", ".join(parts)

    def as_json(self, fields: dict[str, Any]) -> dict[str, Any]:
        """``fields`` (what ran, where the audio went), the figures, and the sentences."""
        data = {**fields, **self.summary()}
        if self.sentences:
            data["sentences"] = self.sentences
        return data

    def summary(self) -> dict[str, Any]:
        """The figures as JSON-ready values."""
        rtf = self.real_time_factor
        return {
            "seconds": round(self.audio_seconds, 3),
            "load_seconds": round(self.load_seconds, 3),
            "first_audio_seconds": (
                None if self.first_audio_seconds is None else round(self.first_audio_seconds, 3)
            ),
            "synthesis_seconds": round(self.compute_seconds, 3),
            "wall_seconds": round(self.wall_seconds, 3),
            "real_time_factor": None if rtf is None else round(rtf, 4),
            "underruns": self.underruns,
        }
