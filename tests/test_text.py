"""Behaviour of the English front-end: normalisation, sentences, g2p, inline phonemes."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ttscli.text.frontend import Utterance, text_to_phonemes, text_to_utterances
from ttscli.text.g2p import get_phonemizer
from ttscli.text.normalize import normalize
from ttscli.text.sentences import split_sentences
from ttscli.text.symbols import ARPABET, SENTENCE_ENDS, SHORT_PAUSE, SYMBOLS
from ttscli.util.errors import UserError


def words_of(word: str, sentence: str) -> str:
    """The phonemes of ``word`` as said inside ``sentence``, space-joined."""
    words = sentence.split()
    return " ".join(get_phonemizer().phonemize_words(words)[words.index(word)])


# --- normalisation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1,234", "one thousand two hundred thirty-four"),
        ("-5", "minus five"),
        ("3.14", "three point one four"),
        ("1000000", "one million"),
        ("007", "zero zero seven"),
        ("1984", "nineteen eighty-four"),
        ("2005", "two thousand five"),
        ("1905", "nineteen oh five"),
        ("2024", "twenty twenty-four"),
        ("3000", "three thousand"),
        ("1,984", "one thousand nine hundred eighty-four"),
        ("1st", "first"),
        ("22nd", "twenty-second"),
        ("103rd", "one hundred third"),
        ("11th", "eleventh"),
        ("$5", "five dollars"),
        ("$1", "one dollar"),
        ("$5.50", "five dollars, fifty cents"),
        ("$0.99", "ninety-nine cents"),
        ("£20", "twenty pounds"),
        ("€3.50", "three euros, fifty cents"),
        ("$2 million", "two million dollars"),
        ("50%", "fifty percent"),
        ("the 1980s", "the nineteen eighties"),
        ("at 7:30 pm", "at seven thirty P M"),
        ("pages 10-20", "pages ten to twenty"),
        ("1/2 cup", "one half cup"),
    ],
)
def test_numbers(text: str, expected: str) -> None:
    assert normalize(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Mr. Smith met Mrs. Jones and Ms. Lee", "Mister Smith met Missus Jones and Miz Lee"),
        ("Dr. Who lives on Baker St. now", "Doctor Who lives on Baker Street now"),
        ("St. Paul", "Saint Paul"),
        ("Prof. Xavier", "Professor Xavier"),
        ("King Jr. spoke", "King Junior spoke"),
        ("cats vs. dogs", "cats versus dogs"),
        ("fruit, e.g., apples, i.e. food", "fruit, for example, apples, that is food"),
        ("No. 5", "Number five"),
        ("Tom & Jerry", "Tom and Jerry"),
        ("at 5 a.m. sharp", "at five A M sharp"),
        ("and so on, etc.", "and so on, et cetera."),
        ("apples, etc. are fruit", "apples, et cetera are fruit"),
    ],
)
def test_abbreviations(text: str, expected: str) -> None:
    assert normalize(text) == expected


def test_unicode_is_folded_to_ascii() -> None:
    assert normalize("“Café” – naïve’s…") == '"Cafe" - naive\'s...'


def test_normalisation_keeps_sentence_punctuation() -> None:
    assert normalize('Wait; (really) "no": yes - ok?!') == 'Wait; (really) "no": yes - ok?!'


@pytest.mark.parametrize("text", ["R2D2 has 3 arms, 4.5.6 and #7 at 9:61 in 12345678901234567890"])
def test_no_digits_survive(text: str) -> None:
    assert not any(ch.isdigit() for ch in normalize(text))


# --- sentences -------------------------------------------------------------------------------


def test_sentence_splitting() -> None:
    text = 'Hello there. How are you?! I am fine... "Really!" she said.\n\nNo end\nhere'
    assert split_sentences(text) == [
        "Hello there.",
        "How are you?!",
        "I am fine...",
        '"Really!"',
        "she said.",
        "No end here",
    ]


def test_sentence_splitting_never_returns_empty_strings() -> None:
    assert split_sentences("") == []
    assert split_sentences(" \n\n ... ") == []
    assert split_sentences("Hi. ... !") == ["Hi....!"]


def test_long_sentence_is_cut_at_clause_breaks() -> None:
    sentence = ", ".join(f"this is clause number {i} of a long sentence" for i in range(30)) + "."
    pieces = split_sentences(sentence)
    assert len(pieces) > 1
    assert all(len(piece) <= 400 for piece in pieces)
    assert all(piece.endswith((",", ".")) for piece in pieces)
    assert " ".join(pieces) == sentence


# --- front-end -------------------------------------------------------------------------------


def test_inline_phonemes_pass_through() -> None:
    assert text_to_phonemes("{HH AH0 L OW1} world") == (
        "HH", "AH0", "L", "OW1", "W", "ER1", "L", "D", ".",
    )  # fmt: skip


def test_inline_phonemes_are_not_normalised() -> None:
    (utterance,) = text_to_utterances("Say {sp EH1 S sp} now, Mr. Brown")
    assert utterance.text == "Say {sp EH1 S sp} now, Mister Brown"
    assert utterance.phonemes[:8] == ("S", "EY1", "sp", "EH1", "S", "sp", "N", "AW1")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("{HH AH L OW1}", "'AH'"),
        ("{HH XX0}", "'XX0'"),
        ("{HH .} x", "'.'"),
        ("{HH AH0 L OW1", "never closed"),
        ("HH} x", "has no"),
        ("{HH {AH0}}", "inside braces"),
    ],
)
def test_bad_braces_are_user_errors(text: str, fragment: str) -> None:
    with pytest.raises(UserError) as error:
        text_to_utterances(text)
    message = str(error.value)
    assert fragment in message
    assert "\n" not in message


@pytest.mark.parametrize("text", ["", "   \n\t ", "?!...", '"(--)"'])
def test_nothing_to_say(text: str) -> None:
    with pytest.raises(UserError, match=r"^nothing to say: "):
        text_to_utterances(text)


def test_punctuation_becomes_pauses() -> None:
    phonemes = text_to_phonemes('"Well," he said -- (quietly) -- "no?"')
    assert phonemes[0] != SHORT_PAUSE
    assert phonemes[-1] == "?"
    assert phonemes[-2] != SHORT_PAUSE
    assert all(not (a == b == SHORT_PAUSE) for a, b in itertools.pairwise(phonemes))
    assert phonemes.count(SHORT_PAUSE) == 3


@pytest.mark.parametrize(
    ("text", "end"),
    [("Hello", "."), ("Hello.", "."), ("Hello?", "?"), ("Hello!", "!"), ("Hello...", "."),
     ("Hello?!", "?"), ('"Hello!"', "!")],
)  # fmt: skip
def test_sentence_end_token(text: str, end: str) -> None:
    assert text_to_phonemes(text)[-1] == end


def test_utterances_per_sentence() -> None:
    utterances = text_to_utterances("It costs $5. Really? Yes!")
    assert [u.text for u in utterances] == ["It costs five dollars.", "Really?", "Yes!"]
    assert [u.phonemes[-1] for u in utterances] == [".", "?", "!"]
    assert all(isinstance(u, Utterance) for u in utterances)
    assert text_to_phonemes("It costs $5. Really? Yes!") == tuple(
        p for u in utterances for p in u.phonemes
    )


def test_apostrophes_inside_words() -> None:
    assert text_to_phonemes("don't") == ("D", "OW1", "N", "T", ".")
    assert text_to_phonemes("John's") == ("JH", "AA1", "N", "Z", ".")
    assert text_to_phonemes("Kubernetes's")[-3:] == ("IH0", "Z", ".")


def test_every_symbol_is_known() -> None:
    text = (
        "On 3/4/2021, Dr. O'Neil paid $1,234.56 (50% off!) for 2 GPUs -- at 10:05 p.m.; "
        "the NLTK-free ttscli's blorptastic résumé read well. Zyxwv? Qwrtpl!"
    )
    for utterance in text_to_utterances(text):
        assert set(utterance.phonemes) <= set(SYMBOLS)
        assert utterance.phonemes[-1] in SENTENCE_ENDS


# --- g2p -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sentence", "word", "expected"),
    [
        ("I will read the book", "read", "R IY1 D"),
        ("I have read the book", "read", "R EH1 D"),
        ("he read it yesterday", "read", "R EH1 D"),
        ("a record of it", "record", "R EH1 K ER0 D"),
        ("I want to record it", "record", "R IH0 K AO1 R D"),
        ("the lead pipe", "lead", "L EH1 D"),
        ("they lead the team", "lead", "L IY1 D"),
        ("a present for you", "present", "P R EH1 Z AH0 N T"),
        ("I present the award", "present", "P R IY0 Z EH1 N T"),
        ("everyone was present", "present", "P R EH1 Z AH0 N T"),
        ("we live here", "live", "L IH1 V"),
        ("a live show", "live", "L AY1 V"),
        ("I used to swim", "used", "Y UW1 S T"),
        ("it was used", "used", "Y UW1 Z D"),
        ("please close the door", "close", "K L OW1 Z"),
        ("we are close", "close", "K L OW1 S"),
        ("close to home", "close", "K L OW1 S"),
        ("they object to it", "object", "AH0 B JH EH1 K T"),
        ("an object of desire", "object", "AA1 B JH EH0 K T"),
    ],
)
def test_homographs(sentence: str, word: str, expected: str) -> None:
    assert words_of(word, sentence) == expected


def test_oov_words_get_plausible_pronunciations() -> None:
    phonemizer = get_phonemizer()
    (blorp,) = phonemizer.phonemize_words(["blorptastic"])
    assert blorp[:3] == ["B", "L", "AO2"]
    assert set(blorp) <= set(ARPABET)
    assert any(p[-1] == "1" for p in blorp)  # it has a primary stress
    assert phonemizer.phonemize_words(["blorptastic"]) == [blorp]  # deterministic


def test_acronyms_are_spelled() -> None:
    phonemizer = get_phonemizer()
    assert phonemizer.phonemize_word("GPU") == ["JH", "IY1", "P", "IY1", "Y", "UW1"]
    assert phonemizer.phonemize_word("US") == ["Y", "UW1", "EH1", "S"]
    assert phonemizer.phonemize_word("us") == ["AH1", "S"]
    assert text_to_phonemes("the U.S.A.")[-2:] == ("EY1", ".")


# --- isolation from nltk and the network ------------------------------------------------------

_ISOLATED_RUN = textwrap.dedent(
    """
    import socket, sys

    def no_network(*args, **kwargs):
        raise OSError("network access attempted")

    socket.socket = no_network
    socket.create_connection = no_network

    import ttscli.text.frontend as frontend

    assert "g2p_en" not in sys.modules, "importing the front-end imported g2p_en"
    assert "nltk" not in sys.modules, "importing the front-end imported nltk"
    phonemes = frontend.text_to_phonemes("I will read 2 blorptastic books, Dr. Smith.")
    assert "g2p_en" not in sys.modules and "nltk" not in sys.modules
    print(" ".join(phonemes))
    """
)


def test_runs_without_network_or_nltk_data(tmp_path: Path) -> None:
    source_root = Path(__file__).resolve().parents[1] / "src"
    env = {
        **os.environ,
        "NLTK_DATA": str(tmp_path),
        "HOME": str(tmp_path),
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(source_root), os.environ.get("PYTHONPATH")])
        ),
    }
    result = subprocess.run(
        [sys.executable, "-c", _ISOLATED_RUN],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    phonemes = result.stdout.split()
    assert phonemes[:5] == ["AY1", "W", "IH1", "L", "R"]
    assert "T" in phonemes and "UW1" in phonemes  # "two", never a digit
    assert phonemes[-1] == "."
    assert set(phonemes) <= set(SYMBOLS)
    assert not list(tmp_path.iterdir())  # nothing was downloaded into NLTK_DATA
