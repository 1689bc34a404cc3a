"""The phoneme inventory every FastSpeech 2 checkpoint is trained on.

The list is stored in each checkpoint's config, so a model always knows the exact
symbols it was trained with; this module only defines the inventory new models use.
"""

from __future__ import annotations

PAD = "_"
SHORT_PAUSE = "sp"
"""Pause inside a sentence (comma, semicolon, colon, dash, brackets)."""
SENTENCE_ENDS = (".", "?", "!")
"""Sentence-final tokens: a pause that also tells the model the intonation to use."""

_VOWELS = tuple("AA AE AH AO AW AY EH ER EY IH IY OW OY UH UW".split())
_CONSONANTS = tuple("B CH D DH F G HH JH K L M N NG P R S SH T TH V W Y Z ZH".split())

ARPABET: tuple[str, ...] = tuple(
    [f"{v}{stress}" for v in _VOWELS for stress in "012"] + list(_CONSONANTS)
)
"""ARPAbet with lexical stress on vowels, as CMUdict and g2p_en write it."""

SYMBOLS: tuple[str, ...] = (PAD, SHORT_PAUSE, *SENTENCE_ENDS, *ARPABET)
PAUSE_SYMBOLS: frozenset[str] = frozenset((SHORT_PAUSE, *SENTENCE_ENDS))


def is_phoneme(symbol: str) -> bool:
    """True for a speakable ARPAbet symbol (not padding or a pause)."""
    return symbol in _ARPABET_SET


_ARPABET_SET = frozenset(ARPABET)
