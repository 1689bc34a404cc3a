"""Homographs: words whose pronunciation depends on how they are used ("to record" / "a record").

g2p_en's table (``homographs.en``: word|pron1|pron2|pos) says which reading goes with which
part of speech, but g2p_en picks the part of speech with nltk's tagger, whose model is a
download. This module guesses the part of speech from the neighbouring words instead: a
handful of deterministic rules that get the common patterns right (determiners and
prepositions before nouns; "to", modals, "do" and subject pronouns before verbs; have/be
before participles) and make no claim beyond them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ttscli.text.oov import g2p_en_data_dir
from ttscli.text.symbols import is_phoneme


@dataclass(frozen=True)
class Homograph:
    """``first`` is said when the word's part of speech matches ``pos``, else ``other``."""

    first: tuple[str, ...]
    other: tuple[str, ...]
    pos: str  # "V" (any verb form), "VBD", "VBN", "N" or "ADJ", as in g2p_en's table


def _entry(first: str, other: str, pos: str) -> Homograph:
    return Homograph(tuple(first.split()), tuple(other.split()), pos)


_EXTRA = {
    "lead": _entry("L IY1 D", "L EH1 D", "V"),
    "leads": _entry("L IY1 D Z", "L EH1 D Z", "V"),
    "live": _entry("L IH1 V", "L AY1 V", "V"),
    "lives": _entry("L IH1 V Z", "L AY1 V Z", "V"),
    "wind": _entry("W AY1 N D", "W IH1 N D", "V"),
    "winds": _entry("W AY1 N D Z", "W IH1 N D Z", "V"),
    "tear": _entry("T EH1 R", "T IH1 R", "V"),
    "tears": _entry("T EH1 R Z", "T IH1 R Z", "V"),
}
"""Common homographs missing from g2p_en's table (it lists stress pairs, not these)."""

_SWAPPED = frozenset(
    (
        "counterbalance", "exploit", "exploits", "fragment", "imprint", "misconduct", "object",
        "rebel", "segment", "torment",
    )
)  # fmt: skip
"""Entries g2p_en's table has the wrong way round ("object" as a verb is ob-JECT, as its
plural "objects" entry correctly says); their readings are swapped on load."""

_READ_PRESENT = ("R", "IY1", "D")
_READ_PAST = ("R", "EH1", "D")
_USED_TO = ("Y", "UW1", "S", "T")
_USED = ("Y", "UW1", "Z", "D")
"""Readings for "read" (its table entry is inverted and keyed on the past tense, which
word order alone rarely shows) and "used" ("used to" is said with S T): own rules below."""


def load_table(path: Path | None = None) -> dict[str, Homograph]:
    """g2p_en's table plus our additions; entries with symbols outside ARPAbet are dropped."""
    path = path or g2p_en_data_dir() / "homographs.en"
    table: dict[str, Homograph] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        word, first, other, pos = line.strip().split("|")
        word = word.lower()
        entry = _entry(other, first, pos) if word in _SWAPPED else _entry(first, other, pos)
        if all(map(is_phoneme, entry.first + entry.other)):
            table[word] = entry
    table.update(_EXTRA)
    return table


@lru_cache(maxsize=1)
def homograph_table() -> dict[str, Homograph]:
    return load_table()


# --- the part-of-speech guess --------------------------------------------------------------


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


_VERB_BEFORE = _word_set(
    "to will would shall should can could may might must cannot won't wouldn't shan't "
    "shouldn't can't couldn't mightn't mustn't do does did don't doesn't didn't let's please "
    "i'll you'll we'll they'll he'll she'll it'll gonna wanna"
)
"""Words after which a base-form verb follows (infinitive, modal, do-support)."""
_HAVE = _word_set(
    "have has had having haven't hasn't hadn't i've you've we've they've who've "
    "i'd you'd he'd she'd we'd they'd"
)
_BE = _word_set(
    "am is are was were be been being i'm you're we're they're he's she's it's that's "
    "there's what's who's isn't aren't wasn't weren't ain't get gets got gotten getting "
    "seem seems seemed feel feels felt look looks looked become becomes became remain "
    "remains remained"
)
"""Be-forms and linking verbs: a participle (passive) or an adjective follows."""
_SUBJECTS = _word_set("i you we they he she it who")
_THIRD_PERSON = _word_set("he she it")
_NOUN_BEFORE = _word_set(
    "the a an this that these those each every some any no another such what which whose "
    "either neither several many few more most much other first last next same own certain "
    "various my your his her its our their of in on at for with from by about into onto "
    "over under without within between through during after against among upon per via "
    "like near than one two three four five six seven eight nine ten twelve twenty hundred "
    "thousand million new old good bad great big small little short high low young best "
    "better worst whole public open real true top hard nice perfect total strong huge large "
    "final early late daily weekly monthly yearly world"
)
"""Determiners, possessives, prepositions, numbers and common adjectives."""
_ADJECTIVE_ENDINGS = ("al", "ous", "ful", "ive", "ic", "able", "ible", "less", "ary", "ish")
_ADVERBS = _word_set(
    "not never always often also just still really usually sometimes already even ever only "
    "soon then now rarely seldom all both"
)
"""Words skipped when looking back for the word that governs the homograph."""
_OBJECT_STARTERS = _word_set(
    "the a an my your his their our its this these those them him us me it her some all "
    "every each what how why whether myself yourself himself herself itself ourselves "
    "themselves"
)
_VERB_PARTICLES = _word_set(
    "in on at with here there together up out down away back off for from against into "
    "alone forever longer"
)
_PARTICIPLES = _word_set("read upset set cut put used")
_PAST_MARKERS = _word_set("yesterday ago last earlier previously recently already once before")


def _is_adverb(word: str) -> bool:
    return word in _ADVERBS or (len(word) > 4 and word.endswith("ly") and word not in _NOUN_BEFORE)


def _is_third_person_form(word: str) -> bool:
    """ "records", "lives": a base-form slot (after "to", a modal) cannot hold these."""
    return word.endswith("s") and not word.endswith("ss")


def _governor(words: Sequence[str], index: int) -> str | None:
    """The nearest word before ``index`` that is not an adverb, or None at the start."""
    for j in range(index - 1, -1, -1):
        if not _is_adverb(words[j]):
            return words[j]
    return None


def guess_pos(words: Sequence[str], index: int) -> str:
    """Guess "V", "VBN", "N" or "ADJ" for ``words[index]`` from its neighbours.

    ``words`` are lowercase words of one sentence, punctuation removed.
    """
    word = words[index]
    before = _governor(words, index)
    after = words[index + 1] if index + 1 < len(words) else None

    if before in _VERB_BEFORE:
        return "N" if _is_third_person_form(word) else "V"
    if before in _HAVE:
        return "VBN"
    if before in _BE:
        if word.endswith("ed") or word in _PARTICIPLES:
            return "VBN"
        return "V" if word.endswith("ing") else "ADJ"
    if before in _SUBJECTS:
        return "V"
    if before is not None and (
        before in _NOUN_BEFORE
        or before.endswith(("'s", "s'"))
        or before.endswith(_ADJECTIVE_ENDINGS)
    ):
        return "N"
    if after == "of":
        return "N"
    if before is None and _is_third_person_form(word):
        return "N"  # "Records show ...": a sentence does not open with a 3rd-person verb
    if after in _OBJECT_STARTERS or after in _VERB_PARTICLES:
        return "V"
    return "N"


def _matches(pos: str, wanted: str) -> bool:
    if wanted == "V":
        return pos in ("V", "VBD", "VBN")
    return pos == wanted


def pronounce(words: Sequence[str], index: int, entry: Homograph) -> tuple[str, ...]:
    """Pick ``entry``'s reading for ``words[index]`` (lowercase words of one sentence)."""
    word = words[index]
    after = words[index + 1] if index + 1 < len(words) else None
    if word == "used":
        return _USED_TO if after == "to" else _USED
    pos = guess_pos(words, index)
    if word == "read":
        return _READ_PAST if _read_is_past(words, index, pos) else _READ_PRESENT
    return entry.first if _matches(pos, entry.pos) else entry.other


def _read_is_past(words: Sequence[str], index: int, pos: str) -> bool:
    """ "read" is spelt alike in present and past; look for any evidence of the past."""
    if pos == "VBN":
        return True
    if pos != "V" or _governor(words, index) in _VERB_BEFORE:
        return False
    if _governor(words, index) in _THIRD_PERSON:
        return True  # present tense would be "reads"
    return any(w in _PAST_MARKERS for w in words)
