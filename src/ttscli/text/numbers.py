"""Numbers as English words.

Written here rather than taken from inflect or num2words so that the front-end has no
extra dependency and its output (American style, no "and") never changes under us.
"""

from __future__ import annotations

_ONES = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen",
)  # fmt: skip
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_SCALES = ("", "thousand", "million", "billion", "trillion", "quadrillion", "quintillion")
_MAX_DIGITS = 3 * len(_SCALES)
"""Beyond quintillions nobody says the number; such strings are read digit by digit."""

_IRREGULAR_ORDINALS = {
    "one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
    "nine": "ninth", "twelve": "twelfth",
}  # fmt: skip


def cardinal(n: int) -> str:
    """``1234`` -> ``one thousand two hundred thirty-four``."""
    if n < 0:
        return "minus " + cardinal(-n)
    if n == 0:
        return "zero"
    if len(str(n)) > _MAX_DIGITS:
        return spell_digits(str(n))
    groups: list[str] = []
    scale = 0
    while n:
        n, chunk = divmod(n, 1000)
        if chunk:
            groups.append(_below_thousand(chunk) + (f" {_SCALES[scale]}" if scale else ""))
        scale += 1
    return " ".join(reversed(groups))


def _below_thousand(n: int) -> str:
    hundreds, rest = divmod(n, 100)
    words = [f"{_ONES[hundreds]} hundred"] if hundreds else []
    if rest:
        words.append(_below_hundred(rest))
    return " ".join(words)


def _below_hundred(n: int) -> str:
    if n < 20:
        return _ONES[n]
    tens, ones = divmod(n, 10)
    return _TENS[tens] + (f"-{_ONES[ones]}" if ones else "")


def spell_digits(digits: str) -> str:
    """``"0042"`` -> ``zero zero four two``: for codes, where place value means nothing."""
    return " ".join(_ONES[int(d)] for d in digits if d.isdigit())


def integer(digits: str) -> str:
    """Read a digit string, keeping leading zeros audible ("007" is not "seven")."""
    if (len(digits) > 1 and digits.startswith("0")) or len(digits) > _MAX_DIGITS:
        return spell_digits(digits)
    return cardinal(int(digits))


def decimal(text: str) -> str:
    """``"-3.14"`` -> ``minus three point one four``; commas as thousands separators allowed."""
    negative = text.startswith("-")
    whole, _, fraction = text.lstrip("-").replace(",", "").partition(".")
    words = integer(whole) if whole else ""
    if fraction:
        words = f"{words} point {spell_digits(fraction)}".strip()
    return f"minus {words}" if negative else words


def ordinal(n: int) -> str:
    """``22`` -> ``twenty-second``: only the last word of the cardinal changes."""
    words = cardinal(n)
    head, sep, last = words.rpartition(" ")
    prefix, hyphen, unit = last.rpartition("-")
    if unit in _IRREGULAR_ORDINALS:
        unit = _IRREGULAR_ORDINALS[unit]
    elif unit.endswith("y"):
        unit = unit[:-1] + "ieth"
    else:
        unit += "th"
    return f"{head}{sep}{prefix}{hyphen}{unit}"


def year(n: int) -> str:
    """Read a year the way people say it: ``1984`` -> ``nineteen eighty-four``.

    2000-2009 are said as cardinals ("two thousand five"); other years as two pairs, with
    "hundred" for round centuries and "oh" for single-digit second halves ("nineteen oh five").
    """
    if 2000 <= n <= 2009 or not 1000 <= n <= 9999:
        return cardinal(n)
    century, rest = divmod(n, 100)
    if rest == 0:
        return f"{cardinal(century)} hundred"
    if rest < 10:
        return f"{cardinal(century)} oh {cardinal(rest)}"
    return f"{cardinal(century)} {cardinal(rest)}"


def plural(words: str) -> str:
    """``nineteen eighty`` -> ``nineteen eighties``, for decades such as "the 1980s"."""
    if words.endswith("y"):
        return words[:-1] + "ies"
    if words.endswith(("x", "s")):
        return words + "es"
    return words + "s"
