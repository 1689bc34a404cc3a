"""What a request may set for Kyutai, and how its markup and silences become the script
the model reads: text with ``<break time="Xs"/>`` tags (moshi's script reader), fed a
span at a time with its style, so that a generation can slow or hurry a span (its padding
bonus) and make it louder or softer (a gain on its words)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ttscli.text.dialogue import TurnReader
from ttscli.text.markup import PLAIN, Boundary, Mark, Markup, Pause, Say, Span, Style

PADDING_BETWEEN = 1
"""Kyutai's scripts force one pad per word token: slightly slower, clearer articulation."""


@dataclass(frozen=True)
class KyutaiOptions:
    """Per-request options: the silences put between sentences and after paragraphs (as
    breaks the model reads), the voices (none: the one loaded; two: a dialogue), Kyutai's
    pacing knobs, and sampling (None: as loaded)."""

    sentence_silence: float = 0.0
    paragraph_silence: float = 0.0
    voices: tuple[str, ...] = ()
    padding_bonus: float = 0.0
    """Added to the pad token's logit at every step: positive is slower (Kyutai's sign)."""
    padding_between: int = PADDING_BETWEEN
    """Pad steps forced after each word (more per word token beyond the first)."""
    temp: float | None = None
    cfg_coef: float | None = None
    seed: int | None = None

    @property
    def dialogue(self) -> bool:
        return len(self.voices) == 2

    def after_sentences(self, text: str) -> str:
        """``text`` with a ``<break>`` after each sentence end followed by a space."""
        if self.sentence_silence > 0:
            tag = _tag(self.sentence_silence)
            text = _SENTENCE_END.sub(lambda m: f"{m[1]} {tag}{m[2]}", text)
        return text

    def sentence_break(self) -> str:
        return _tag(self.sentence_silence) if self.sentence_silence > 0 else ""

    def paragraph_break(self) -> str:
        return _tag(self.paragraph_silence) if self.paragraph_silence > 0 else ""


_BLANK_LINE = re.compile(r"\n[^\S\n]*\n")
_SENTENCE_END = re.compile(r"""([.!?]+["')\]]*)(\s)""")
_ENDS_SENTENCE = re.compile(r"""[.!?]+["')\]]*$""")


def _tag(seconds: float) -> str:
    return f'<break time="{seconds:.3f}s"/>'


@dataclass(frozen=True)
class FeedItem:
    """Text for the model in one style, or a mark between words."""

    text: str = ""
    style: Style = PLAIN
    mark: str | None = None
    speaker: int | None = None
    """In a dialogue, the turn's speaker (1 or 2)."""


class ScriptWriter:
    """Turns markup, a piece at a time, into the items to feed: spans of one style joined,
    each pause a break tag, the sentence silence after each sentence end, and the paragraph
    silence between paragraphs (held until the next one starts, so a document never ends
    in silence). Only rate and volume make styles differ: the rest is not followed."""

    def __init__(self, options: KyutaiOptions) -> None:
        self.options = options
        self._said = False
        self._sentence_due = False
        self._paragraph_due = False
        self._space = ""
        self._turns = TurnReader() if options.dialogue else None

    def text(self, text: str) -> list[FeedItem]:
        """Whole words of a request's text as they arrive: plain text, or, in a dialogue,
        its turns (``ttscli.text.dialogue``: labels or one a line), each with its speaker."""
        if self._turns is None:
            return self.plain(text)
        return self._turn_items(self._turns.push(text))

    def close(self) -> list[FeedItem]:
        """What a dialogue still holds when its text ends (a turn's last words)."""
        return [] if self._turns is None else self._turn_items(self._turns.close())

    def _turn_items(self, pieces: list[tuple[int, str, bool]]) -> list[FeedItem]:
        items: list[FeedItem] = []
        for speaker, piece, ends in pieces:
            if piece.strip():
                items += self.plain(piece + (" " if ends else ""), speaker)
        return items

    def plain(self, text: str, speaker: int | None = None) -> list[FeedItem]:
        """Whole words of plain text, as they arrive: a blank line ends a paragraph. A
        sentence end, or a blank line, at the edge of one piece gets its silence before the
        next piece, so the silences do not depend on where the text was cut."""
        text = self._space + text
        self._space = text[len(text.rstrip()) :]  # a blank line may go on in the next piece
        spans: list[Span] = []
        for n, piece in enumerate(_BLANK_LINE.split(text)):
            if n:
                spans.append(Boundary(paragraph=True))
            spans.append(Say(piece))
        return self.items(Markup(spans), speaker)

    def items(self, markup: Markup, speaker: int | None = None) -> list[FeedItem]:
        items: list[FeedItem] = []

        def add(text: str, style: Style) -> None:
            if items and items[-1].mark is None and items[-1].style == style:
                items[-1] = FeedItem(f"{items[-1].text} {text}", style, speaker=speaker)
            else:
                items.append(FeedItem(text, style, speaker=speaker))

        style = PLAIN
        for span in markup.spans:
            if isinstance(span, Say) and span.text.strip():
                style = Style(rate=span.style.rate, volume_db=span.style.volume_db)
                text = span.text.strip()
                before = [
                    self.options.sentence_break() if self._sentence_due else "",
                    self.options.paragraph_break() if self._paragraph_due else "",
                ]
                add(" ".join([*filter(None, before), self.options.after_sentences(text)]), style)
                self._sentence_due = bool(_ENDS_SENTENCE.search(text))
                self._paragraph_due = False
                self._said = True
            elif isinstance(span, Pause) and span.seconds > 0:
                add(_tag(span.seconds), style)
            elif isinstance(span, Boundary) and span.paragraph:
                self._paragraph_due = self._said
            elif isinstance(span, Mark):
                items.append(FeedItem(mark=span.name))
        return items
