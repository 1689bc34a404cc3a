"""The Python API as users call it: the docs' example verbatim, and its promises."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import ttscli

DOC = Path(__file__).resolve().parent.parent / "docs" / "python-api.md"


def doc_example() -> str:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## Example", 1)[1]
    found = re.search(r"```python\n(.*?)```", section, re.S)
    assert found, "docs/python-api.md: no python block under '## Example'"
    return found.group(1)


def test_the_docs_example_runs_verbatim(tmp_path: Path) -> None:
    script = tmp_path / "example.py"
    script.write_text(doc_example(), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, timeout=600
    )
    assert result.returncode == 0, result.stderr.decode()
    written = [p for p in tmp_path.iterdir() if p.suffix in (".wav", ".flac", ".ogg")]
    assert written, "the example writes a file"
    audio, _ = sf.read(written[0])
    assert len(audio) > 0


@pytest.fixture(scope="module")
def voice() -> ttscli.Voice:
    return ttscli.load("fs2", device="cpu")


def test_engines_are_listed_by_name() -> None:
    assert {"fs2", "kyutai"} <= set(ttscli.engine_names())


def test_synthesize_follows_options_and_refuses_bad_ones(voice: ttscli.Voice) -> None:
    plain = voice.synthesize("Hello there.")
    slow = voice.synthesize("Hello there.", duration=1.5)
    assert plain.sample_rate == voice.sample_rate and plain.audio.dtype == np.float32
    assert 1.35 < slow.seconds / plain.seconds < 1.65
    with pytest.raises(ttscli.UserError, match="pitch"):
        voice.synthesize("Hello there.", pitch=9.0)
    with pytest.raises(ttscli.UserError, match="colour"):
        voice.synthesize("Hello there.", colour=2)


def test_stream_takes_fragments_and_matches_synthesize(voice: ttscli.Voice) -> None:
    whole = voice.synthesize("One sentence. And another one.")
    pieces = ["One sen", "tence. And ano", "ther one."]
    streamed = np.concatenate([c.audio for c in voice.stream(iter(pieces))])
    assert np.array_equal(streamed, whole.audio)


def test_write_is_whole_or_nothing(voice: ttscli.Voice, tmp_path: Path) -> None:
    target = tmp_path / "hello.flac"
    stats = voice.write(target, "Hello there.")
    audio, rate = sf.read(target)
    assert rate == voice.sample_rate and abs(len(audio) / rate - stats.audio_seconds) < 0.01
    with pytest.raises(ttscli.UserError):
        voice.write(tmp_path / "bad.wav", "Hello.", pitch=9.0)
    assert not (tmp_path / "bad.wav").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["hello.flac"]


def test_ssml_goes_through_the_api(voice: ttscli.Voice) -> None:
    document = ttscli.ssml('<speak>Hello <mark name="m"/>there. <break time="500ms"/>Bye.</speak>')
    chunk = voice.synthesize(document)
    plain = voice.synthesize("Hello there. Bye.")
    assert chunk.seconds - plain.seconds == pytest.approx(0.5, abs=0.02)
    assert [w.text for w in chunk.words] == ["Hello", "there", "Bye"]
    assert [m.text for m in chunk.marks] == ["m"]
    with pytest.raises(ttscli.UserError, match="SSML"):
        ttscli.ssml("<speak><b></speak>")
