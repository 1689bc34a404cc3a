"""The Python API: load an engine by name, then stream, synthesise or write speech.

The same runners the command line uses do the work, so a file written here is the file
``ttscli fs2 ... --out`` writes, and options are checked by the engine exactly as flags are.

    import ttscli

    voice = ttscli.load("fs2")
    chunk = voice.synthesize("Hello there.", pitch=1.2)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Generic

import numpy as np

from ttscli.engines import registry
from ttscli.engines.base import Chunk, Engine, OptionField, OptionsT, RunStats, Word
from ttscli.engines.spec import EngineSpec
from ttscli.run.outputs import check_output, open_sink
from ttscli.run.single import speak_to
from ttscli.text.markup import Markup
from ttscli.text.ssml import parse_ssml


def ssml(document: str) -> Markup:
    """An SSML document as the engines take it (``UserError`` in one line if it is bad)."""
    return parse_ssml(document)


def engine_names() -> list[str]:
    """The names ``load`` takes: the built-in engines and any that packages add."""
    return registry.names()


def load(engine: str = "fs2", **arguments: Any) -> Voice[Any]:
    """Load ``engine`` (``"fs2"``, ``"kyutai"``, ...) with its load fields, e.g.
    ``load("fs2", checkpoint="my_voice/", device="cpu")`` or
    ``load("kyutai", voice="vctk/p228_023.wav")``. Errors a user can cause raise
    ``ttscli.UserError`` with a one-line message."""
    entry = registry.get(engine)
    return Voice(EngineSpec(entry.name, arguments).load())


class Voice(Generic[OptionsT]):
    """A loaded engine. Per-call options are keyword arguments (``pitch=1.2``), checked
    against the engine's fields (``fields()``)."""

    def __init__(self, engine: Engine[OptionsT]) -> None:
        self.engine = engine

    @property
    def sample_rate(self) -> int:
        return self.engine.sample_rate

    def fields(self) -> tuple[OptionField, ...]:
        """What the per-call keyword arguments may be, with their limits."""
        return self.engine.fields()

    def stream(self, text: str | Iterable[str] | Markup, **options: Any) -> Iterator[Chunk]:
        """Chunks as soon as each exists. ``text`` may be an iterable of fragments still
        arriving (an LLM's tokens): speech starts before it ends; or ``ttscli.ssml(...)``."""
        return self.engine.stream(text, self.engine.options(options))

    def synthesize(self, text: str | Markup, **options: Any) -> Chunk:
        """All of ``text`` as one chunk: the audio, and the words with their timings."""
        audio: list[np.ndarray] = []
        words: list[Word] = []
        marks: list[Word] = []
        for chunk in self.stream(text, **options):
            audio.append(chunk.audio)
            words.extend(chunk.words)
            marks.extend(chunk.marks)
        joined = np.concatenate(audio) if audio else np.zeros(0, np.float32)
        shown = text if isinstance(text, str) else text.text
        return Chunk(joined, self.sample_rate, text=shown, words=tuple(words), marks=tuple(marks))

    def write(
        self, path: str | Path, text: str | Iterable[str] | Markup, **options: Any
    ) -> RunStats:
        """Write ``.wav``, ``.flac`` or ``.ogg`` (by its suffix) atomically: the file
        appears whole or not at all. Returns what the run did."""
        target = str(path)
        check_output(target, None)
        chosen = self.engine.options(options)
        sink = open_sink(target, self.sample_rate, None)
        return speak_to(self.engine, text, sink, chosen)
