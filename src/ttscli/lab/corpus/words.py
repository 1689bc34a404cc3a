"""Our front-end's symbols for a line, grouped back into words.

The teacher must be written words (its IPA depends on a phoneme's neighbours and on the
word it is in), but the front-end hands out a flat symbol list. The words are recovered
by pronouncing each normalised sentence's words with the same phonemizer, in the same
context, and matching them in order: any disagreement is an error, never a guess, so the
labels always equal what FS2 will see at inference.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ttscli.text.frontend import text_to_utterances
from ttscli.text.g2p import get_phonemizer
from ttscli.text.symbols import PAUSE_SYMBOLS
from ttscli.util.errors import UserError

_WORD = re.compile(r"[A-Za-z]+(?:['-][A-Za-z]+)*")
"""The front-end's word token (``frontend._TOKEN``'s ``word`` group)."""


@dataclass(frozen=True)
class Word:
    text: str
    """Lower-case spelling: decides the function-word stress treatment."""
    phones: tuple[str, ...]


@dataclass(frozen=True)
class Pause:
    symbol: str


Item = Word | Pause


class TextError(ValueError):
    """A line the front-end cannot turn into a usable utterance (skipped, not fatal)."""


def line_items(text: str) -> tuple[list[Item], str]:
    """Our symbols for ``text`` grouped into words, plus the normalised text."""
    try:
        utterances = text_to_utterances(text)
    except UserError as error:
        raise TextError(str(error)) from None
    items: list[Item] = []
    for utterance in utterances:
        words = _WORD.findall(utterance.text)
        symbols = utterance.phonemes
        position = 0
        for word, phones in zip(words, get_phonemizer().phonemize_words(words), strict=True):
            if not phones:
                continue
            while position < len(symbols) and symbols[position] in PAUSE_SYMBOLS:
                items.append(Pause(symbols[position]))
                position += 1
            if tuple(symbols[position : position + len(phones)]) != tuple(phones):
                raise TextError(f"cannot find the word {word!r} in the front-end's phonemes")
            items.append(Word(word.lower(), tuple(phones)))
            position += len(phones)
        rest = symbols[position:]
        if not all(symbol in PAUSE_SYMBOLS for symbol in rest):
            raise TextError(f"front-end phonemes left over after the last word: {rest}")
        items.extend(Pause(symbol) for symbol in rest)
    return items, " ".join(utterance.text for utterance in utterances)


def normalized_text(text: str) -> str:
    """The line as the front-end normalises it (metadata.csv's third column)."""
    return " ".join(u.text for u in text_to_utterances(text))
