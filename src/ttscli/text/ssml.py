"""SSML in, spans out (``text.markup``), with a hardened XML parser.

The document is parsed by ``defusedxml``: no DTDs, no entities, no external references, so a
billion-laughs or XXE document gets a one-line error, reads no file and does not hang. A
malformed document gets one line with its line and column. Nesting deeper than
``MAX_DEPTH`` and attributes longer than ``MAX_ATTRIBUTE`` are refused rather than walked.

Elements: ``speak``, ``p``, ``s``, ``break``, ``prosody`` (nestable: rates and pitches
multiply, volumes add), ``emphasis``, ``say-as``, ``phoneme``, ``sub`` and ``mark``. An
element or attribute that is not understood gets a warning and its text is read.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import date

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from ttscli.text.ipa import ipa_to_arpabet
from ttscli.text.markup import PLAIN, Boundary, Mark, Markup, Pause, Say, Style
from ttscli.text.symbols import is_phoneme
from ttscli.util.errors import UserError

MAX_DEPTH = 64
MAX_ATTRIBUTE = 1000
MAX_BREAK_SECONDS = 30.0
BREAK_STRENGTHS = {
    "none": 0.0, "x-weak": 0.1, "weak": 0.25, "medium": 0.5, "strong": 0.75, "x-strong": 1.25,
}  # fmt: skip
"""Seconds of silence for each ``<break strength>`` (without ``time``; medium by default)."""
RATES = {"x-slow": 0.5, "slow": 0.75, "medium": 1.0, "fast": 1.25, "x-fast": 1.6, "default": 1.0}
PITCHES = {"x-low": 0.75, "low": 0.88, "medium": 1.0, "high": 1.14, "x-high": 1.3, "default": 1.0}
VOLUMES = {
    "silent": -60.0, "x-soft": -12.0, "soft": -6.0, "medium": 0.0, "loud": 6.0, "x-loud": 12.0,
    "default": 0.0,
}  # fmt: skip
EMPHASES = ("strong", "moderate", "reduced", "none")
MONTHS = (
    "January February March April May June July August September October November December"
).split()
_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)"
_SENTENCE_END = re.compile(r"""[.!?]+["')\]]*(?=\s)""")
_CONTAINERS = ("speak", "p", "paragraph", "s", "sentence")
_BOUNDARIES = {
    "p": Boundary(paragraph=True), "paragraph": Boundary(paragraph=True),
    "s": Boundary(), "sentence": Boundary(),
}  # fmt: skip


def looks_like_ssml(text: str) -> bool:
    """Input that starts with ``<speak`` (after an XML declaration, if any) is SSML; so is
    a document that starts with a DOCTYPE or a comment and holds a ``<speak`` (the parser
    then refuses what it must)."""
    head = text.lstrip()
    if head.startswith("<?xml"):
        head = head[head.find("?>") + 2 :].lstrip() if "?>" in head else ""
    if head.startswith(("<!DOCTYPE", "<!--")):
        return "<speak" in head
    return head.startswith("<speak")


def parse_ssml(document: str) -> Markup:
    """The spans of an SSML document, or a ``UserError`` in one line."""
    reader = SsmlReader(whole=True)
    return joined([*reader.feed(document), *reader.close()])


def joined(pieces: Iterable[Markup]) -> Markup:
    """One markup of ``pieces`` in order."""
    whole = Markup()
    for piece in pieces:
        whole.spans.extend(piece.spans)
        for warning in piece.warnings:
            whole.warn(warning)
    return whole


class SsmlReader:
    """Reads an SSML document as it arrives and releases its spans a sentence at a time:
    once a ``<s>`` or ``<p>`` closes, or the text between elements reaches a sentence end
    (``.``, ``!`` or ``?`` and a space). An element inside a sentence (``<prosody>``,
    ``<emphasis>``...) is read whole once it closes, so a sentence is never spoken before
    its markup is complete. The document is parsed by ``defusedxml`` as it comes, so the
    first malformed or refused byte fails at once, with its line and column.
    """

    def __init__(self, whole: bool = False) -> None:
        """``whole``: the document is all here, so nothing is released before ``close``
        (a sentence's text stays one span)."""
        self._whole = whole
        self._builder = _Builder(self)
        self._parser = DefusedXMLParser(
            target=self._builder, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
        self._ready: list[Markup] = []
        self._pending = Markup()
        self._text = ""

    def feed(self, chunk: str) -> list[Markup]:
        """The pieces that ``chunk`` completes (often none)."""
        with _parsing():
            self._parser.feed(chunk)
        return self._take()

    def close(self) -> list[Markup]:
        """The rest, at the end of the document (``UserError`` if it is not complete)."""
        with _parsing():
            self._parser.close()
        self._flush_text()
        self._whole = False
        self._release()
        return self._take()

    def _take(self) -> list[Markup]:
        ready, self._ready = self._ready, []
        return ready

    # -- called by the builder ---------------------------------------------------------------
    def _top_text(self, text: str) -> None:
        """Text between sentence-level elements: released up to its last sentence end."""
        self._text += text
        if self._whole:
            return
        ends = list(_SENTENCE_END.finditer(self._text))
        if ends:
            end = ends[-1]
            head, self._text = self._text[: end.end()], self._text[end.end() :]
            self._pending.spans.append(Say(head))
            self._release()

    def _flush_text(self) -> None:
        if self._text.strip():
            self._pending.spans.append(Say(self._text))
        self._text = ""

    def _open_container(self, element: ET.Element) -> None:
        _check_attribute_lengths(element)
        _attributes(element, (), self._pending)
        boundary = _BOUNDARIES.get(_name(element))
        if boundary is not None:
            self._pending.spans.append(boundary)

    def _close_container(self, element: ET.Element) -> None:
        self._flush_text()
        boundary = _BOUNDARIES.get(_name(element))
        if boundary is not None:
            self._pending.spans.append(boundary)
        self._release()

    def _inline_done(self, element: ET.Element, depth: int) -> None:
        _walk(element, PLAIN, self._pending, depth)

    def _release(self) -> None:
        if self._whole:
            return
        if self._pending.spans or self._pending.warnings:
            self._ready.append(self._pending)
            self._pending = Markup()


class _Builder(ET.TreeBuilder):
    """Builds only what is inside a sentence-level element (to walk it when it closes) and
    drops it then, so a long document streamed in never piles up in memory."""

    def __init__(self, reader: SsmlReader) -> None:
        super().__init__()
        self._reader = reader
        self._open: list[ET.Element] = []
        self._inline = 0
        """How many of the open elements are inside (or are) an element of a sentence."""

    def start(self, tag: str, attrs: dict[str, str]) -> ET.Element:
        name = tag.rsplit("}", 1)[-1]
        if len(self._open) > MAX_DEPTH:
            raise UserError(f"SSML: elements nested more than {MAX_DEPTH} deep")
        if not self._open and name != "speak":
            raise UserError(f"SSML: the document must be a <speak> element, not <{name}>")
        if not self._inline:
            self._reader._flush_text()
        element = super().start(tag, attrs)
        self._open.append(element)
        if self._inline or name not in _CONTAINERS:
            self._inline += 1
        else:
            self._reader._open_container(element)
        return element

    def data(self, data: str) -> None:
        if self._inline:
            super().data(data)
        else:
            self._reader._top_text(data)

    def end(self, tag: str) -> ET.Element:
        element = super().end(tag)
        self._open.pop()
        if self._inline:
            self._inline -= 1
            if self._inline == 0:
                self._reader._inline_done(element, len(self._open))
        else:
            self._reader._close_container(element)
        if self._open and self._inline == 0:
            self._open[-1].remove(element)
        return element


@contextmanager
def _parsing() -> Iterator[None]:
    """The parser's refusals and errors as one line each."""
    try:
        yield
    except DefusedXmlException as exc:
        raise UserError(
            f"SSML: refused ({_refusal(exc)}); write plain text or plain SSML"
        ) from None
    except ET.ParseError as exc:
        line, column = exc.position
        reason = str(exc).split(":")[0]
        raise UserError(f"SSML: {reason} at line {line}, column {column + 1}") from None


def _refusal(exc: DefusedXmlException) -> str:
    kind = type(exc).__name__
    return {
        "DTDForbidden": "it declares a DTD",
        "EntitiesForbidden": "it declares entities",
        "ExternalReferenceForbidden": "it refers to an external resource",
    }.get(kind, kind)


def _name(element: ET.Element) -> str:
    tag = element.tag if isinstance(element.tag, str) else ""
    return tag.rsplit("}", 1)[-1]


def _walk(element: ET.Element, style: Style, markup: Markup, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise UserError(f"SSML: elements nested more than {MAX_DEPTH} deep")
    name = _name(element)
    _check_attribute_lengths(element)
    handler = HANDLERS.get(name)
    if handler is None:
        markup.warn(f"SSML <{name}> is not supported: its text is read as it is")
        _children(element, style, markup, depth)
    else:
        handler(element, style, markup, depth)
    if element.tail and element.tail.strip():
        markup.spans.append(Say(element.tail, style))  # the tail is the parent's text


def _check_attribute_lengths(element: ET.Element) -> None:
    for key, value in element.attrib.items():
        if len(value) > MAX_ATTRIBUTE:
            raise UserError(f"SSML: <{_name(element)} {key.rsplit('}', 1)[-1]}> is longer "
                            f"than {MAX_ATTRIBUTE} characters")  # fmt: skip


def _children(element: ET.Element, style: Style, markup: Markup, depth: int) -> None:
    if element.text and element.text.strip():
        markup.spans.append(Say(element.text, style))
    for child in element:
        _walk(child, style, markup, depth + 1)


def _attributes(element: ET.Element, known: tuple[str, ...], markup: Markup) -> dict[str, str]:
    values = {}
    for key, value in element.attrib.items():
        short = key.rsplit("}", 1)[-1]
        if short in known:
            values[short] = value.strip()
        elif short not in ("lang", "base", "id", "version", "schemaLocation"):
            markup.warn(f"SSML <{_name(element)} {short}> is not supported: it is ignored")
    return values


# --- elements -------------------------------------------------------------------------------


def _speak(element: ET.Element, style: Style, markup: Markup, depth: int) -> None:
    _attributes(element, (), markup)
    _children(element, style, markup, depth)


def _paragraph(element: ET.Element, style: Style, markup: Markup, depth: int) -> None:
    _attributes(element, (), markup)
    markup.spans.append(Boundary(paragraph=True))
    _children(element, style, markup, depth)
    markup.spans.append(Boundary(paragraph=True))


def _sentence(element: ET.Element, style: Style, markup: Markup, depth: int) -> None:
    _attributes(element, (), markup)
    markup.spans.append(Boundary())
    _children(element, style, markup, depth)
    markup.spans.append(Boundary())


def _break(element: ET.Element, style: Style, markup: Markup, depth: int) -> None:
    values = _attributes(element, ("time", "strength"), markup)
    if "time" in values:
        seconds = parse_time(values["time"])
    else:
        strength = values.get("strength", "medium")
        if strength not in BREAK_STRENGTHS:
            raise UserError(
                f"SSML <break strength={strength!r}>: one of {', '.join(BREAK_STRENGTHS)}"
            )
        seconds = BREAK_STRENGTHS[strength]
    markup.spans.append(Pause(seconds))


def parse_time(value: str) -> float:
    match = re.fullmatch(rf"({_NUMBER})\s*(ms|s)", value.strip())
    if not match:
        raise UserError(
            f"SSML <break time={value!r}>: write seconds or milliseconds, e.g. 1.5s, 700ms"
        )
    seconds = float(match[1]) / (1000 if match[2] == "ms" else 1)
    if not 0 <= seconds <= MAX_BREAK_SECONDS:
        raise UserError(f"SSML <break time={value!r}>: between 0 and {MAX_BREAK_SECONDS:g} s")
    return seconds


def _prosody(element: ET.Element, style: Style, markup: Markup, depth: int) -> None:
    values = _attributes(
        element, ("rate", "pitch", "volume", "contour", "range", "duration"), markup
    )
    for unsupported in ("contour", "range", "duration"):
        if unsupported in values:
            markup.warn(f"SSML <prosody {unsupported}> is not supported: it is ignored")
    inner = style
    if "rate" in values:
        inner = replace(inner, rate=inner.rate * _factor(values["rate"], RATES, "rate"))
    if "pitch" in values:
        inner = replace(inner, pitch=inner.pitch * _pitch(values["pitch"]))
    if "volume" in values:
        inner = replace(inner, volume_db=inner.volume_db + _volume(values["volume"]))
    _children(element, inner, markup, depth)


def _factor(value: str, named: dict[str, float], what: str) -> float:
    """A named value, a percentage (``150%`` of the default, ``+10%`` more), or a number."""
    if value in named:
        return named[value]
    match = re.fullmatch(rf"({_NUMBER})(%?)", value)
    if not match:
        raise UserError(f"SSML <prosody {what}={value!r}>: a name ({', '.join(named)}), a "
                        "percentage (150%, +10%) or a number")  # fmt: skip
    number = float(match[1])
    relative = value[0] in "+-"
    factor = (1 + number / 100 if relative else number / 100) if match[2] else number
    if not 0.1 <= factor <= 10:
        raise UserError(f"SSML <prosody {what}={value!r}>: outside 10%-1000%")
    return factor


def _pitch(value: str) -> float:
    match = re.fullmatch(rf"({_NUMBER})st", value)
    if match:
        return 2 ** (float(match[1]) / 12)
    if re.fullmatch(rf"{_NUMBER}Hz", value):
        raise UserError(f"SSML <prosody pitch={value!r}>: give pitch relative to the voice "
                        "(+20%, -2st, high), not in Hz")  # fmt: skip
    return _factor(value, PITCHES, "pitch")


def _volume(value: str) -> float:
    if value in VOLUMES:
        return VOLUMES[value]
    match = re.fullmatch(rf"({_NUMBER})dB", value)
    if match:
        return float(match[1])
    factor = _factor(value, {}, "volume")
    return 20 * math.log10(factor)


def _emphasis(element: ET.Element, style: Style, markup: Markup, depth: int) -> None:
    values = _attributes(element, ("level",), markup)
    level = values.get("level", "moderate")
    if level not in EMPHASES:
        raise UserError(f"SSML <emphasis level={level!r}>: one of {', '.join(EMPHASES)}")
    _children(element, replace(style, emphasis=level), markup, depth)


def _sub(element: ET.Element, style: Style, markup: Markup, depth: int) -> None:
    values = _attributes(element, ("alias",), markup)
    if "alias" not in values:
        raise UserError('SSML <sub> needs alias="what to say"')
    markup.spans.append(Say(values["alias"], style))


def _mark(element: ET.Element, style: Style, markup: Markup, depth: int) -> None:
    values = _attributes(element, ("name",), markup)
    if not values.get("name"):
        raise UserError('SSML <mark> needs name="..."')
    markup.spans.append(Mark(values["name"]))


def _phoneme(element: ET.Element, style: Style, markup: Markup, depth: int) -> None:
    values = _attributes(element, ("alphabet", "ph"), markup)
    text = "".join(element.itertext()).strip()
    if "ph" not in values:
        raise UserError('SSML <phoneme> needs ph="..."')
    alphabet = values.get("alphabet", "ipa")
    if alphabet == "ipa":
        phonemes = ipa_to_arpabet(values["ph"])
    elif alphabet in ("x-arpabet", "arpabet", "x-cmu"):
        phonemes = arpabet(values["ph"])
    else:
        raise UserError(f"SSML <phoneme alphabet={alphabet!r}>: ipa or x-arpabet")
    markup.spans.append(Say(text or values["ph"], style, phonemes))


def arpabet(written: str) -> tuple[str, ...]:
    symbols = tuple(s.upper() for s in written.replace(",", " ").split())
    wrong = [s for s in symbols if not is_phoneme(s)]
    if wrong or not symbols:
        raise UserError(f"ARPAbet {written!r}: {wrong[0] if wrong else 'empty'} is not a phoneme "
                        "(use symbols with stress digits, e.g. HH AH0 L OW1)")  # fmt: skip
    return symbols


def _say_as(element: ET.Element, style: Style, markup: Markup, depth: int) -> None:
    values = _attributes(element, ("interpret-as", "format", "detail"), markup)
    kind = values.get("interpret-as", "")
    text = "".join(element.itertext()).strip()
    reader = SAY_AS.get(kind)
    if reader is None:
        markup.warn(f"SSML <say-as interpret-as={kind!r}> is not supported: the text is read")
        spoken = text
    else:
        spoken = reader(text, values.get("format", ""))
    markup.spans.append(Say(spoken, style))


def _characters(text: str, _: str) -> str:
    return " ".join(ch for ch in text if not ch.isspace())


def _digits(text: str, _: str) -> str:
    digits = [ch for ch in text if ch.isdigit()]
    if not digits:
        raise UserError(f'SSML <say-as interpret-as="digits">{text}: no digits')
    return " ".join(digits)


def _cardinal(text: str, _: str) -> str:
    cleaned = text.replace(",", "")
    if not re.fullmatch(rf"{_NUMBER}", cleaned):
        raise UserError(f'SSML <say-as interpret-as="cardinal">{text}: not a number')
    return cleaned


def _ordinal(text: str, _: str) -> str:
    number = text.replace(",", "").rstrip(".")
    number = re.sub(r"(st|nd|rd|th)$", "", number)
    if not number.isdigit():
        raise UserError(f'SSML <say-as interpret-as="ordinal">{text}: not a whole number')
    return number + _ordinal_suffix(int(number))


def _ordinal_suffix(n: int) -> str:
    if 10 <= n % 100 <= 20:
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")


def _date(text: str, format: str) -> str:
    """``format`` names the fields' order: mdy (the default), dmy, ymd, md, dm, ym, my, y,
    m, d; numbers are separated by / - . or spaces."""
    format = (format or "mdy").lower()
    parts = [p for p in re.split(r"[/\-. ]+", text.strip()) if p]
    if len(parts) != len(format) or not all(p.isdigit() for p in parts) or set(format) - set("dmy"):
        raise UserError(f"SSML <say-as interpret-as=\"date\" format={format!r}>{text}: expected "
                        f"{len(format)} numbers in that order")  # fmt: skip
    fields = dict(zip(format, map(int, parts), strict=True))
    if "m" in fields and not 1 <= fields["m"] <= 12:
        raise UserError(f'SSML <say-as interpret-as="date">{text}: no month {fields["m"]}')
    if "d" in fields and not 1 <= fields["d"] <= 31:
        raise UserError(f'SSML <say-as interpret-as="date">{text}: no day {fields["d"]}')
    if {"d", "m", "y"} <= set(fields):
        try:
            date(fields["y"], fields["m"], fields["d"])
        except ValueError:
            raise UserError(f'SSML <say-as interpret-as="date">{text}: no such date') from None
    words = []
    if "m" in fields:
        words.append(MONTHS[fields["m"] - 1])
    if "d" in fields:
        words.append(
            f"{fields['d']}{_ordinal_suffix(fields['d'])}" + ("," if "y" in fields else "")
        )
    if "y" in fields:
        words.append(str(fields["y"]))
    return " ".join(words)


def _time(text: str, _: str) -> str:
    match = re.fullmatch(r"(\d{1,2})(?::(\d{2}))?(?::(\d{2}))?\s*([AaPp]\.?[Mm]\.?)?", text.strip())
    if not match:
        raise UserError(
            f'SSML <say-as interpret-as="time">{text}: expected H:MM, e.g. 9:30 or 9:30pm'
        )
    hours, minutes = int(match[1]), int(match[2] or 0)
    if hours > 23 or minutes > 59:
        raise UserError(f'SSML <say-as interpret-as="time">{text}: no such time')
    said = [str(hours)]
    if minutes:
        said.append(f"oh {minutes}" if minutes < 10 else str(minutes))
    elif not match[4]:
        said.append("o'clock")
    if match[4]:
        said.append("a m" if match[4][0] in "Aa" else "p m")
    return " ".join(said)


def _telephone(text: str, _: str) -> str:
    groups = re.findall(r"\d+", text)
    if not groups:
        raise UserError(f'SSML <say-as interpret-as="telephone">{text}: no digits')
    lead = "plus " if text.strip().startswith("+") else ""
    return lead + ", ".join(" ".join(group) for group in groups)


SAY_AS = {
    "characters": _characters,
    "spell-out": _characters,
    "digits": _digits,
    "cardinal": _cardinal,
    "number": _cardinal,
    "ordinal": _ordinal,
    "date": _date,
    "time": _time,
    "telephone": _telephone,
}
HANDLERS = {
    "speak": _speak,
    "p": _paragraph,
    "paragraph": _paragraph,
    "s": _sentence,
    "sentence": _sentence,
    "break": _break,
    "prosody": _prosody,
    "emphasis": _emphasis,
    "sub": _sub,
    "mark": _mark,
    "phoneme": _phoneme,
    "say-as": _say_as,
}
