"""SSML: the parser on good, malformed and hostile documents, and what each element does to
the bundled voice's audio, measured on the audio and the engine's own word timings."""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import run_cli
from tests.pitch_measure import median_f0
from tests.test_cli_fs2 import one_line_error
from ttscli.engines.base import Chunk
from ttscli.fs2.engine import FS2Engine
from ttscli.fs2.markup import word_timing
from ttscli.text.frontend import Utterance, WordSpan, speakable_utterances
from ttscli.text.markup import Boundary, Mark, Pause, Say
from ttscli.text.ssml import looks_like_ssml, parse_ssml
from ttscli.util.errors import UserError

# --- the parser -----------------------------------------------------------------------------


def test_elements_become_spans() -> None:
    markup = parse_ssml(
        '<speak xmlns="http://www.w3.org/2001/10/synthesis">A <break time="700ms"/>'
        '<break strength="strong"/><prosody rate="50%" pitch="+2st"><prosody volume="+6dB" '
        'pitch="+50%">b</prosody></prosody><emphasis>c</emphasis><s>d</s>'
        '<sub alias="World Wide Web">WWW</sub><mark name="m1"/>'
        '<phoneme alphabet="x-arpabet" ph="T AH0 M EY1 T OW0">tomato</phoneme></speak>'
    )
    spans = markup.spans
    assert isinstance(spans[0], Say) and spans[0].text.strip() == "A"
    assert spans[1] == Pause(0.7) and spans[2] == Pause(0.75)
    nested = spans[3]
    assert isinstance(nested, Say) and nested.style.rate == 0.5
    assert nested.style.pitch == pytest.approx(1.5 * 2 ** (2 / 12))
    assert nested.style.volume_db == 6.0
    assert isinstance(spans[4], Say) and spans[4].style.emphasis == "moderate"
    assert isinstance(spans[5], Boundary) and spans[7] == Boundary()
    assert spans[8] == Say("World Wide Web")
    assert spans[9] == Mark("m1")
    assert spans[10] == Say("tomato", phonemes=("T", "AH0", "M", "EY1", "T", "OW0"))
    assert markup.warnings == []


@pytest.mark.parametrize(
    ("element", "spoken"),
    [
        ('<say-as interpret-as="characters">abc</say-as>', "a b c"),
        ('<say-as interpret-as="digits">2026</say-as>', "2 0 2 6"),
        ('<say-as interpret-as="cardinal">1,234</say-as>', "1234"),
        ('<say-as interpret-as="ordinal">22</say-as>', "22nd"),
        ('<say-as interpret-as="date" format="ymd">2026-12-05</say-as>', "December 5th, 2026"),
        ('<say-as interpret-as="date" format="dm">5/12</say-as>', "December 5th"),
        ('<say-as interpret-as="time">9:05pm</say-as>', "9 oh 5 p m"),
        ('<say-as interpret-as="telephone">+1 555-0123</say-as>', "plus 1, 5 5 5, 0 1 2 3"),
        ('<phoneme alphabet="ipa" ph="təˈmɑːtoʊ">tomato</phoneme>', "tomato"),
    ],
)
def test_say_as_and_phoneme_read_as_a_speaker_would(element: str, spoken: str) -> None:
    span = parse_ssml(f"<speak>{element}</speak>").spans[0]
    assert isinstance(span, Say) and span.text == spoken


def test_what_is_not_understood_warns_and_its_text_is_read() -> None:
    markup = parse_ssml('<speak><voice name="x">hi</voice> <prosody contour="x">yo</prosody>'
                        '<say-as interpret-as="unit">5 kg</say-as></speak>')  # fmt: skip
    assert [s.text for s in markup.spans if isinstance(s, Say)][:1] == ["hi"]
    assert any("<voice>" in w for w in markup.warnings)
    assert any("contour" in w for w in markup.warnings)
    assert any("unit" in w for w in markup.warnings)


BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i else "&lol;" * 10}">'
        for i in range(10)
    )
    + "]><speak>&lol9;</speak>"
)


@pytest.mark.parametrize(
    ("document", "fragment"),
    [
        ("<speak>unclosed", "line 1, column"),
        ("<speak><b>x</speak>", "mismatched tag at line 1, column"),
        ("<p>not speak</p>", "<speak>"),
        (BILLION_LAUGHS, "refused"),
        ('<!DOCTYPE s [<!ENTITY x SYSTEM "file:///etc/passwd">]><speak>&x;</speak>', "refused"),
        ("<speak>" + "<s>" * 10_000 + "x" + "</s>" * 10_000 + "</speak>", "nested"),
        ('<speak><mark name="' + "x" * 20_000 + '"/></speak>', "longer than"),
        ('<speak><break time="forever"/></speak>', "break"),
        ('<speak><prosody pitch="200Hz">x</prosody></speak>', "Hz"),
        ('<speak><phoneme alphabet="ipa" ph="ʘʘ">x</phoneme></speak>', "IPA"),
    ],
)
def test_malformed_and_hostile_documents_get_one_line(document: str, fragment: str) -> None:
    started = time.monotonic()
    with pytest.raises(UserError) as error:
        parse_ssml(document)
    message = str(error.value)
    assert fragment in message and "\n" not in message
    assert time.monotonic() - started < 60  # a ceiling for a hang, not a speed target


def test_the_cli_refuses_hostile_ssml_in_one_line(tmp_path: Path) -> None:
    for document in (BILLION_LAUGHS, "<speak><b></speak>"):
        path = tmp_path / "in.xml"
        path.write_text(document)
        one_line_error(run_cli("fs2", "--in", str(path), "--out", str(tmp_path / "a.wav")), "SSML")
    assert not (tmp_path / "a.wav").exists()


def test_ssml_is_recognised_by_its_start() -> None:
    assert looks_like_ssml('  <?xml version="1.0"?>\n<speak>x</speak>')
    assert looks_like_ssml("<speak version='1.1'>x</speak>")
    assert not looks_like_ssml("I <3 speaking")


# --- through the bundled voice ---------------------------------------------------------------


@pytest.fixture(scope="module")
def voice() -> FS2Engine:
    return FS2Engine.load(device="cpu")


def speak(voice: FS2Engine, text: str) -> tuple[np.ndarray, list[Chunk]]:
    source = parse_ssml(text) if looks_like_ssml(text) else text
    chunks = list(voice.stream(source))
    return np.concatenate([c.audio for c in chunks]), chunks


def word_times(chunks: list[Chunk]) -> dict[str, tuple[float, float]]:
    return {w.text: (w.start, w.end) for c in chunks for w in c.words}


SENTENCE = "The old man walked slowly across the quiet street before dawn."
PHRASE = "walked slowly across"


def marked(attributes: str, tag: str = "prosody") -> str:
    return f"<speak>{SENTENCE.replace(PHRASE, f'<{tag} {attributes}>{PHRASE}</{tag}>')}</speak>"


def span_seconds(chunks: list[Chunk], first: str = "walked", last: str = "across") -> float:
    times = word_times(chunks)
    return times[last][1] - times[first][0]


def window(audio: np.ndarray, rate: int, start: float, end: float) -> np.ndarray:
    return audio[int(start * rate) : int(end * rate)]


def test_a_break_adds_exactly_its_silence(voice: FS2Engine) -> None:
    plain, _ = speak(voice, "<speak>Hello there, how are you today?</speak>")
    broken, chunks = speak(
        voice, '<speak>Hello there, <break time="700ms"/>how are you today?</speak>'
    )
    assert abs((len(broken) - len(plain)) / voice.sample_rate - 0.7) < 0.02
    times = word_times(chunks)
    plain_times = word_times(speak(voice, "<speak>Hello there, how are you today?</speak>")[1])
    # "how" runs on from "there" in the plain sentence (its sound leads the durations);
    # after the cut-in pause it starts at the boundary itself
    lead = voice.config.word_lead_frames * voice.frame_seconds
    assert times["how"][0] - plain_times["how"][0] - lead == pytest.approx(0.7, abs=0.02)
    gap = window(broken, voice.sample_rate, times["how"][0] - 0.65, times["how"][0] - 0.05)
    assert np.max(np.abs(gap)) < 1e-6  # the added stretch, just before "how", is silent


def test_pitch_on_a_span_moves_that_span_only(voice: FS2Engine) -> None:
    rate = voice.sample_rate
    plain, plain_chunks = speak(voice, f"<speak>{SENTENCE}</speak>")
    high, high_chunks = speak(voice, marked('pitch="+50%"'))
    plain_t, high_t = word_times(plain_chunks), word_times(high_chunks)
    inside = median_f0(window(high, rate, high_t["walked"][0], high_t["across"][1]), rate) / (
        median_f0(window(plain, rate, plain_t["walked"][0], plain_t["across"][1]), rate)
    )
    outside = median_f0(window(high, rate, high_t["quiet"][0], high_t["dawn"][1]), rate) / (
        median_f0(window(plain, rate, plain_t["quiet"][0], plain_t["dawn"][1]), rate)
    )
    assert inside == pytest.approx(1.5, rel=0.08)
    assert outside == pytest.approx(1.0, rel=0.05)
    assert len(high) == len(plain)  # pitch does not move durations


def test_rate_on_a_span_stretches_that_span_only(voice: FS2Engine) -> None:
    _, plain = speak(voice, f"<speak>{SENTENCE}</speak>")
    _, slow = speak(voice, marked('rate="50%"'))
    _, fast = speak(voice, marked('rate="150%"'))
    assert span_seconds(slow) / span_seconds(plain) == pytest.approx(2.0, rel=0.08)
    assert span_seconds(fast) / span_seconds(plain) == pytest.approx(1 / 1.5, rel=0.08)
    rest = span_seconds(slow, "quiet", "dawn") / span_seconds(plain, "quiet", "dawn")
    assert rest == pytest.approx(1.0, rel=0.05)


def test_volume_on_a_span_is_its_gain(voice: FS2Engine) -> None:
    rate = voice.sample_rate
    plain, chunks = speak(voice, f"<speak>{SENTENCE}</speak>")
    loud, _ = speak(voice, marked('volume="+6dB"'))
    t = word_times(chunks)

    def db(audio: np.ndarray, a: str, b: str) -> float:
        piece = window(audio, rate, t[a][0] + 0.05, t[b][1] - 0.05)
        return 20 * np.log10(np.sqrt(np.mean(piece**2)))

    assert db(loud, "walked", "across") - db(plain, "walked", "across") == pytest.approx(6, abs=1.5)
    assert db(loud, "quiet", "dawn") - db(plain, "quiet", "dawn") == pytest.approx(0, abs=0.5)


def test_emphasis_lengthens_raises_and_strengthens_the_word(voice: FS2Engine) -> None:
    rate = voice.sample_rate
    plain, plain_chunks = speak(voice, "<speak>She remembered everything about it.</speak>")
    strong, strong_chunks = speak(
        voice,
        '<speak>She <emphasis level="strong">remembered</emphasis> everything about it.</speak>',
    )
    p, s = word_times(plain_chunks)["remembered"], word_times(strong_chunks)["remembered"]
    assert (s[1] - s[0]) > 1.1 * (p[1] - p[0])
    loud = np.sqrt(np.mean(window(strong, rate, *s) ** 2))
    soft = np.sqrt(np.mean(window(plain, rate, *p) ** 2))
    assert loud > soft
    assert median_f0(window(strong, rate, *s), rate) > median_f0(window(plain, rate, *p), rate)


def test_marks_and_words_are_timed_in_the_files(tmp_path: Path) -> None:
    document = tmp_path / "in.ssml"
    document.write_text('<speak>Hello <mark name="middle"/>there. <break time="1s"/>Bye.</speak>')
    for suffix in (".json", ".vtt", ".srt"):
        out = tmp_path / f"t{suffix}"
        result = run_cli("fs2", "--in", str(document), "--out", str(tmp_path / "a.wav"),
                         "--timestamps", str(out), "-q")  # fmt: skip
        assert result.returncode == 0, result.stderr.decode()
        text = out.read_text()
        if suffix == ".json":
            data = json.loads(text)
            words = {w["word"]: w for w in data["words"]}
            assert data["marks"][0]["name"] == "middle"
            assert data["marks"][0]["time"] == pytest.approx(words["there"]["start"], abs=0.02)
            assert words["Bye"]["start"] - words["there"]["end"] >= 1.0
        elif suffix == ".vtt":
            assert text.startswith("WEBVTT\n\n") and "NOTE mark middle" in text
            cues = [line for line in text.splitlines() if "-->" in line]
            assert len(cues) == 3 and all(len(c.split(" --> ")) == 2 for c in cues)
        else:
            assert text.startswith("1\n00:00:00,000 --> ")


def test_ssml_on_stdin_split_mid_tag_is_read_whole(tmp_path: Path) -> None:
    out = tmp_path / "a.wav"
    pieces = ["<spe", "ak>Hello <brea", 'k time="500ms"/> there.</spe', "ak>"]
    process = subprocess.Popen(
        [sys.executable, "-m", "ttscli", "fs2", "--out", str(out), "-q"],
        stdin=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert process.stdin is not None
    for piece in pieces:
        process.stdin.write(piece.encode())
        process.stdin.flush()
        time.sleep(0.05)
    process.stdin.close()
    assert process.wait(timeout=600) == 0, process.stderr.read() if process.stderr else ""
    whole = tmp_path / "b.wav"
    ok = run_cli("fs2", "".join(pieces), "--out", str(whole), "-q")
    assert ok.returncode == 0
    assert np.array_equal(sf.read(out)[0], sf.read(whole)[0])


def test_ssml_on_stdin_is_spoken_a_sentence_at_a_time_as_its_markup_closes() -> None:
    """The first sentence is heard while the second's markup is still open (split mid-tag),
    and the second only once it has closed."""
    first = run_cli("fs2", "<speak>Hello <emphasis>there</emphasis>.</speak>", "--out", "-",
                    "-q").stdout  # fmt: skip
    whole = (
        '<speak>Hello <emphasis>there</emphasis>. And <prosody rate="slow">now</prosody>.</speak>'
    )
    cut = whole.index("now</pro") + 4
    process = subprocess.Popen(
        [sys.executable, "-m", "ttscli", "fs2", "--out", "-", "-q"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert process.stdin is not None and process.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    heard = b""
    try:
        process.stdin.write(whole[:cut].encode())
        process.stdin.flush()
        deadline = time.monotonic() + 120  # a ceiling for a hang, not a speed target
        while len(heard) < len(first) and time.monotonic() < deadline:
            if selector.select(timeout=1.0):
                heard += os.read(process.stdout.fileno(), 1 << 16)
        time.sleep(0.5)  # whatever else would come before the markup closes
        while selector.select(timeout=0):
            data = os.read(process.stdout.fileno(), 1 << 16)
            if not data:
                break
            heard += data
        assert process.poll() is None, "ttscli ended before its input did"
        assert heard == first, "the first sentence was not heard alone while stdin was open"
        process.stdin.write(whole[cut:].encode())
        process.stdin.close()
        rest = process.stdout.read()
        assert process.wait(timeout=120) == 0, process.stderr.read()  # type: ignore[union-attr]
    finally:
        process.kill()
    assert heard + rest == run_cli("fs2", whole, "--out", "-", "-q").stdout


def test_each_batch_line_gets_its_timing_file_named_in_the_manifest(tmp_path: Path) -> None:
    lines = tmp_path / "lines.txt"
    lines.write_text('Hello there.\n<speak>One <mark name="m"/>two.</speak>\nThird line.\n')
    out = tmp_path / "clips"
    batch = ("fs2", "--in", str(lines), "--out", str(out), "-q", "--timestamps")
    assert run_cli(*batch, "json").returncode == 0
    entries = [json.loads(x) for x in (out / "manifest.jsonl").read_text().splitlines()]
    assert [e["timestamps"] for e in entries] == ["0001.json", "0002.json", "0003.json"]
    first = json.loads((out / "0001.json").read_text())
    assert [w["word"] for w in first["words"]] == ["Hello", "there"]
    assert first["words"][-1]["end"] <= sf.info(str(out / "0001.wav")).duration
    second = json.loads((out / "0002.json").read_text())
    assert second["marks"] == [{"name": "m", "time": second["words"][1]["start"]}]
    (out / "0002.json").unlink()
    again = run_cli(*batch, "json", "--json")
    assert json.loads(again.stdout)["written"] == 1  # only the line that lost its timings
    one_line_error(run_cli(*batch, "words.txt"), "name a format")


def test_word_starts_lead_the_durations_only_where_words_run_together() -> None:
    """The voice's sound runs ahead of its durations from word to word; at the sentence's
    start and right after a cut-in pause the audio itself starts at the boundary."""
    utterance = Utterance(
        "a b c", ("AH0", "B", "IY1", "S", "IY1", "."),
        (WordSpan("a", 0, 1), WordSpan("b", 1, 3), WordSpan("c", 3, 5)),
        pauses=((3, 0.5),),
    )  # fmt: skip
    durations = [10, 10, 10, 10, 10, 5]
    plain = word_timing(utterance, durations, 0.0, 0.01)
    led = word_timing(utterance, durations, 0.0, 0.01, lead_frames=4)
    assert [(w.start, w.end) for w in plain.words] == [(0, 0.1), (0.1, 0.3), (0.8, 1.0)]
    assert [(w.start, w.end) for w in led.words] == [(0, 0.06), (0.06, 0.3), (0.8, 0.96)]


def test_a_lexicon_wins_and_its_mistakes_name_the_line(tmp_path: Path) -> None:
    lexicon = tmp_path / "words.tsv"
    lexicon.write_text("# names\nttscli\tT IY1 T IY1 EH1 S S IY1 EH1 L AY1\nKyutai\tkjuːˈtaɪ\n")
    result = run_cli("fs2", "ttscli Kyutai", "--lexicon", str(lexicon), "--phonemes",
                     "--out", str(tmp_path / "a.wav"), "-q")  # fmt: skip
    assert result.returncode == 0, result.stderr.decode()
    said = result.stdout.decode()
    assert "T IY1 T IY1 EH1 S S IY1 EH1 L AY1 K Y UW0 T AY1" in said
    again = ["fs2", "Hi.", "--lexicon", str(lexicon), "--out", str(tmp_path / "b.wav")]
    lexicon.write_text("good\tG UH1 D\nbad line without a tab\n")
    one_line_error(run_cli(*again), "line 2")
    lexicon.write_text("word\tnot phonemes at all 123\n")
    one_line_error(run_cli(*again), "word")


def test_sentence_and_paragraph_silences(voice: FS2Engine) -> None:
    """Between sentences, and after a blank line (also when a sentence end comes first)."""
    text = "One sentence. Another one.\n\nA new paragraph."
    plain = np.concatenate([c.audio for c in voice.stream(text)])
    options = voice.options({"sentence_silence": 0.5, "paragraph_silence": 1.0})
    spaced = np.concatenate([c.audio for c in voice.stream(text, options)])
    assert (len(spaced) - len(plain)) / voice.sample_rate == pytest.approx(1.5, abs=0.01)


def test_plain_text_is_read_as_before_and_its_words_are_timed(voice: FS2Engine) -> None:
    utterance = speakable_utterances("Hello there, Doctor Smith.")[0]
    assert [w.text for w in utterance.words] == ["Hello", "there", "Doctor", "Smith"]
    assert utterance.styles == () and utterance.pauses == ()
    _, chunks = speak(voice, "Hello there, Doctor Smith.")
    times = [(w.start, w.end) for c in chunks for w in c.words]
    assert times == sorted(times) and times[0][0] == 0.0
    total = sum(c.seconds for c in chunks)
    assert times[-1][1] <= total + 1e-3


def test_ssml_lines_in_a_batch_sound_as_they_do_alone(tmp_path: Path) -> None:
    document = '<speak>Hello <break time="500ms"/>there.</speak>'
    lines = tmp_path / "lines.txt"
    lines.write_text(f"Plain words here.\n{document}\n")
    out = tmp_path / "clips"
    result = run_cli("fs2", "--in", str(lines), "--out", str(out), "-q")
    assert result.returncode == 0, result.stderr.decode()
    alone = tmp_path / "alone.wav"
    assert run_cli("fs2", document, "--out", str(alone), "-q").returncode == 0
    np.testing.assert_array_equal(sf.read(out / "0002.wav")[0], sf.read(alone)[0])
    manifest = [json.loads(x) for x in (out / "manifest.jsonl").read_text().splitlines()]
    assert manifest[1]["text"] == document and "HH AH0 L OW1" in manifest[1]["phonemes"]
