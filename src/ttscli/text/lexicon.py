"""A user's pronunciation lexicon: ``word<TAB>pronunciation`` a line, where the words a voice
gets wrong (names, brands, jargon) are said as the user wants. Entries win over CMUdict and
guessing. For FastSpeech 2 a pronunciation is ARPAbet (``T AH0 M EY1 T OW0``) or IPA
(``təˈmeɪtoʊ``); for Kyutai, which reads text, it is a respelling (``toe-MAH-toe``)."""

from __future__ import annotations

from pathlib import Path

from ttscli.text.ipa import ipa_to_arpabet
from ttscli.text.symbols import is_phoneme
from ttscli.util.errors import UserError, reading

MAX_ENTRIES = 100_000


def read_entries(path: Path) -> dict[str, str]:
    """``word -> pronunciation`` as written; a line that is not ``word<TAB>pronunciation``
    is an error naming the file and the line. Blank lines and ``#`` comments are skipped."""
    with reading(f"lexicon {path}"):
        text = Path(path).read_text(encoding="utf-8")
    entries: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        word, tab, pronunciation = line.partition("\t")
        if not tab or not word.strip() or not pronunciation.strip():
            raise UserError(
                f"lexicon {path}, line {number}: expected WORD<TAB>PRONUNCIATION, got "
                f"{stripped[:60]!r}"
            )
        if " " in word.strip():
            raise UserError(
                f"lexicon {path}, line {number}: {word.strip()!r} is more than one word"
            )
        entries[word.strip().lower()] = pronunciation.strip()
        if len(entries) > MAX_ENTRIES:
            raise UserError(f"lexicon {path}: more than {MAX_ENTRIES} entries")
    return entries


def read_phonetic(path: Path) -> dict[str, tuple[str, ...]]:
    """The lexicon as ARPAbet (for FastSpeech 2): each entry ARPAbet or IPA."""
    phonetic = {}
    for word, written in read_entries(path).items():
        symbols = tuple(s.upper() for s in written.split())
        if symbols and all(map(is_phoneme, symbols)):
            phonetic[word] = symbols
            continue
        try:
            phonetic[word] = ipa_to_arpabet(written)
        except UserError as exc:
            raise UserError(
                f"lexicon {path}: {word!r} is neither ARPAbet with stress digits "
                f"(HH AH0 L OW1) nor IPA ({exc})"
            ) from None
    return phonetic
