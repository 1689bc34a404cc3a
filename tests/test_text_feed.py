"""The text feeds shared by `speak`, `fs2` and the server: units released as their end arrives."""

from __future__ import annotations

import os

import pytest

from ttscli.run.sources import stdin_fragments
from ttscli.text.feed import PAUSE, SentenceFeed, WordFeed, sentences_as_they_arrive


def test_a_sentence_is_released_mid_line_once_the_next_word_begins() -> None:
    feed = SentenceFeed()
    assert feed.push("Hello there. How") == ["Hello there."]
    assert feed.push(" are you? I am") == ["How are you?"]
    assert feed.push(" fine") == []
    assert feed.flush() == "I am fine"


def test_fragments_split_anywhere_give_the_same_sentences() -> None:
    text = 'He said "stop!" Then Mr. Smith left at 3.5 p.m. on Jan. 5. It rained, etc. The end'
    whole = list(sentences_as_they_arrive([text]))
    for size in (1, 2, 3, 7):
        pieces = [text[i : i + size] for i in range(0, len(text), size)]
        assert list(sentences_as_they_arrive(pieces)) == whole, size


@pytest.mark.parametrize(
    ("text", "held"),
    [
        ("Mr. Smith", "Mr. Smith"),  # a title's period never ends a sentence
        ("We met Dr. Jones", "We met Dr. Jones"),
        ("It is 3.5", "It is 3.5"),  # a decimal point is not followed by a space
        ("the U.S. economy", "the U.S. economy"),
        ("apples, pears, etc. and more", "apples, pears, etc. and more"),
    ],
)
def test_periods_that_do_not_end_a_sentence_hold_it(text: str, held: str) -> None:
    feed = SentenceFeed()
    assert feed.push(text + " ") == []
    assert feed.flush() == held


def test_an_abbreviation_can_still_end_a_sentence() -> None:
    assert SentenceFeed().push("We bought apples, pears, etc. Then we left") == [
        "We bought apples, pears, etc."
    ]


def test_a_line_without_a_period_waits_for_a_pause_or_the_end() -> None:
    feed = SentenceFeed()
    assert feed.push("One. Two three\n") == ["One."]
    assert feed.push(PAUSE) == ["Two three"]
    assert feed.push(PAUSE) == []
    assert feed.push("Four\n\nFive") == ["Four"]  # a blank line ends a paragraph at once
    assert feed.flush() == "Five"


def test_inline_phonemes_are_never_cut() -> None:
    feed = SentenceFeed()
    assert feed.push("Say {HH AH0 . L OW1} now. Next") == ["Say {HH AH0 . L OW1} now."]


def test_a_long_paragraph_is_released_sentence_by_sentence() -> None:
    sentences = [f"This is sentence number {n} of the paragraph." for n in range(12)]
    released = list(SentenceFeed().push(" ".join(sentences) + " And a tail"))
    assert released == sentences


def test_word_feed_ignores_pauses() -> None:
    feed = WordFeed()
    assert feed.push("Hel") == ""
    assert feed.push(PAUSE) == ""
    assert feed.push("lo there") == "Hello"


def test_stdin_fragments_mark_a_pause_when_the_writer_stops() -> None:
    read_end, write_end = os.pipe()
    try:
        fragments = stdin_fragments(read_end, pause_after=0.2)
        os.write(write_end, b"One. Two")
        assert next(fragments) == "One. Two"
        assert next(fragments) == PAUSE  # nothing more was written, however long we waited
        encoded = " three \u00e9".encode()
        os.write(write_end, encoded[:-1])  # the last character split across two writes
        os.write(write_end, encoded[-1:])
        os.close(write_end)
        rest = list(fragments)
    finally:
        os.close(read_end)
    assert "".join(rest) == " three \u00e9" and PAUSE not in rest
