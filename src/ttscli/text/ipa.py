"""IPA read as ARPAbet (General American), for ``<phoneme alphabet="ipa">`` and IPA
entries of a pronunciation lexicon. Stress marks (ˈ primary, ˌ secondary) stress the next
vowel; a vowel without one is unstressed (0)."""

from __future__ import annotations

from ttscli.util.errors import UserError

VOWELS = {
    "aɪ": "AY", "aʊ": "AW", "eɪ": "EY", "oʊ": "OW", "əʊ": "OW", "ɔɪ": "OY", "ɪə": "IH",
    "ɑː": "AA", "ɑ": "AA", "ɒ": "AA", "æ": "AE", "ʌ": "AH", "ə": "AH", "ɐ": "AH",
    "ɔː": "AO", "ɔ": "AO", "ɛ": "EH", "e": "EH", "ɜː": "ER", "ɜ": "ER", "ɝ": "ER", "ɚ": "ER",
    "ɪ": "IH", "ᵻ": "IH", "iː": "IY", "i": "IY", "ʊ": "UH", "uː": "UW", "u": "UW", "o": "OW",
    "a": "AA",
}  # fmt: skip
CONSONANTS = {
    "tʃ": "CH", "dʒ": "JH", "b": "B", "d": "D", "ð": "DH", "f": "F", "ɡ": "G", "g": "G",
    "h": "HH", "k": "K", "l": "L", "ɫ": "L", "m": "M", "n": "N", "ŋ": "NG", "p": "P",
    "ɹ": "R", "r": "R", "ɾ": "T", "s": "S", "ʃ": "SH", "t": "T", "θ": "TH", "v": "V",
    "w": "W", "j": "Y", "z": "Z", "ʒ": "ZH", "ʔ": "T",
}  # fmt: skip
IGNORED = set("ː.‿ ̩͡")
PRIMARY, SECONDARY = "ˈ", "ˌ"
_LONGEST = max(len(k) for k in (*VOWELS, *CONSONANTS))


def ipa_to_arpabet(ipa: str) -> tuple[str, ...]:
    """ARPAbet symbols (vowels with stress digits) for an IPA transcription."""
    symbols: list[str] = []
    stress = "0"
    position = 0
    text = ipa.strip().strip("/[]")
    while position < len(text):
        char = text[position]
        if char in (PRIMARY, "'"):
            stress, position = "1", position + 1
            continue
        if char == SECONDARY:
            stress, position = "2", position + 1
            continue
        if char.isspace() or char in IGNORED:
            position += 1
            continue
        for size in range(_LONGEST, 0, -1):
            piece = text[position : position + size]
            if piece in VOWELS:
                symbols.append(VOWELS[piece] + stress)
                stress = "0"
                break
            if piece in CONSONANTS:
                symbols.append(CONSONANTS[piece])
                break
        else:
            raise UserError(f"IPA {ipa!r}: no English sound for {char!r}")
        position += size
    if not symbols:
        raise UserError(f"IPA {ipa!r}: no sounds in it")
    return tuple(symbols)
