"""Text in, phoneme sequences out: the one entry point the synthesisers use.

Pipeline: protect inline ``{PHONEMES}``, normalise, split sentences, tokenise, g2p the
words, and turn punctuation into pause symbols. Each sentence becomes an ``Utterance`` so
that synthesis can stream sentence by sentence; it knows which phonemes make each word (for
word timings) and, for marked-up text, the style of every phoneme, the pauses and the marks.

Markup (``text.markup`` spans) goes through the same pipeline as plain text: each span's
start is a private-use marker character, which normalisation leaves in place and the
tokeniser reads back, so a style applies to exactly the words its element held.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from itertools import chain

from ttscli.text.g2p import get_phonemizer
from ttscli.text.markup import PLAIN, Boundary, Mark, Markup, Pause, Say, Style
from ttscli.text.normalize import normalize
from ttscli.text.sentences import split_sentences
from ttscli.text.symbols import SENTENCE_ENDS, SHORT_PAUSE, is_phoneme
from ttscli.util.errors import UserError


@dataclass(frozen=True)
class WordSpan:
    """A word and the phonemes that say it (``start`` to ``end``, exclusive)."""

    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Utterance:
    """One sentence, ready for the acoustic model."""

    text: str
    """The sentence as spoken (normalised), inline phonemes shown in their braces."""
    phonemes: tuple[str, ...]
    """Symbols from ``symbols.SYMBOLS``, always ending with one of ``SENTENCE_ENDS``."""
    words: tuple[WordSpan, ...] = ()
    styles: tuple[Style, ...] = ()
    """The style of each phoneme; empty when the whole sentence is plain."""
    pauses: tuple[tuple[int, float], ...] = ()
    """Silence to insert before phoneme ``index``: (index, seconds)."""
    marks: tuple[tuple[int, str], ...] = ()
    """Marks standing before phoneme ``index`` (the sentence's length: at its end)."""
    pause_after: float = 0.0
    """Silence after the sentence (a break between sentences)."""
    paragraph_end: bool = False


_SLOT_BASE = 0xE000
_SLOT_LIMIT = 0xF000 - _SLOT_BASE
_MARKER_BASE = 0xF000
_MARKER_LIMIT = 0xF8FF - _MARKER_BASE + 1
_PRIVATE_USE = re.compile("[\ue000-\uf8ff]")
_INLINE = re.compile("[\ue000-\uefff]")
_MARKER = re.compile("[\uf000-\uf8ff]")
_TOKEN = re.compile(
    r"""(?P<word>[A-Za-z]+(?:['-][A-Za-z]+)*)
      | (?P<slot>[\ue000-\uefff])
      | (?P<marker>[\uf000-\uf8ff])
      | (?P<end>[.?!]+)
      | (?P<pause>-+|[,;:()"])""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class _Inline:
    """Inline phonemes the user wrote in braces, kept out of normalisation."""

    source: str
    phonemes: tuple[str, ...]
    shown: str | None = None
    """What the sentence shows for them (SSML ``<phoneme>``: its text); None: the braces."""


@dataclass(frozen=True)
class _Event:
    """What a marker character stands for."""

    kind: str  # "style", "pause", "mark" or "boundary"
    style: Style = PLAIN
    seconds: float = 0.0
    name: str = ""
    paragraph: bool = False


def speakable_utterances(text: str | Markup) -> list[Utterance]:
    """Split ``text`` into sentences and phonemize each; [] when no word in it speaks.

    A stream of text may hold pieces with nothing to say (a line of dashes between
    paragraphs); they are skipped rather than ending the stream. Pauses and marks in such a
    piece go with the sentence before it (or, at the start, the one after it).
    """
    markup = text if isinstance(text, Markup) else Markup.plain(text)
    protected, inline, events = _protect(markup)
    reader = _SentenceReader(inline, events)
    for chunk, paragraph in _chunks(protected, events):
        for sentence in split_sentences(normalize(chunk)):
            reader.read(sentence)
        if paragraph:
            reader.end_paragraph()
    return reader.finish()


def utterances_one_by_one(text: str, ends_paragraph: bool = False) -> Iterator[Utterance]:
    """Plain text's sentences, each read (and phonemized) only once the one before it has
    been taken, so the first sentence of a long text is ready after its own work alone.
    The same utterances as ``speakable_utterances``; the last one ends a paragraph when
    ``ends_paragraph`` (as each one before a blank line does)."""
    protected, inline, events = _protect(Markup.plain(text))
    reader = _SentenceReader(inline, events)
    chunks = _chunks(protected, events)
    for n, (chunk, paragraph) in enumerate(chunks):
        paragraph = paragraph or (ends_paragraph and n == len(chunks) - 1)
        sentences = split_sentences(normalize(chunk))
        last = max((i for i, s in enumerate(sentences) if _has_words(s)), default=-1)
        for i, sentence in enumerate(sentences):
            before = len(reader.utterances)
            reader.read(sentence)
            if len(reader.utterances) > before:
                utterance = reader.utterances[-1]
                yield (
                    replace(utterance, paragraph_end=True) if paragraph and i == last else utterance
                )


def _has_words(sentence: str) -> bool:
    return any(m.lastgroup in ("word", "slot") for m in _TOKEN.finditer(sentence))


def text_to_utterances(text: str | Markup) -> list[Utterance]:
    """Split ``text`` into sentences and phonemize each; raise ``UserError`` if none speak."""
    utterances = speakable_utterances(text)
    if not utterances:
        raise _nothing_to_say(text.text if isinstance(text, Markup) else text)
    return utterances


def first_utterance(text: str) -> Utterance:
    """The first sentence of ``text`` that speaks, phonemized with no work on the ones after
    it; raises ``UserError`` as ``text_to_utterances`` would (markup errors anywhere in the
    text, or nothing to say). The check a long text passes before the model loads."""
    first = next(utterances_one_by_one(text), None)
    if first is None:
        raise _nothing_to_say(text)
    return first


def _nothing_to_say(plain: str) -> UserError:
    shown = " ".join(plain.split())
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    detail = f"no words in {shown!r}" if shown else "the text is empty"
    return UserError(f"nothing to say: {detail}")


def text_to_phonemes(text: str) -> tuple[str, ...]:
    """The whole text as one sequence (sentence-end tokens kept between sentences)."""
    return tuple(chain.from_iterable(u.phonemes for u in text_to_utterances(text)))


def line_utterance(text: str) -> Utterance:
    """A plain batch line as one utterance: its sentences' phonemes in one sequence (their
    end tokens kept as pauses), and its words where they fall in it."""
    utterances = text_to_utterances(text)
    words: list[WordSpan] = []
    offset = 0
    for utterance in utterances:
        words += [WordSpan(w.text, w.start + offset, w.end + offset) for w in utterance.words]
        offset += len(utterance.phonemes)
    return Utterance(
        " ".join(u.text for u in utterances),
        tuple(chain.from_iterable(u.phonemes for u in utterances)),
        tuple(words),
    )


# --- markup as marker characters ---------------------------------------------------------------


def _protect(markup: Markup) -> tuple[str, list[_Inline], list[_Event]]:
    """The text to normalise: each span's text (braces protected) after the marker of its
    start. A single plain span gives exactly its text, so plain input reads as it always did."""
    pieces: list[str] = []
    inline: list[_Inline] = []
    events: list[_Event] = []
    style = PLAIN

    def marker(event: _Event) -> str:
        if len(events) >= _MARKER_LIMIT:
            raise UserError(f"too much markup: at most {_MARKER_LIMIT} elements in one text")
        events.append(event)
        return " " + chr(_MARKER_BASE + len(events) - 1) + " "

    for span in markup.spans:
        if isinstance(span, Say):
            if span.style != style:
                style = span.style
                pieces.append(marker(_Event("style", style=style)))
            if span.phonemes is not None:
                if len(inline) >= _SLOT_LIMIT:
                    raise UserError(f"too many {{...}} groups (at most {_SLOT_LIMIT})")
                inline.append(_Inline(" ".join(span.phonemes), span.phonemes, span.text))
                pieces.append(" " + chr(_SLOT_BASE + len(inline) - 1) + " ")
            else:
                pieces.append(_protect_braces(span.text, inline))
        elif isinstance(span, Pause):
            pieces.append(marker(_Event("pause", seconds=span.seconds)))
        elif isinstance(span, Mark):
            pieces.append(marker(_Event("mark", name=span.name)))
        elif isinstance(span, Boundary):
            pieces.append(marker(_Event("boundary", paragraph=span.paragraph)))
    return "".join(pieces), inline, events


_BLANK_LINE = re.compile(r"\n[^\S\n]*\n")


def _chunks(text: str, events: list[_Event]) -> list[tuple[str, bool]]:
    """The text cut at sentence and paragraph boundaries (markup's, and blank lines):
    (chunk, ends a paragraph)."""
    chunks: list[tuple[str, bool]] = []
    start = 0
    for match in _MARKER.finditer(text):
        event = events[ord(match.group()) - _MARKER_BASE]
        if event.kind == "boundary":
            chunks.append((text[start : match.start()], event.paragraph))
            start = match.end()
    chunks.append((text[start:], False))
    paragraphs: list[tuple[str, bool]] = []
    for chunk, paragraph in chunks:
        pieces = _BLANK_LINE.split(chunk)
        paragraphs.extend((piece, True) for piece in pieces[:-1])
        paragraphs.append((pieces[-1], paragraph))
    return paragraphs


# --- inline phonemes -------------------------------------------------------------------------


def _protect_braces(text: str, inline: list[_Inline]) -> str:
    """Swap each ``{...}`` for one private-use character, which normalisation leaves alone."""
    text = _PRIVATE_USE.sub(" ", text)
    out: list[str] = []
    position = 0
    while True:
        opening = text.find("{", position)
        closing = text.find("}", position)
        if opening < 0 and closing < 0:
            out.append(text[position:])
            return "".join(out)
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


def _shown(char: str, inline: list[_Inline]) -> str:
    found = _slot(char, inline)
    return found.shown if found.shown is not None else "{" + found.source + "}"


def _restore(sentence: str, inline: list[_Inline]) -> str:
    """The sentence as shown: inline phonemes back in braces, markers gone."""
    shown = _INLINE.sub(lambda m: _shown(m.group(), inline), sentence)
    if _MARKER.search(shown):
        shown = " ".join(_MARKER.sub(" ", shown).split())
        shown = re.sub(r"\s+([.,;:?!])", r"\1", shown)
    return shown


# --- one sentence ----------------------------------------------------------------------------


class _SentenceReader:
    """Reads sentences in order, keeping the style in force across them and the pauses and
    marks that a sentence with nothing to say hands on."""

    def __init__(self, inline: list[_Inline], events: list[_Event]) -> None:
        self.inline = inline
        self.events = events
        self.style = PLAIN
        self.utterances: list[Utterance] = []
        self.pending_pauses = 0.0
        self.pending_marks: list[str] = []

    def read(self, sentence: str) -> None:
        """Phonemes of one sentence, with its words, styles, pauses and marks.

        Clause punctuation becomes one short pause (never at the start, never doubled); end
        punctuation inside the sentence also becomes a short pause; the last run of end
        punctuation picks the end token, "." when there is none.
        """
        tokens = list(_TOKEN.finditer(sentence))
        words = [m.group() for m in tokens if m.lastgroup == "word"]
        pronunciations = iter(get_phonemizer().phonemize_words(words)) if words else iter(())

        out: list[str] = []
        styles: list[Style] = []
        spans: list[WordSpan] = []
        pauses: list[tuple[int, float]] = []
        marks: list[tuple[int, str]] = []
        pending_end: str | None = None

        def add(symbols: Sequence[str]) -> None:
            out.extend(symbols)
            styles.extend([self.style] * len(symbols))

        def pause() -> None:
            if out and out[-1] != SHORT_PAUSE:
                add([SHORT_PAUSE])

        for token in tokens:
            kind = token.lastgroup
            if kind in ("word", "slot"):
                if pending_end is not None:
                    pause()
                    pending_end = None
                start = len(out)
                if kind == "word":
                    add(next(pronunciations))
                    spans.append(WordSpan(token.group(), start, len(out)))
                else:
                    found = _slot(token.group(), self.inline)
                    add(found.phonemes)
                    spans.append(WordSpan(_shown(token.group(), self.inline), start, len(out)))
            elif kind == "marker":
                event = self.events[ord(token.group()) - _MARKER_BASE]
                if event.kind == "style":
                    self.style = event.style
                elif event.kind == "pause":
                    pauses.append((len(out), event.seconds))
                elif event.kind == "mark":
                    marks.append((len(out), event.name))
            elif kind == "end":
                pending_end = token.group()
            elif pending_end is None:  # a closing quote after "?" is not a pause of its own
                pause()

        while out and out[-1] == SHORT_PAUSE:
            out.pop()
            styles.pop()
        if not any(map(is_phoneme, out)):
            self._hand_on(pauses, marks)
            return
        end = len(out)
        pauses = [(min(i, end), seconds) for i, seconds in pauses]
        marks = [(min(i, end), name) for i, name in marks]
        if self.pending_pauses or self.pending_marks:  # from before: they go first
            pauses.insert(0, (0, self.pending_pauses))
            marks[:0] = [(0, name) for name in self.pending_marks]
            self.pending_pauses, self.pending_marks = 0.0, []
        add([_end_token(pending_end)])
        plain = all(style == PLAIN for style in styles)
        self.utterances.append(
            Utterance(
                _restore(sentence, self.inline),
                tuple(out),
                tuple(spans),
                () if plain else tuple(styles),
                tuple((i, s) for i, s in pauses if s > 0),
                tuple(marks),
            )
        )

    def _hand_on(self, pauses: list[tuple[int, float]], marks: list[tuple[int, str]]) -> None:
        seconds = sum(s for _, s in pauses)
        names = [name for _, name in marks]
        if self.utterances:
            last = self.utterances[-1]
            end = len(last.phonemes)
            self.utterances[-1] = replace(
                last,
                pause_after=last.pause_after + seconds,
                marks=(*last.marks, *((end, name) for name in names)),
            )
        else:
            self.pending_pauses += seconds
            self.pending_marks.extend(names)

    def end_paragraph(self) -> None:
        if self.utterances:
            self.utterances[-1] = replace(self.utterances[-1], paragraph_end=True)

    def finish(self) -> list[Utterance]:
        return self.utterances


def _end_token(punctuation: str | None) -> str:
    """ "?!" asks, "!" exclaims, anything else ("...", none at all) is a statement."""
    if punctuation and "?" in punctuation:
        return "?"
    if punctuation and "!" in punctuation:
        return "!"
    return SENTENCE_ENDS[0]
