"""SSML, pauses and the lexicon with Kyutai (the tiny test checkpoint): what it reads goes to
the model as text and breaks; what it cannot do is a warning line."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.test_cli_speak import speak
from ttscli.engines.base import Chunk
from ttscli.kyutai.engine import KyutaiEngine
from ttscli.kyutai.generation import Generation, rate_bonus
from ttscli.kyutai.options import KyutaiOptions, ScriptWriter
from ttscli.kyutai.synthetic import TinyKyutai
from ttscli.text.feed import WordFeed
from ttscli.text.markup import MarkupStream, Style
from ttscli.text.ssml import SsmlReader, parse_ssml


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
    said = [item.text for item in ScriptWriter(KyutaiOptions(paragraph_silence=1.0)).items(markup)]
    assert said == ['Hello <break time="0.700s"/> there. <break time="1.000s"/> Call 4 2 .']


def test_sentence_and_paragraph_silences_become_breaks() -> None:
    said = [
        item.text for item in ScriptWriter(KyutaiOptions(0.5, 1.0)).plain("One. Two?\n\nThree.")
    ]
    assert said == ['One. <break time="0.500s"/> Two? <break time="0.500s"/>'
                    ' <break time="1.000s"/> Three.']  # fmt: skip


@pytest.mark.parametrize("cuts", [["One. T", "wo? Th", "ree."], ["One. Two?\n", "\nThree."]])
def test_silences_do_not_depend_on_where_streamed_text_is_cut(cuts: list[str]) -> None:
    """Words as they arrive (``WordFeed`` cuts before a space): a sentence end or a blank
    line at the edge of a piece gets its silence all the same."""
    whole = ScriptWriter(KyutaiOptions(0.5, 1.0)).plain("".join(cuts))
    writer, feed = ScriptWriter(KyutaiOptions(0.5, 1.0)), WordFeed()
    streamed = [writer.plain(feed.push(cut)) for cut in cuts] + [writer.plain(feed.flush())]
    texts = " ".join(item.text for items in streamed for item in items)
    assert texts.split() == " ".join(item.text for item in whole).split()
    assert texts.count('time="0.500s"') == 2


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


# -- rate, volume and marks through the stepped generation ----------------------------------

SPAN = "one two three {open}four five six{close} seven eight"


@pytest.fixture(scope="module")
def kyutai(tiny_kyutai: TinyKyutai) -> Iterator[KyutaiEngine]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield KyutaiEngine.load(voice=tiny_kyutai.voice_name, hf_repo=tiny_kyutai.model_repo,
                                voice_repo=tiny_kyutai.voice_repo, device="cpu", n_q=8,
                                seed=0)  # fmt: skip
    finally:
        torch.set_num_threads(threads)


def _spoken(engine: KyutaiEngine, open_tag: str, close_tag: str) -> tuple[np.ndarray, list[Chunk]]:
    document = "<speak>" + SPAN.format(open=open_tag, close=close_tag) + "</speak>"
    chunks = list(engine.stream(parse_ssml(document)))
    return np.concatenate([c.audio for c in chunks]), chunks


def test_a_spans_rate_is_its_words_padding_bonus(kyutai: KyutaiEngine) -> None:
    """The mechanism (the tiny model's random text head pads whatever the bonus, so its
    tempo cannot move; the real weights' can): while a word of the span is the last one
    started, the pad logit of that row gets the span's bonus, and no other logit moves."""
    seen: dict[str, set[float]] = {}  # the bonus on the pad logit while a word is last
    with Generation(kyutai, 2) as gen:
        gen.feed(0, "one two three")
        gen.feed(0, "four five six", Style(rate=0.5))
        gen.feed(0, "seven eight")
        gen.feed(1, "one two three four five six seven eight")
        gen.close_input(0)
        gen.close_input(1)
        pad = kyutai.model.machine.token_ids.pad
        while not gen.done():
            gen.step()
            logits = torch.zeros(2, 1, 1, kyutai.model.lm.text_card + 1, dtype=torch.float64)
            gen._on_text_logits(logits)
            moved = logits.clone()
            moved[:, ..., pad] = 0
            assert not moved.any() and not logits[1].any()
            transcript = gen.states[0].transcript
            if transcript and len(transcript) == len(gen.states[0].consumption_times):
                seen.setdefault(transcript[-1][0], set()).add(float(logits[0, 0, 0, pad]))
    assert rate_bonus(0.5) > 0 > rate_bonus(2.0)
    for word in ("four", "five", "six"):
        assert seen[word] == {rate_bonus(0.5)}
    for word in ("one", "three", "seven", "eight"):
        assert seen[word] == {0.0}


def test_a_spans_volume_is_a_gain_on_its_words_only(kyutai: KyutaiEngine) -> None:
    plain, _ = _spoken(kyutai, "", "")
    louder, chunks = _spoken(kyutai, '<prosody volume="+6dB">', "</prosody>")
    assert len(plain) == len(louder)
    words = {w.text: w for c in chunks for w in c.words}
    rate = kyutai.sample_rate
    four, seven = round(words["four"].start * rate), round(words["seven"].start * rate)
    ramp = 480  # past the gain's ramp
    inside = slice(four + ramp, round(words["six"].end * rate))
    outside = np.r_[0:four, seven + ramp : len(plain)]
    loud = np.abs(plain[inside]) > 1e-4
    ratio = louder[inside][loud] / plain[inside][loud]
    assert np.median(ratio) == pytest.approx(10 ** (6 / 20), rel=1e-3)
    assert np.array_equal(plain[outside], louder[outside])


def test_marks_are_reported_at_the_next_words_start(kyutai: KyutaiEngine) -> None:
    _, chunks = _spoken(kyutai, '<mark name="here"/>', '<mark name="end"/>')
    words = {w.text: w for c in chunks for w in c.words}
    marks = {m.text: m.start for c in chunks for m in c.marks}
    assert marks == {"here": words["four"].start, "end": words["seven"].start}


def test_ssml_streamed_in_pieces_says_what_the_whole_document_says(
    kyutai: KyutaiEngine,
) -> None:
    document = ('<speak><p>One two. <prosody volume="-6dB">Three four.</prosody></p>'
                '<p>Five <break time="240ms"/> six.</p></speak>')  # fmt: skip
    whole = np.concatenate([c.audio for c in kyutai.stream(parse_ssml(document))])
    reader = SsmlReader()
    pieces = [p for i in range(0, len(document), 5) for p in reader.feed(document[i : i + 5])]
    pieces += reader.close()
    assert len(pieces) >= 3
    streamed = np.concatenate([c.audio for c in kyutai.stream(MarkupStream(pieces))])
    assert np.array_equal(whole, streamed)


def test_silences_and_pauses_of_markup_become_breaks() -> None:
    writer = ScriptWriter(KyutaiOptions(0.5, 1.0))
    first = writer.items(parse_ssml("<speak><p>One. Two?</p></speak>"))
    second = writer.items(parse_ssml('<speak><p>Three <break time="1s"/> four.</p></speak>'))
    assert [i.text for i in first] == ['One. <break time="0.500s"/> Two?']
    assert [i.text for i in second] == [
        '<break time="0.500s"/> <break time="1.000s"/> Three <break time="1.000s"/> four.'
    ]


def test_kyutai_warns_only_of_what_it_cannot_follow(kyutai: KyutaiEngine) -> None:
    markup = parse_ssml('<speak><prosody rate="slow" volume="loud" pitch="high">a</prosody>'
                        '<mark name="m"/><emphasis>b</emphasis></speak>')  # fmt: skip
    warnings = kyutai.markup_warnings(markup)
    assert any("pitch" in w for w in warnings) and any("emphasis" in w for w in warnings)
    assert not any("rate" in w or "volume" in w or "mark" in w for w in warnings)
