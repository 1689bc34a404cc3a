"""Text that arrives in pieces, cut into the units an engine can start on.

One module serves every streaming input (stdin of ``speak`` and ``fs2``, the server's
WebSocket): fragments go in as they arrive, in whatever pieces the writer flushed (an LLM
writes a few characters at a time, mid-word), and complete units come out as soon as
their end has arrived:

* ``WordFeed`` releases whole words, for Kyutai, which reads text word by word while it
  speaks.
* ``SentenceFeed`` releases whole sentences, mid-line, for FastSpeech 2, which needs a
  sentence to plan its prosody. What remains when the writer pauses (``PAUSE``) or ends is
  released too, so a last sentence without a period is not held back.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from ttscli.text.normalize import normalize
from ttscli.text.sentences import split_sentences

PAUSE = ""
"""A fragment that marks a pause in the input: the writer has sent nothing for a while."""

_WHITESPACE = " \t\n\r\f\v"
# Where a sentence may end: end punctuation (and closing quotes) followed by whitespace, or a
# blank line. Whether it really ends there is then left to the front-end's own rules.
_CANDIDATE_END = re.compile(r"""[.?!]+["')\]]*(?=\s)|\n[^\S\n]*\n""")
_NEXT_WORD = re.compile(r"\s*\S+")
_BLANK_START = re.compile(r"[^\S\n]*\n[^\S\n]*\n")


class WordFeed:
    """Cuts fragments into pieces made of whole words.

    Fragments are concatenated verbatim (tokens streamed from an LLM carry their own spaces);
    a word is released once whitespace follows it or the input ends, and a
    ``<break time="1s"/>`` tag is never cut in half. A pause releases nothing: a word may go
    on after it.
    """

    def __init__(self) -> None:
        self._buffer = ""

    def push(self, fragment: str) -> str:
        self._buffer += fragment
        cut = max(self._buffer.rfind(c) for c in _WHITESPACE)
        if cut <= 0:
            return ""
        tag_open = self._buffer.rfind("<", 0, cut)
        if tag_open > self._buffer.rfind(">", 0, cut):
            cut = tag_open
        ready, self._buffer = self._buffer[:cut], self._buffer[cut:]
        return ready

    def flush(self) -> str:
        rest, self._buffer = self._buffer, ""
        return rest


class SentenceFeed:
    """Cuts fragments into passages that end where a sentence ends.

    A period followed by a space is not always an end ("Mr. Smith", "etc. and", "U.S. law"),
    so a candidate end is only taken once the next word has begun and the front-end's own
    normaliser and splitter, given the text up to that word, split there too. A blank line
    always ends a passage. ``PAUSE`` releases what is left (the last sentence of an answer
    that has no final period, a line typed without one), as does ``flush`` at the end.
    """

    def __init__(self) -> None:
        self._buffer = ""
        self._checked = 0  # buffer offset up to which candidate ends were already rejected

    def push(self, fragment: str) -> list[str]:
        """Passages completed by ``fragment`` (``PAUSE`` releases everything held)."""
        return [passage for passage, _ in self.push_marked(fragment)]

    def push_marked(self, fragment: str) -> list[tuple[str, bool]]:
        """Passages completed by ``fragment``, each with whether a blank line (the end of a
        paragraph) ended it."""
        if fragment == PAUSE:
            rest = self.flush()
            return [(rest, False)] if rest else []
        self._buffer += fragment
        released: list[tuple[str, bool]] = []
        while (found := self._next_end()) is not None:
            passage, self._buffer, paragraph = found
            self._checked = 0
            if passage:
                released.append((passage, paragraph))
        return released

    def _next_end(self) -> tuple[str, str, bool] | None:
        for match in _CANDIDATE_END.finditer(self._buffer, self._checked):
            end = match.end()
            if match.group().startswith("\n"):
                return self._buffer[:end].strip(), self._buffer[end:], True
            following = _NEXT_WORD.match(self._buffer, end)
            if following is None:
                return None
            if self._ends_sentence(end, following.end()):
                rest = self._buffer[end:]
                return self._buffer[:end].strip(), rest, bool(_BLANK_START.match(rest))
            self._checked = end
        return None

    def _ends_sentence(self, end: int, next_word_end: int) -> bool:
        """The front-end splits ``text + next word`` after ``text``: a real sentence end."""
        with_next = self._buffer[:next_word_end]
        if with_next.count("{") != with_next.count("}"):
            return False  # inside inline phonemes
        sentences = split_sentences(normalize(with_next))
        return len(sentences) > 1 and len(split_sentences(normalize(self._buffer[:end]))) == (
            len(sentences) - 1
        )

    def flush(self) -> str:
        rest, self._buffer, self._checked = self._buffer.strip(), "", 0
        return rest


def sentences_as_they_arrive(fragments: Iterable[str]) -> Iterator[str]:
    """Passages of complete sentences from fragments (``PAUSE`` included), then the rest."""
    for passage, _ in paragraphs_as_they_arrive(fragments):
        yield passage


def paragraphs_as_they_arrive(fragments: Iterable[str]) -> Iterator[tuple[str, bool]]:
    """The same passages, each with whether it ended a paragraph (a blank line)."""
    feed = SentenceFeed()
    for fragment in fragments:
        yield from feed.push_marked(fragment)
    rest = feed.flush()
    if rest:
        yield rest, False
