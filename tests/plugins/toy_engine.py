"""A third engine, added through the registry alone: it speaks a sine tone per word.

It lives outside the package and reaches ttscli only through the ``ttscli.engines`` entry
point declared beside it (``ttscli_toy-0.1.dist-info``), as a plug-in package would.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ttscli.engines.base import (
    Chunk,
    OptionField,
    PreparedLine,
    VoiceInfo,
    Word,
    check_fields,
)
from ttscli.engines.entry import EngineEntry

RATE = 16_000
FIELDS = (OptionField("frequency", "number", 440.0, "Tone of every word, in Hz.", 100, 1000),)
LOAD_FIELDS = (
    OptionField("word_seconds", "number", 0.2, "How long each word sounds.", 0.05, 1.0),
    OptionField("device", "string", "auto", "Ignored: tones need no device."),
)


@dataclass(frozen=True)
class ToneOptions:
    frequency: float


class ToneEngine:
    name = "toy"
    sample_rate = RATE
    load_seconds = 0.0
    chunks_ahead = 2
    reads_words = False

    def __init__(self, word_seconds: float) -> None:
        self.word_seconds = word_seconds

    def describe(self) -> str:
        return f"toy ({self.word_seconds:g} s a word)"

    def facts(self) -> dict[str, Any]:
        return {"device": "none"}

    def voice(self) -> VoiceInfo:
        return VoiceInfo(name="tone", licence="CC0")

    def fields(self) -> tuple[OptionField, ...]:
        return FIELDS

    def options(self, fields: Mapping[str, Any]) -> ToneOptions:
        return ToneOptions(**check_fields(FIELDS, fields))

    def _speak(self, text: str, options: ToneOptions | None, start: float) -> Chunk:
        frequency = (options or ToneOptions(440.0)).frequency
        words = text.split()
        n = int(self.word_seconds * RATE)
        t = np.arange(n * len(words)) / RATE
        audio = (0.5 * np.sin(2 * np.pi * frequency * t)).astype(np.float32)
        timed = tuple(
            Word(w, start + i * self.word_seconds, start + (i + 1) * self.word_seconds)
            for i, w in enumerate(words)
        )
        return Chunk(audio, RATE, text=text, words=timed)

    def stream(
        self, text: str | Iterable[str], options: ToneOptions | None = None
    ) -> Iterator[Chunk]:
        whole = text if isinstance(text, str) else "".join(text)
        heard = 0.0
        for sentence in whole.split("."):
            if sentence.strip():
                chunk = self._speak(sentence.strip(), options, heard)
                heard += chunk.seconds
                yield chunk

    def prepare_line(self, text: object, options: object = None) -> PreparedLine:
        return PreparedLine(str(text), text, None, len(str(text).split()), options)

    def synthesize_batch(
        self, lines: Sequence[PreparedLine], options: ToneOptions | None = None
    ) -> list[Chunk]:
        return [self._speak(line.text, line.options or options, 0.0) for line in lines]


def load_tone(word_seconds: float, device: str) -> ToneEngine:
    return ToneEngine(word_seconds)


ENTRY = EngineEntry(
    name="toy",
    summary="A sine tone per word (a test engine).",
    load_engine=load_tone,
    request_fields=lambda: FIELDS,
    load_fields=LOAD_FIELDS,
)
