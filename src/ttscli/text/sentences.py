"""Sentence splitting of normalised text.

Each sentence is synthesised (and streamed) on its own, so the split decides both the
intonation units and how soon the first audio can play.
"""

from __future__ import annotations

import re

MAX_SENTENCE_CHARS = 400
"""Longer sentences are cut at clause punctuation so streaming starts quickly."""

_PARAGRAPHS = re.compile(r"\n\s*\n")
_SENTENCE_END = re.compile(r"""[.?!]+["')\]]*(?=\s|$)""")
_CLAUSE_END = re.compile(r"""[,;:]["')\]]*(?=\s|$)""")
_PUNCTUATION = set(".,;:?!-()\"'")


def split_sentences(text: str, max_chars: int = MAX_SENTENCE_CHARS) -> list[str]:
    """Split on . ? ! (runs such as "?!" or "..." included) and on blank lines.

    End punctuation and closing quotes stay with their sentence. A single newline is a
    line wrap, not a break. Pieces with no speakable character (a stray '"' or "...") are
    glued to the sentence before them, so no empty or punctuation-only string comes out.
    """
    sentences: list[str] = []
    for paragraph in _PARAGRAPHS.split(text):
        paragraph = " ".join(paragraph.split())
        start = 0
        pieces = []
        for match in _SENTENCE_END.finditer(paragraph):
            pieces.append(paragraph[start : match.end()])
            start = match.end()
        pieces.append(paragraph[start:])
        for piece in pieces:
            piece = piece.strip()
            if not piece:
                continue
            if not _has_content(piece):
                if sentences:
                    sentences[-1] += piece
                continue
            sentences.extend(_split_long(piece, max_chars))
    return sentences


def _has_content(text: str) -> bool:
    return any(not ch.isspace() and ch not in _PUNCTUATION for ch in text)


def _split_long(sentence: str, max_chars: int) -> list[str]:
    """Cut at the last clause break (, ; :) that fits; failing that, at a space.

    Pieces keep their clause punctuation; the front-end still ends each one with a
    sentence-end token, which is the price of not waiting for the whole sentence.
    """
    pieces: list[str] = []
    rest = sentence
    while len(rest) > max_chars:
        cut = 0
        for match in _CLAUSE_END.finditer(rest, 0, max_chars + 1):
            cut = match.end()
        if cut == 0:
            cut = rest.rfind(" ", 0, max_chars + 1)
        if cut <= 0:
            cut = rest.find(" ", max_chars)
            if cut < 0:
                break
        head, rest = rest[:cut].strip(), rest[cut:].strip()
        if _has_content(head):
            pieces.append(head)
        elif pieces:
            pieces[-1] += head
    if rest and _has_content(rest):
        pieces.append(rest)
    elif rest and pieces:
        pieces[-1] += rest
    return pieces
