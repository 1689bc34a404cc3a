"""Text with markup, as the engines take it: a sequence of spans. SSML (``text.ssml``) and
plain text both become this, so an engine has one input whichever way a user wrote.

A ``Say`` is text spoken in one style (rate, pitch, volume, emphasis), or with phonemes
given; a ``Pause`` is silence of a given length; a ``Mark`` names a point in the audio, to be
reported with the word timings; a ``Boundary`` ends a sentence or a paragraph.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field

from ttscli.util.errors import UserError


@dataclass(frozen=True)
class Style:
    """How a stretch of text is spoken, relative to the voice's own way."""

    rate: float = 1.0
    """Speaking rate: 2 is twice as fast (durations halved)."""
    pitch: float = 1.0
    """F0 multiplier."""
    volume_db: float = 0.0
    emphasis: str = "none"
    """``none``, ``reduced``, ``moderate`` or ``strong``."""

    @property
    def plain(self) -> bool:
        return self == PLAIN


PLAIN = Style()


@dataclass(frozen=True)
class Say:
    text: str
    style: Style = PLAIN
    phonemes: tuple[str, ...] | None = None
    """ARPAbet symbols that replace the text's own pronunciation (``<phoneme>``); ``text``
    is then what timings show."""


@dataclass(frozen=True)
class Pause:
    seconds: float


@dataclass(frozen=True)
class Mark:
    name: str


@dataclass(frozen=True)
class Boundary:
    paragraph: bool = False


Span = Say | Pause | Mark | Boundary


@dataclass
class Markup:
    """A whole input as spans, and what the chosen engine was told it cannot honour."""

    spans: list[Span] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def plain(cls, text: str) -> Markup:
        return cls([Say(text)])

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    @property
    def text(self) -> str:
        """What is said, as plain text (for an engine that takes only words)."""
        return " ".join(s.text for s in self.spans if isinstance(s, Say) and s.text.strip())

    def unhonoured_by_text(self, followed: Collection[str] = ()) -> list[str]:
        """What an engine that reads only text and breaks cannot do of this markup, but for
        what it ``followed`` of ``rate``, ``pitch``, ``volume`` and ``mark``."""
        found = []
        for span in self.spans:
            if isinstance(span, Say):
                style = span.style
                for name, asked in (
                    ("rate", style.rate != 1.0),
                    ("pitch", style.pitch != 1.0),
                    ("volume", style.volume_db != 0.0),
                ):
                    if asked and name not in followed:
                        found.append(f"<prosody {name}> is not followed by this engine")
                if style.emphasis != "none":
                    found.append("<emphasis> is not followed by this engine")
                if span.phonemes is not None:
                    found.append("<phoneme> is not followed by this engine: its text is read")
            elif isinstance(span, Mark) and "mark" not in followed:
                found.append("<mark> is not reported by this engine")
        return list(dict.fromkeys(found))


class MarkupStream:
    """Markup that arrives a piece at a time (SSML read as it comes, ``text.ssml.SsmlReader``):
    an engine that reads markup speaks each piece once it is here, in one stream."""

    def __init__(self, pieces: Iterable[Markup]) -> None:
        self._pieces = pieces

    def __iter__(self) -> Iterator[Markup]:
        return iter(self._pieces)


def require_text(text: str | Markup) -> str | Markup:
    """Fails in one line on a text (or a document) with no words: nothing to say."""
    plain = text.text if isinstance(text, Markup) else text
    if not plain.strip():
        raise UserError("nothing to say: the text is empty")
    return text
