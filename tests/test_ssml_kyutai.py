"""SSML, pauses and the lexicon with Kyutai (the tiny test checkpoint): what it reads goes to
the model as text and breaks; what it cannot do is a warning line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_cli_speak import speak
from ttscli.kyutai.engine import KyutaiOptions
from ttscli.kyutai.synthetic import TinyKyutai
from ttscli.text.ssml import parse_ssml


def test_ssml_is_read_as_text_and_breaks_and_the_rest_warns(
    tiny_kyutai: TinyKyutai, tmp_path: Path
) -> None:
    document = tmp_path / "in.ssml"
    document.write_text('<speak>Hello <break time="300ms"/>there <prosody pitch="+50%">high'
                        '</prosody> <sub alias="World Wide Web">WWW</sub>.</speak>')  # fmt: skip
    result = speak(tiny_kyutai, "--in", str(document), "--out", str(tmp_path / "a.wav"))
    assert result.returncode == 0, result.stderr.decode()
    lines = result.stderr.decode().splitlines()
    assert any(line.startswith("warning: <prosody pitch>") for line in lines), lines
    assert (tmp_path / "a.wav").stat().st_size > 44


def test_markup_becomes_the_text_kyutai_reads() -> None:
    markup = parse_ssml(
        '<speak><p>Hello <break time="700ms"/>there.</p><p>Call '
        '<say-as interpret-as="digits">42</say-as>.</p></speak>'
    )
    assert markup.text_with_breaks() == 'Hello <break time="0.700s"/> there.\n\nCall 4 2 .'


def test_sentence_and_paragraph_silences_become_breaks() -> None:
    spaced = KyutaiOptions(0.5, 1.0).spaced("One. Two?\n\nThree.")
    assert spaced == ('One. <break time="0.500s"/> Two? <break time="0.500s"/>'
                      ' <break time="1.000s"/> Three.')  # fmt: skip


def test_a_lexicon_respells_words(tiny_kyutai: TinyKyutai, tmp_path: Path) -> None:
    lexicon = tmp_path / "respell.tsv"
    lexicon.write_text("Kyutai\tkyoo-tie\n")
    result = speak(tiny_kyutai, "Kyutai speaks.", "--lexicon", str(lexicon), "--out",
                   str(tmp_path / "a.wav"), "--timestamps", str(tmp_path / "t.json"))  # fmt: skip
    assert result.returncode == 0, result.stderr.decode()
    assert "kyoo-tie" in (tmp_path / "t.json").read_text()


@pytest.mark.parametrize("bad", ["no tab here\n", "two words\tx\n"])
def test_a_bad_lexicon_line_is_one_error(tiny_kyutai: TinyKyutai, tmp_path: Path, bad: str) -> None:
    from tests.test_cli_fs2 import one_line_error

    lexicon = tmp_path / "respell.tsv"
    lexicon.write_text(bad)
    one_line_error(speak(tiny_kyutai, "Hi.", "--lexicon", str(lexicon), "--out",
                         str(tmp_path / "a.wav")), "line 1")  # fmt: skip
