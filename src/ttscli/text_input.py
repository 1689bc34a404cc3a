"""Where the text comes from: the argument, a file, or standard input as it arrives."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Iterator
from typing import TextIO

from ttscli.errors import UserError

_SENTENCE_END = re.compile(r"[.!?:;][\"')\]]*\s*$")


def stdin_is_piped() -> bool:
    """True when standard input is a pipe or file rather than an interactive terminal."""
    try:
        return not sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def require_text(text: str) -> str:
    if not text.strip():
        raise UserError("nothing to say: the text is empty")
    return text


def passages(lines: Iterable[str]) -> Iterator[str]:
    """Group incoming lines into passages that end at a sentence end or a blank line.

    Hard-wrapped text (``cat book.txt | ttscli fs2``) has lines that stop mid-sentence;
    waiting for the sentence to finish keeps its intonation, while a passage is still
    released as soon as its last line arrives, so speech starts before the input ends.
    """
    buffer: list[str] = []
    for line in lines:
        stripped = line.strip()
        if not stripped:
            if buffer:
                yield " ".join(buffer)
                buffer = []
            continue
        buffer.append(stripped)
        if _SENTENCE_END.search(stripped):
            yield " ".join(buffer)
            buffer = []
    if buffer:
        yield " ".join(buffer)


def stdin_lines(stream: TextIO | None = None) -> Iterator[str]:
    """Lines of stdin as they arrive (``readline`` does not wait for EOF)."""
    source = stream if stream is not None else sys.stdin
    while True:
        line = source.readline()
        if not line:
            return
        yield line


def stdin_fragments(fd: int | None = None, size: int = 4096) -> Iterator[str]:
    """Text from stdin in whatever pieces the writer flushed, as soon as they arrive.

    ``os.read`` returns what is available instead of waiting for a full line or EOF, so
    words streamed by an LLM without newlines still reach the model immediately. UTF-8 is
    decoded incrementally, so a character split across reads is never garbled.
    """
    import codecs
    import os

    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    source = sys.stdin.fileno() if fd is None else fd
    while True:
        data = os.read(source, size)
        if not data:
            tail = decoder.decode(b"", final=True)
            if tail:
                yield tail
            return
        text = decoder.decode(data)
        if text:
            yield text
