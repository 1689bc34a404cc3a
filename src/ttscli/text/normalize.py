"""English text normalisation: written text in, words a speaker would say out.

The acoustic model only knows phonemes, and g2p only knows words, so everything written
with digits or symbols ("$5.50", "1984", "Dr.", "3rd") must become words first. Sentence
punctuation (. , ; : ? ! - ( ) ") is kept: the sentence splitter and the pause mapping
downstream need it.

Characters in the Unicode private-use area pass through untouched, so a caller can protect
spans (inline phonemes) by swapping them for such placeholders before normalising.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from ttscli.text import numbers

_NUM = r"(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?"
"""A written number: plain or with thousands separators, optionally with decimals."""

_CHAR_MAP = str.maketrans(
    {
        "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
        "\u00b4": "'", "`": "'",
        "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u00ab": '"',
        "\u00bb": '"', "\u2033": '"',
        "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2212": "-",
        "\u2014": " - ", "\u2015": " - ",
        "\u2044": "/", "\u00d7": " times ",
        "\u00df": "ss", "\u00e6": "ae", "\u00c6": "Ae", "\u0153": "oe", "\u0152": "Oe",
        "\u00f8": "o", "\u00d8": "O", "\u0142": "l", "\u0141": "L", "\u0111": "d",
        "\u0110": "D", "\u00f0": "d", "\u00d0": "D", "\u00fe": "th", "\u00de": "Th",
    }
)  # fmt: skip
"""Typographic characters with an ASCII reading (NFKD alone leaves these alone)."""

_NOT_KEPT_UNICODE = re.compile(r"[^\x00-\x7f£€¥°\ue000-\uf8ff]")


def _fold_unicode(text: str) -> str:
    """Fold to ASCII, keeping currency and degree signs for the rules below."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return _NOT_KEPT_UNICODE.sub(" ", text.translate(_CHAR_MAP))


_ENDS_SENTENCE = re.compile(r"[^\S\n]*(?:\n|$)|\s+[\"'(]*[A-Z]")


def _period_if_final(match: re.Match[str]) -> str:
    """An abbreviation's period may also end the sentence ("... and so on, etc. Then")."""
    return "." if _ENDS_SENTENCE.match(match.string, match.end()) else ""


def _sub(
    pattern: str, replace: str | Callable[[re.Match[str]], str], flags: int = 0
) -> Callable[[str], str]:
    """A rewrite step: compiled once, applied in order by ``normalize``."""
    compiled = re.compile(pattern, flags)
    return lambda text: compiled.sub(replace, text)


# --- abbreviations -------------------------------------------------------------------------

_TITLES = {
    "Mr": "Mister", "Mrs": "Missus", "Ms": "Miz", "Dr": "Doctor", "Prof": "Professor",
    "Capt": "Captain", "Lt": "Lieutenant", "Col": "Colonel", "Gen": "General",
    "Sgt": "Sergeant", "Gov": "Governor", "Sen": "Senator", "Rev": "Reverend", "Mt": "Mount",
}  # fmt: skip
"""Titles come before a name, so their period never ends a sentence."""


def _title(match: re.Match[str]) -> str:
    return _TITLES[match.group(1)]


def _saint_or_street(match: re.Match[str]) -> str:
    """ "St. Louis" is a saint; "Baker St." (after a capitalised word) is a street."""
    text = match.string
    if re.match(r"\s+[A-Z]", text[match.end() :]):
        return "Saint"
    if re.search(r"[A-Z][a-z]+\s+$", text[: match.start()]):
        return "Street" + _period_if_final(match)
    return "Saint"


def _suffix_abbreviation(words: str) -> Callable[[re.Match[str]], str]:
    def replace(match: re.Match[str]) -> str:
        had_period = match.group().endswith(".")
        return words + (_period_if_final(match) if had_period else "")

    return replace


def _am_pm(match: re.Match[str]) -> str:
    had_period = match.group().endswith(".")
    return f"{match.group(1).upper()} M" + (_period_if_final(match) if had_period else "")


def _dotted_acronym(match: re.Match[str]) -> str:
    """ "U.S.A." -> "U S A": single capitals are read as letter names by g2p."""
    letters = " ".join(ch.upper() for ch in match.group() if ch.isalpha())
    return letters + _period_if_final(match)


_ABBREVIATIONS = [
    _sub(r"\b(Mr|Mrs|Ms|Dr)\.", _title),
    _sub(r"\b(Mr|Mrs|Ms|Dr)\b(?=\s+[A-Z])", _title),
    _sub(r"\b(" + "|".join(_TITLES) + r")\.(?=\s+[A-Z])", _title),
    _sub(r"\bSt(?:\.|(?=\s+[A-Z]))", _saint_or_street),
    _sub(r"\bJr\b\.?", _suffix_abbreviation("Junior")),
    _sub(r"\bSr\b\.?", _suffix_abbreviation("Senior")),
    _sub(r"\betc\b\.?", _suffix_abbreviation("et cetera"), re.IGNORECASE),
    _sub(r"\bvs\b\.?", "versus", re.IGNORECASE),
    _sub(r"\be\.\s?g\b\.?", "for example", re.IGNORECASE),
    _sub(r"\bi\.\s?e\b\.?", "that is", re.IGNORECASE),
    _sub(r"\b(N)o\.\s?(?=\d)", r"\1umber ", re.IGNORECASE),
    _sub(r"#(?=\d)", "number "),
    _sub(r"\b([ap])\.\s?m\.", _am_pm, re.IGNORECASE),
    _sub(r"(?<=\d)\s*([ap])\.?m\b\.?", lambda m: " " + _am_pm(m), re.IGNORECASE),
    _sub(r"\b(?:[A-Za-z]\.){2,}", _dotted_acronym),
    _sub(r"\b([A-Z])\.(?=\s+[A-Z])", r"\1"),  # initials: "J. R. R. Tolkien"
    _sub(r"&", " and "),
]

# --- numbers with units or special readings ----------------------------------------------

_MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip


def _date(year: str, month: str, day: str) -> str | None:
    m, d = int(month), int(day)
    if not (1 <= m <= 12 and 1 <= d <= 31):
        return None
    return f"{_MONTHS[m - 1]} {numbers.ordinal(d)}, {_year_or_number(year)}"


def _iso_date(match: re.Match[str]) -> str:
    return _date(*match.groups()) or match.group().replace("-", " ")


def _slash_date(match: re.Match[str]) -> str:
    """US order unless the first part cannot be a month ("25/12/2020")."""
    first, second, year = match.groups()
    month, day = (second, first) if int(first) > 12 else (first, second)
    if len(year) == 2:
        year = ("20" if int(year) < 50 else "19") + year
    return _date(year, month, day) or match.group().replace("/", " ")


def _phone_number(match: re.Match[str]) -> str:
    """Phone numbers are read digit by digit, a short pause between groups."""
    return ", ".join(numbers.spell_digits(group) for group in re.findall(r"\d+", match.group()))


def _time(match: re.Match[str]) -> str:
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour > 24 or minute > 59:
        return match.group()
    if minute == 0:
        if re.match(r"\s*[AaPp]\.?[Mm]\b", match.string[match.end() :]):
            return numbers.cardinal(hour)
        return numbers.cardinal(hour) + (" hundred" if hour > 12 else " o'clock")
    if minute < 10:
        return f"{numbers.cardinal(hour)} oh {numbers.cardinal(minute)}"
    return f"{numbers.cardinal(hour)} {numbers.cardinal(minute)}"


_CURRENCIES = {
    "$": ("dollar", "dollars", "cent", "cents"),
    "£": ("pound", "pounds", "penny", "pence"),
    "€": ("euro", "euros", "cent", "cents"),
    "¥": ("yen", "yen", "sen", "sen"),
}
_SCALE_WORDS = {"k": "thousand", "m": "million", "b": "billion", "bn": "billion"}


def _money(match: re.Match[str]) -> str:
    """Money as said: "$5.50" -> "five dollars, fifty cents".

    With a scale word the amount is a decimal: "$2.5 million" -> "two point five million
    dollars".
    """
    sign, symbol, amount, scale = match.groups()
    one, many, one_minor, many_minor = _CURRENCIES[symbol]
    prefix = "minus " if sign else ""
    if scale:
        scale = _SCALE_WORDS.get(scale.lower(), scale.lower())
        return f"{prefix}{numbers.decimal(amount)} {scale} {many}"
    whole, _, fraction = amount.replace(",", "").partition(".")
    if len(fraction) > 2:
        return f"{prefix}{numbers.decimal(amount)} {many}"
    units = int(whole)
    minor = int(fraction.ljust(2, "0")) if fraction else 0
    parts = []
    if units or not minor:
        parts.append(f"{numbers.integer(whole)} {one if units == 1 else many}")
    if minor:
        parts.append(f"{numbers.cardinal(minor)} {one_minor if minor == 1 else many_minor}")
    return prefix + ", ".join(parts)


def _percent(match: re.Match[str]) -> str:
    return ("minus " if match.group(1) else "") + numbers.decimal(match.group(2)) + " percent"


def _fraction(match: re.Match[str]) -> str:
    whole, top, bottom = match.group(1), int(match.group(2)), int(match.group(3))
    if not 2 <= bottom <= 10:
        words = f"{numbers.cardinal(top)} over {numbers.cardinal(bottom)}"
    else:
        name = {2: "half", 4: "quarter"}.get(bottom) or numbers.ordinal(bottom)
        if top != 1:
            name = "halves" if bottom == 2 else name + "s"
        words = f"{numbers.cardinal(top)} {name}"
    return f"{numbers.integer(whole)} and {words}" if whole else words


def _decade(match: re.Match[str]) -> str:
    """ "1980s" -> "nineteen eighties", "'90s" -> "nineties"."""
    return numbers.plural(_year_or_number(match.group(1)))


def _year_or_number(digits: str) -> str:
    if len(digits) == 4 and 1100 <= int(digits) <= 2099:
        return numbers.year(int(digits))
    return numbers.integer(digits)


def _number(match: re.Match[str]) -> str:
    """Four digits alone in a plausible range are a year; anything else a cardinal."""
    text = match.group()
    if text.isdigit() and len(text) == 4:
        return _year_or_number(text)
    return numbers.decimal(text)


_NUMBER_RULES = [
    _sub(r"\b(\d{4})-(\d{2})-(\d{2})\b", _iso_date),
    _sub(r"\b(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})\b", _slash_date),
    _sub(r"(?<![\d-])(?:\(\d{3}\)\s?|\d{3}-)?\d{3}-\d{4}(?![\d-])", _phone_number),
    _sub(r"(?<=\d)-(?=\d)", " to "),  # ranges: "pages 10-20"
    _sub(r"\b(\d{1,2}):(\d{2})\b(?!:\d)", _time),
    _sub(
        rf"((?<![\w)])-)?([$£€¥])\s?({_NUM})(?:\s?(thousand|million|billion|trillion|bn|[kmb])\b)?",
        _money,
        re.IGNORECASE,
    ),
    _sub(rf"((?<![\w)])-)?({_NUM})\s?%", _percent),
    _sub(
        rf"({_NUM})\s?°\s?([CF])\b",
        lambda m: (
            numbers.decimal(m.group(1))
            + (" degrees Celsius" if m.group(2) == "C" else " degrees Fahrenheit")
        ),
    ),
    _sub(
        r"\b(\d{1,3}(?:,\d{3})+|\d+)(?:st|nd|rd|th)\b",
        lambda m: numbers.ordinal(int(m.group(1).replace(",", ""))),
        re.IGNORECASE,
    ),
    _sub(r"(?<!\w)'?(\d0|\d{3}0)'?s\b", _decade),
    _sub(r"(?<![\d/.])(?:(\d{1,2}) )?(\d+)/(\d+)(?![\d/])", _fraction),
    _sub(r"(?<=[A-Za-z])(?=\d)|(?<=\d)(?=[A-Za-z])", " "),  # "mp3", "3D"
    _sub(r"(?<![\w)\]])(?<!\d )-(?=\.?\d)", "minus "),  # not "10 - 20"
    _sub(rf"(?<!\d)(?:\.\d+|{_NUM})", _number),
    _sub(r"\d+", lambda m: numbers.spell_digits(m.group())),  # nothing may survive as digits
]

# --- leftover symbols and tidying --------------------------------------------------------

_SYMBOL_RULES = [
    _sub(r"\+", " plus "),
    _sub(r"=", " equals "),
    _sub(r"@", " at "),
    _sub(r"%", " percent "),
    _sub(r"°", " degrees "),
    _sub(r"(?<=[a-z])\.(?=[a-z]{2,}\b)", " dot "),  # "example.com"
    _sub(r"[\[{]", "("),
    _sub(r"[\]}]", ")"),
    _sub(r"[^A-Za-z'.,;:?!\-()\"\s\ue000-\uf8ff]", " "),
    _sub(r"[^\S\n]+", " "),
    _sub(r" ?\n ?", "\n"),
    _sub(r"\n{3,}", "\n\n"),
]

_STEPS = [*_ABBREVIATIONS, *_NUMBER_RULES, *_SYMBOL_RULES]


def normalize(text: str) -> str:
    """Rewrite ``text`` into speakable English words, keeping sentence punctuation.

    Single newlines are kept and blank lines collapse to one blank line, because the
    sentence splitter reads paragraph breaks from them.
    """
    text = _fold_unicode(text)
    for step in _STEPS:
        text = step(text)
    return text.strip()
