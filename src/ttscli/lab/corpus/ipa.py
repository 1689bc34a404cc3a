"""ARPAbet with stress, written in the espeak-ng en-us IPA the teacher voice learnt.

The voice was trained on espeak's allophones and stress marks, so writing them makes it
speak naturally while our label stays the phoneme.
"""

from __future__ import annotations

from collections.abc import Sequence

from ttscli.lab.corpus.words import Item, Word
from ttscli.text.symbols import ARPABET, SENTENCE_ENDS, SHORT_PAUSE

MAPPING_VERSION = 1
"""Bump whenever the mapping changes: it is stored in ``corpus.json`` so a resumed run
never mixes audio made from two different mappings."""

_VOWEL_IPA = {
    "AA": "ɑː", "AE": "æ", "AH": "ʌ", "AO": "ɔː", "AW": "aʊ", "AY": "aɪ", "EH": "ɛ",
    "ER": "ɜː", "EY": "eɪ", "IH": "ɪ", "IY": "iː", "OW": "oʊ", "OY": "ɔɪ", "UH": "ʊ",
    "UW": "uː",
}  # fmt: skip
_UNSTRESSED_VOWEL_IPA = {"AH": "ə", "ER": "ɚ", "IY": "i"}
"""espeak writes these reduced when unstressed: "sofa" sˈoʊfə, "butter" bˈʌɾɚ, "city" sˈɪɾi."""
_CONSONANT_IPA = {
    "B": "b", "CH": "tʃ", "D": "d", "DH": "ð", "F": "f", "G": "ɡ", "HH": "h", "JH": "dʒ",
    "K": "k", "L": "l", "M": "m", "N": "n", "NG": "ŋ", "P": "p", "R": "ɹ", "S": "s",
    "SH": "ʃ", "T": "t", "TH": "θ", "V": "v", "W": "w", "Y": "j", "Z": "z", "ZH": "ʒ",
}  # fmt: skip


def _base_ipa(symbol: str) -> str:
    core, stress = symbol.rstrip("012"), symbol[len(symbol.rstrip("012")) :]
    if not stress:
        return _CONSONANT_IPA[core]
    if stress == "0" and core in _UNSTRESSED_VOWEL_IPA:
        return _UNSTRESSED_VOWEL_IPA[core]
    return _VOWEL_IPA[core]


ARPABET_TO_IPA: dict[str, str] = {symbol: _base_ipa(symbol) for symbol in ARPABET}
"""Context-free IPA of each ARPAbet symbol, without stress marks (``phone_ipa`` adds those
and the contextual variants below)."""
PAUSE_IPA = {SHORT_PAUSE: ",", **{end: end for end in SENTENCE_ENDS}}
CONTEXT_IPA = ("ɾ", "ɐ", "ᵻ", "ɹ", "ˈ", "ˌ", " ", ",")
"""Every other character ``phone_ipa`` / ``utterance_ipa`` can emit (flap, reduced a and i,
linking r, stress marks, word and clause separators)."""

PRIMARY, SECONDARY = "ˈ", "ˌ"

# Words espeak-ng en-us leaves without primary stress in running speech. Derived by running
# ``voice.phonemize`` over lj_train.txt and keeping the sentences where espeak's word count
# equals ours (5,950 of 12,500): words seen at least 5 times, stressed in under half of
# them, split by what espeak did most (no stress / secondary). CMUdict stresses them all
# ("to" T UW1, "for" F AO1 R), and a teacher stressing every "to" and "for" sounds wrong.
UNSTRESSED_WORDS = frozenset(
    "a an and are as at be by can could de for from get gone got had has have he her his i "
    "i'm if in is it its my of or per she than that the their there these they this those "
    "through to was we went were what when will with would you your".split()
)
SECONDARY_WORDS = frozenset(
    "about above across already among amongst any became become becomes been before behind "
    "being below beneath besides between beyond but doing down getting go going having him "
    "how into made make making me might near nearly not on onto our over put san shall "
    "should sir so some them though thy together under up upon us whenever where which "
    "while who whose why within without".split()
)
_SUFFIX_ONSETS = {"D": frozenset(("T", "D")), "Z": frozenset(("S", "Z", "SH", "ZH", "CH", "JH"))}
"""-ed after t/d and -es after a sibilant: espeak writes their vowel ᵻ ("wanted" wˈɔntᵻd)."""


def _stress(symbol: str) -> str:
    return symbol[-1] if symbol[-1:].isdigit() else ""


def _is_vowel(symbol: str | None) -> bool:
    return symbol is not None and symbol[-1:].isdigit()


def phone_ipa(word: str, phones: Sequence[str], i: int, following: str | None = None) -> str:
    """IPA for ``phones[i]`` of ``word``, in the style espeak-ng gives the teacher.

    The voice learnt espeak's allophones, so writing them makes it speak naturally while our
    label stays the phoneme: T between a vowel (or R) and an unstressed vowel is a flap ɾ
    ("butter", "city", "party"; espeak never flaps D); word-initial AH0 is ɐ ("about", "a"),
    the -ed/-es vowel is ᵻ; ER before a vowel links with ɹ ("matter of" mˈæɾɚɹ ʌv). Stress
    marks go right before the vowel, as espeak writes them ("kˈæt"), except in the function
    words espeak reduces (``UNSTRESSED_WORDS``, ``SECONDARY_WORDS``). ``following`` is the
    first phoneme of the next word when no pause comes between.
    """
    symbol = phones[i]
    previous = phones[i - 1] if i > 0 else None
    after = phones[i + 1] if i + 1 < len(phones) else None
    ipa = ARPABET_TO_IPA[symbol]
    if symbol == "T" and (_is_vowel(previous) or previous == "R") and _stress(after or "") == "0":
        ipa = "ɾ"
    elif symbol == "AH0" and i == 0 and (word == "a" or word not in UNSTRESSED_WORDS):
        ipa = "ɐ"  # but "and", "an", "as": espeak keeps their full vowel
    elif (
        symbol in ("IH0", "AH0")
        and i == len(phones) - 2
        and previous in _SUFFIX_ONSETS.get(phones[-1], ())
    ):
        ipa = "ᵻ"
    if symbol.startswith("ER") and _is_vowel(after if after is not None else following):
        ipa += "ɹ"
    stress = _stress(symbol)
    if stress in ("", "0") or word in UNSTRESSED_WORDS:
        return ipa
    return (SECONDARY if stress == "2" or word in SECONDARY_WORDS else PRIMARY) + ipa


def utterance_ipa(items: Sequence[Item]) -> tuple[list[str], list[str], list[int]]:
    """Flatten ``items`` to our symbols, the teacher's IPA characters, and for each character
    the index of the symbol it belongs to.

    A word-separating space belongs to the phoneme before it; a pause owns its punctuation
    and the space after it (espeak writes "sˈɪɾi, ðə"; sentences inside a line are joined
    the same way, ". ").
    """
    symbols: list[str] = []
    chars: list[str] = []
    owners: list[int] = []
    for n, item in enumerate(items):
        following = items[n + 1] if n + 1 < len(items) else None
        if isinstance(item, Word):
            after = following.phones[0] if isinstance(following, Word) else None
            for i, phone in enumerate(item.phones):
                symbols.append(phone)
                for char in phone_ipa(item.text, item.phones, i, after):
                    chars.append(char)
                    owners.append(len(symbols) - 1)
            separator = " " if isinstance(following, Word) else ""  # a pause writes its own
        else:
            symbols.append(item.symbol)
            separator = PAUSE_IPA[item.symbol] + (" " if following is not None else "")
        for char in separator:
            chars.append(char)
            owners.append(len(symbols) - 1)
    return symbols, chars, owners
