"""A dialogue's turns, from text that says who speaks: ``[S1]`` and ``[S2]`` labels, or,
without labels, one turn per non-empty line, the speakers alternating from the first.

Which form a text uses is decided by how it starts (a label first means labels), so text
arriving a fragment at a time (stdin, a WebSocket) is split into turns as it arrives.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from ttscli.util.errors import UserError

SPEAKERS = 2
"""Kyutai's dialogues have a main and an other speaker."""
_LABEL = re.compile(r"\[S([0-9]+)\]", re.IGNORECASE)
_LONGEST_LABEL = len("[S10]")


@dataclass(frozen=True)
class Turn:
    speaker: int
    """1 or 2: which of the dialogue's voices says it."""
    text: str


@dataclass(frozen=True)
class Dialogue:
    """A whole dialogue: its turns in order (what a batch line or a JSON request holds)."""

    turns: tuple[Turn, ...]

    @property
    def text(self) -> str:
        """The turns as labelled text (what a manifest records, and what reads back)."""
        return " ".join(f"[S{turn.speaker}] {turn.text}" for turn in self.turns)

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> Dialogue:
        """Turns given as a list, the speakers alternating from the first (JSON ``turns``)."""
        turns = [Turn(n % SPEAKERS + 1, text.strip()) for n, text in enumerate(texts)]
        if not any(turn.text for turn in turns):
            raise UserError("turns: the dialogue has no text")
        return cls(tuple(turns))


def speaker_of(label: str) -> int:
    number = int(label)
    if not 1 <= number <= SPEAKERS:
        raise UserError(f"[S{number}]: a dialogue has speakers [S1] and [S2]")
    return number


def parse_dialogue(text: str) -> Dialogue:
    """The turns of a whole text (labelled, or one a line)."""
    reader = TurnReader()
    pieces = [*reader.push(text), *reader.close()]
    turns: list[Turn] = []
    for speaker, piece, _ in pieces:
        said = " ".join(piece.split())
        if turns and turns[-1].speaker == speaker:
            turns[-1] = Turn(speaker, f"{turns[-1].text} {said}".strip())
        elif said:
            turns.append(Turn(speaker, said))
    if not turns:
        raise UserError("nothing to say: the dialogue has no text")
    return Dialogue(tuple(turns))


class TurnReader:
    """Splits text arriving in fragments into (speaker, text, turn_ends) pieces: a piece is
    released as soon as it is known whose it is; ``turn_ends`` says the turn ended after it
    (so its last word is whole)."""

    def __init__(self) -> None:
        self.labelled: bool | None = None
        self.speaker = 1
        self._held = ""
        self._started = False
        """Whether the current turn (line mode) has said anything."""

    def push(self, fragment: str) -> list[tuple[int, str, bool]]:
        text = self._held + fragment
        self._held = ""
        if self.labelled is None:
            head = text.lstrip()
            partial = head.startswith("[") and len(head) < _LONGEST_LABEL and "]" not in head
            if not head or partial:
                self._held = text  # too little to tell which form yet
                return []
            self.labelled = _LABEL.match(head) is not None
        return self._labelled(text) if self.labelled else self._lines(text)

    def close(self) -> list[tuple[int, str, bool]]:
        """What is left when the input ends."""
        held, self._held = self._held, ""
        if self.labelled is None:
            head = held.strip()
            if not head:
                return []
            self.labelled = _LABEL.match(head) is not None
        out = self._labelled(held, final=True) if self.labelled else self._lines(held)
        return [*out, (self.speaker, "", True)]

    def _labelled(self, text: str, final: bool = False) -> list[tuple[int, str, bool]]:
        out: list[tuple[int, str, bool]] = []
        if not final:
            cut = text.rfind("[")
            if cut >= 0 and "]" not in text[cut:] and len(text) - cut < _LONGEST_LABEL:
                text, self._held = text[:cut], text[cut:]  # a label may be arriving
        position = 0
        for match in _LABEL.finditer(text):
            out.append((self.speaker, text[position : match.start()], True))
            self.speaker = speaker_of(match[1])
            position = match.end()
        rest = text[position:]
        if rest:
            out.append((self.speaker, rest, False))
        return out

    def _lines(self, text: str) -> list[tuple[int, str, bool]]:
        out: list[tuple[int, str, bool]] = []
        for n, line in enumerate(text.split("\n")):
            if n and self._started:  # a line ended a turn that said something
                out.append((self.speaker, "", True))
                self.speaker = self.speaker % SPEAKERS + 1
                self._started = False
            if line.strip():
                self._started = True
                out.append((self.speaker, line, False))
        return out


def turns_as_they_arrive(fragments: Iterable[str]) -> Iterator[tuple[int, str, bool]]:
    """``TurnReader`` over a stream of fragments."""
    reader = TurnReader()
    for fragment in fragments:
        yield from reader.push(fragment)
    yield from reader.close()
