"""Text in, phoneme sequences out: the one entry point the synthesisers use.

Pipeline: protect inline ``{PHONEMES}``, normalise, split sentences, tokenise, g2p the
words, and turn punctuation into pause symbols. Each sentence becomes an ``Utterance`` so
that synthesis can stream sentence by sentence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import chain

from ttscli.text.g2p import get_phonemizer
from ttscli.text.normalize import normalize
from ttscli.text.sentences import split_sentences
from ttscli.text.symbols import SENTENCE_ENDS, SHORT_PAUSE, is_phoneme
from ttscli.util.errors import UserError


@dataclass(frozen=True)
class Utterance:
    """One sentence, ready for the acoustic model."""

    text: str
    """The sentence as spoken (normalised), inline phonemes shown in their braces."""
    phonemes: tuple[str, ...]
    """Symbols from ``symbols.SYMBOLS``, always ending with one of ``SENTENCE_ENDS``."""


_SLOT_BASE = 0xE000
_SLOT_LIMIT = 0xF8FF - _SLOT_BASE + 1
_PRIVATE_USE = re.compile("[\ue000-\uf8ff]")
_TOKEN = re.compile(
    r"""(?P<word>[A-Za-z]+(?:['-][A-Za-z]+)*)
      | (?P<slot>[\ue000-\uf8ff])
      | (?P<end>[.?!]+)
      | (?P<pause>-+|[,;:()"])""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class _Inline:
    """Inline phonemes the user wrote in braces, kept out of normalisation."""

    source: str
    phonemes: tuple[str, ...]


def speakable_utterances(text: str) -> list[Utterance]:
    """Split ``text`` into sentences and phonemize each; [] when no word in it speaks.

    A stream of text may hold pieces with nothing to say (a line of dashes between
    paragraphs); they are skipped rather than ending the stream.
    """
    protected, inline = _protect_braces(text)
    utterances = []
    for sentence in split_sentences(normalize(protected)):
        phonemes = _sentence_phonemes(sentence, inline)
        if phonemes is not None:
            utterances.append(Utterance(_restore_braces(sentence, inline), phonemes))
    return utterances


def text_to_utterances(text: str) -> list[Utterance]:
    """Split ``text`` into sentences and phonemize each; raise ``UserError`` if none speak."""
    utterances = speakable_utterances(text)
    if not utterances:
        shown = " ".join(text.split())
        shown = shown if len(shown) <= 40 else shown[:37] + "..."
        detail = f"no words in {shown!r}" if shown else "the text is empty"
        raise UserError(f"nothing to say: {detail}")
    return utterances


def text_to_phonemes(text: str) -> tuple[str, ...]:
    """The whole text as one sequence (sentence-end tokens kept between sentences)."""
    return tuple(chain.from_iterable(u.phonemes for u in text_to_utterances(text)))


# --- inline phonemes -------------------------------------------------------------------------


def _protect_braces(text: str) -> tuple[str, list[_Inline]]:
    """Swap each ``{...}`` for one private-use character, which normalisation leaves alone."""
    text = _PRIVATE_USE.sub(" ", text)
    out: list[str] = []
    inline: list[_Inline] = []
    position = 0
    while True:
        opening = text.find("{", position)
        closing = text.find("}", position)
        if opening < 0 and closing < 0:
            out.append(text[position:])
            return "".join(out), inline
        if closing >= 0 and (opening < 0 or closing < opening):
            raise UserError(f"unbalanced braces: '}}' at character {closing + 1} has no '{{'")
        if closing < 0:
            raise UserError(f"unbalanced braces: '{{' at character {opening + 1} is never closed")
        nested = text.find("{", opening + 1, closing)
        if nested >= 0:
            raise UserError(f"unbalanced braces: '{{' at character {nested + 1} is inside braces")
        if len(inline) >= _SLOT_LIMIT:
            raise UserError(f"too many {{...}} groups (at most {_SLOT_LIMIT})")
        inline.append(_parse_inline(text[opening + 1 : closing]))
        out.append(text[position:opening] + chr(_SLOT_BASE + len(inline) - 1))
        position = closing + 1


def _parse_inline(content: str) -> _Inline:
    symbols = []
    for symbol in content.split():
        if is_phoneme(symbol.upper()):
            symbols.append(symbol.upper())
        elif symbol.lower() == SHORT_PAUSE:
            symbols.append(SHORT_PAUSE)
        else:
            hint = " (write sentence punctuation outside the braces)" if symbol in ".?!" else ""
            raise UserError(
                f"unknown phoneme {symbol!r} in {{{' '.join(content.split())}}}: use ARPAbet "
                f"with stress digits (e.g. AH0, K) or {SHORT_PAUSE}{hint}"
            )
    if not symbols:
        raise UserError("empty braces {}: put ARPAbet phonemes inside, e.g. {HH AH0 L OW1}")
    return _Inline(" ".join(symbols), tuple(symbols))


def _slot(char: str, inline: list[_Inline]) -> _Inline:
    return inline[ord(char) - _SLOT_BASE]


def _restore_braces(sentence: str, inline: list[_Inline]) -> str:
    return _PRIVATE_USE.sub(lambda m: "{" + _slot(m.group(), inline).source + "}", sentence)


# --- one sentence ----------------------------------------------------------------------------


def _sentence_phonemes(sentence: str, inline: list[_Inline]) -> tuple[str, ...] | None:
    """Phonemes of one sentence, or None when it has nothing to say.

    Clause punctuation becomes one short pause (never at the start, never doubled); end
    punctuation inside the sentence also becomes a short pause; the last run of end
    punctuation picks the end token, "." when there is none.
    """
    tokens = list(_TOKEN.finditer(sentence))
    words = [m.group() for m in tokens if m.lastgroup == "word"]
    pronunciations = iter(get_phonemizer().phonemize_words(words))

    out: list[str] = []
    pending_end: str | None = None

    def pause() -> None:
        if out and out[-1] != SHORT_PAUSE:
            out.append(SHORT_PAUSE)

    for token in tokens:
        kind = token.lastgroup
        if kind in ("word", "slot"):
            if pending_end is not None:
                pause()
                pending_end = None
            if kind == "word":
                out.extend(next(pronunciations))
            else:
                out.extend(_slot(token.group(), inline).phonemes)
        elif kind == "end":
            pending_end = token.group()
        elif pending_end is None:  # a closing quote after "?" is not a pause of its own
            pause()

    while out and out[-1] == SHORT_PAUSE:
        out.pop()
    if not any(map(is_phoneme, out)):
        return None
    return (*out, _end_token(pending_end))


def _end_token(punctuation: str | None) -> str:
    """ "?!" asks, "!" exclaims, anything else ("...", none at all) is a statement."""
    if punctuation and "?" in punctuation:
        return "?"
    if punctuation and "!" in punctuation:
        return "!"
    return SENTENCE_ENDS[0]
