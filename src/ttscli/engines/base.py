"""The interface every engine implements: text in, a stream of audio chunks out.

The CLI, the server and batch workers only wire a text source to an ``Engine`` and its
chunks to a sink (``ttscli.run.single``); nothing here knows about files, sockets or sound cards,
and nothing here imports torch, so a client that only talks to a server stays light.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np


@dataclass(frozen=True)
class Word:
    """A word and where it is spoken, in seconds from the start of the stream's audio."""

    text: str
    start: float
    end: float


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
    text_ready_at: float | None = None
    """``time.perf_counter()`` when the text this chunk speaks was complete: the start of
    its first-audio latency."""
    detail: Any = None
    """Engine-specific extras (FastSpeech 2: mel, pitch and energy for ``--plot``)."""

    @property
    def seconds(self) -> float:
        return len(self.audio) / self.sample_rate


@dataclass(frozen=True)
class PreparedLine:
    """A batch line checked and turned into the engine's input before any audio is made."""

    text: str
    payload: Any
    phonemes: str | None
    size: int
    """Input length, for sorting a batch so that mini-batches pad little."""


class Engine(Protocol):
    """What the runners, the server and batch workers need from a loaded engine."""

    name: str
    sample_rate: int
    load_seconds: float
    chunks_ahead: int
    """How many chunks a runner may compute ahead of playback (bounded memory)."""

    def describe(self) -> str:
        """A short line naming the model, its output stage and the device."""
        ...

    def check_options(self, options: Any) -> None:
        """Raise ``UserError`` for options this engine cannot honour, before any output."""
        ...

    def stream(self, text: str | Iterable[str], options: Any = None) -> Iterator[Chunk]:
        """Chunks as soon as they exist; ``text`` may be fragments still arriving."""
        ...

    def prepare_line(self, text: str) -> PreparedLine:
        """Check one batch line and make the engine's input from it (``UserError`` if bad)."""
        ...

    def synthesize_batch(self, lines: Sequence[PreparedLine], options: Any = None) -> list[Chunk]:
        """One chunk per line, computed together where the engine can batch."""
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
    sentences: list[dict[str, Any]] = field(default_factory=list)

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
