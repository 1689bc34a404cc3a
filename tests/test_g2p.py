"""CMUdict lookups and the front-end's pace: a word is found in the dictionary where it lies
(nothing is parsed first), and a long text's later sentences wait for its first."""

from __future__ import annotations

import pytest


def test_sorted_lexicon_answers_as_the_parsed_dictionary() -> None:
    """Bisecting the file gives every word's first pronunciation, as parsing it whole does
    (the words of the file's two runs out of order included); unknown words get none."""
    from ttscli.text.g2p import SortedLexicon, _dictionary_text, parse_lexicon

    parsed = parse_lexicon(_dictionary_text())
    lexicon = SortedLexicon()
    for word, pronunciation in parsed.items():
        assert lexicon.get(word) == pronunciation, word
    for word in ["notaword", "", "two words", "xqzt", "a(2)", "zzzzzzz", "'", "aaaaa"]:
        assert lexicon.get(word) is None, word
    assert lexicon.get("xqzt", "default") == "default"


def test_a_long_text_never_parses_or_reads_the_whole_dictionary(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ttscli.text import g2p, homographs

    def refused(*_: object) -> None:
        raise AssertionError("the whole dictionary was parsed or read")

    monkeypatch.setattr(g2p, "parse_lexicon", refused)
    monkeypatch.setattr(g2p, "_dictionary_text", refused)
    phonemizer = g2p.Phonemizer(g2p.SortedLexicon(), homographs.homograph_table())
    words = ("the quick brown fox jumps over a lazy dog while seven wizards quietly judge "
             "every boxing match held in the old town square before dawn and after dusk "
             "because nobody else would volunteer to count the points fairly").split()  # fmt: skip
    said = phonemizer.phonemize_words(words * 3)
    assert len(set(words)) > 30 and len(said) == 3 * len(words) and all(said)
    assert said[words.index("fox")] == ["F", "AA1", "K", "S"]


def test_a_long_texts_first_sentence_is_heard_before_the_next_is_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Counts, not time: when the first audio of a twelve-sentence paragraph comes out of
    the engine, only its first sentence has been phonemized."""
    from ttscli.fs2.engine import FS2Engine
    from ttscli.text.g2p import get_phonemizer

    engine = FS2Engine.load(device="cpu")
    phonemizer = get_phonemizer()
    read: list[list[str]] = []
    original = phonemizer.phonemize_words

    def counted(words: list[str]) -> list[list[str]]:
        read.append(list(words))
        return original(words)

    monkeypatch.setattr(phonemizer, "phonemize_words", counted)
    paragraph = " ".join(f"Sentence {n} of the paragraph has its own few words." for n in
                         ["one", "two", "three", "four", "five", "six", "seven", "eight",
                          "nine", "ten", "eleven", "twelve"])  # fmt: skip
    chunks = engine.stream(paragraph)
    first = next(chunks)
    assert len(first.audio) > 0 and len(read) == 1 and read[0][1] == "one"
    rest = list(chunks)
    assert len(read) == 12 and sum(c.text is not None for c in [first, *rest]) == 12


def test_the_check_before_loading_reads_only_the_first_sentence(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Counts: a long text given as the argument is checked (before the model loads) by
    phonemizing its first sentence only; what would fail later still fails now."""
    from ttscli.fs2.entry import FS2_ENTRY
    from ttscli.text.g2p import get_phonemizer
    from ttscli.util.errors import UserError

    assert FS2_ENTRY.check_text is not None
    phonemizer = get_phonemizer()
    read: list[list[str]] = []
    original = phonemizer.phonemize_words
    monkeypatch.setattr(
        phonemizer, "phonemize_words", lambda words: read.append(list(words)) or original(words)
    )
    paragraph = " ".join(f"Sentence number {n} has a few words." for n in range(1, 13))
    FS2_ENTRY.check_text(paragraph)
    assert len(read) == 1 and read[0][:3] == ["Sentence", "number", "one"]
    with pytest.raises(UserError, match="unknown phoneme"):
        FS2_ENTRY.check_text(paragraph + " The last one is {ZZ9 bad}.")
    with pytest.raises(UserError, match="nothing to say"):
        FS2_ENTRY.check_text(" -- ... -- ")
