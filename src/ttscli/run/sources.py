"""Where the text comes from: the argument, a file, or standard input as it arrives."""

from __future__ import annotations

import codecs
import os
import select
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from ttscli.text.feed import PAUSE
from ttscli.text.markup import require_text
from ttscli.util.errors import UserError, reading

STDIN_PAUSE_SECONDS = 0.5
"""Input silent this long releases a sentence still waiting for its period."""


def stdin_is_piped() -> bool:
    """True when standard input is a pipe or file rather than an interactive terminal."""
    try:
        return not sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def stdin_fragments(
    fd: int | None = None, size: int = 4096, pause_after: float | None = None
) -> Iterator[str]:
    """Text from stdin in whatever pieces the writer flushed, as soon as they arrive.

    ``os.read`` returns what is available instead of waiting for a full line or EOF, so
    words streamed by an LLM without newlines still reach the engine immediately. UTF-8 is
    decoded incrementally, so a character split across reads is never garbled. With
    ``pause_after``, ``PAUSE`` is yielded once whenever no byte has arrived for that many
    seconds, so a sentence feed can speak a last sentence that has no period.
    """
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    source = sys.stdin.fileno() if fd is None else fd
    paused = True  # nothing to release before the first text
    while True:
        if pause_after is not None and not paused:
            ready, _, _ = select.select([source], [], [], pause_after)
            if not ready:
                paused = True
                yield PAUSE
                continue
        data = os.read(source, size)
        if not data:
            tail = decoder.decode(b"", final=True)
            if tail:
                yield tail
            return
        text = decoder.decode(data)
        if text:
            paused = False
            yield text


def read_text_file(path: Path) -> str:
    """A UTF-8 text file (``-`` = all of stdin), with one-line errors a user can act on."""
    with reading(f"--in {path}"):
        return sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")


def text_source(
    text: str | None,
    in_file: Path | None,
    *,
    check: Callable[[str], object] = require_text,
    read_all: bool = False,
    pause_after: float | None = None,
) -> str | Iterator[str]:
    """What one run speaks: the argument, a file, or stdin as it arrives.

    Text known up front goes through ``check`` now, before any model loads. Piped stdin is
    passed on in the pieces it arrives in (with ``PAUSE`` marks after ``pause_after``
    seconds of silence), unless ``read_all``.
    """
    if in_file is not None and text is not None:
        raise UserError("give either TEXT or --in FILE, not both")
    if in_file is not None:
        whole = read_text_file(in_file)
    elif text is not None and text != "-":
        whole = text
    elif text is None and not stdin_is_piped():
        raise UserError("no text: give TEXT, --in FILE, or pipe text into stdin")
    elif read_all:
        whole = sys.stdin.read()
    else:
        return fail_if_empty(stdin_fragments(pause_after=pause_after))
    check(require_text(whole))
    return whole


def fail_if_empty(fragments: Iterator[str]) -> Iterator[str]:
    """Fail clearly when stdin turns out to hold no text at all."""
    seen = False
    for fragment in fragments:
        seen = seen or bool(fragment.strip())
        yield fragment
    if not seen:
        raise UserError("nothing to say: standard input was empty")
