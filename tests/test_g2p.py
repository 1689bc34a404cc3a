"""CMUdict lookups: the lazy lexicon a short phrase uses answers as the parsed one."""

from __future__ import annotations


def test_lazy_lexicon_answers_as_the_parsed_dictionary():
    """Scanning the text for a few words, then parsing it all, gives the same first
    pronunciations as parsing it up front, for known, alternative-laden and unknown words."""
    import random

    from ttscli.text.g2p import LazyLexicon, _dictionary_text, parse_lexicon

    parsed = parse_lexicon(_dictionary_text())
    rng = random.Random(0)
    words = ["read", "the", "a", "zebra", "'bout", "aaa", "notaword", "", "two words"]
    words += [*rng.sample(sorted(parsed), 200), "xqzt", "lives"]
    lazy = LazyLexicon()
    for word in words:
        assert lazy.get(word) == parsed.get(word), word
    assert lazy._parsed is not None  # switched to the parsed dictionary after enough words
    few = LazyLexicon()
    assert [few.get(w) for w in words[:8]] == [parsed.get(w) for w in words[:8]]
    assert few._parsed is None
