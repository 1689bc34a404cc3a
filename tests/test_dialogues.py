"""Kyutai with more than one voice: per-row voices in batches and slots, dialogues (two
voices, turns), against moshi's own ``TTSModel.generate`` on the tiny checkpoint.

The tiny Mimi has seeded, non-zero codebooks (``kyutai.synthetic.fill_codebooks``), so the
audio shows which tokens the model made: a voice that is ignored would be heard here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.kyutai_fixture import TinyKyutai
from tests.test_kyutai_engine import stepped_frames
from ttscli.engines.base import Chunk, OptionError
from ttscli.kyutai import KyutaiEngine
from ttscli.kyutai.synthetic import OTHER_VOICES
from ttscli.text.dialogue import Dialogue, Turn, parse_dialogue, turns_as_they_arrive
from ttscli.util.errors import UserError

TURNS = [
    "Hello there, how are you today?",
    "I am fine, thank you.",
    "The quick brown fox jumps over the lazy dog.",
    "Good morning.",
]


def _load(tiny: TinyKyutai, temp: float) -> KyutaiEngine:
    return KyutaiEngine.load(
        voice=tiny.voice_name, hf_repo=tiny.model_repo, voice_repo=tiny.voice_repo,
        device="cpu", n_q=8, temp=temp, seed=0,
    )  # fmt: skip


@pytest.fixture(scope="module")
def greedy(tiny_kyutai: TinyKyutai) -> Iterator[KyutaiEngine]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield _load(tiny_kyutai, 0.0)
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def sampled(tiny_kyutai: TinyKyutai) -> KyutaiEngine:
    return _load(tiny_kyutai, 0.6)


def _audio(chunks: list[Chunk]) -> np.ndarray:
    pieces = [c.audio for c in chunks]
    return np.concatenate(pieces) if pieces else np.zeros(0, np.float32)


def _pair(tiny: TinyKyutai) -> list[str]:
    return [tiny.voice_name, OTHER_VOICES[0]]


def test_two_voices_give_different_audio(greedy: KyutaiEngine) -> None:
    """The premise of every audio test below: the test checkpoint's audio shows the voice."""
    text = "Hello world, this is a test of the voice."
    first = _audio(list(greedy.stream(text)))
    other = _audio(list(greedy.stream(text, greedy.options({"voices": [OTHER_VOICES[0]]}))))
    assert len(first) and len(other)
    n = min(len(first), len(other))
    assert np.abs(first[:n] - other[:n]).max() > 1e-3


def _moshi_frames(engine: KyutaiEngine, voices: list[str], seed: int) -> torch.Tensor:
    tts = engine.model
    attributes = engine.condition_attributes(engine.options({"voices": voices}))
    torch.manual_seed(seed)
    entries = tts.prepare_script(TURNS, padding_between=1)
    with torch.no_grad():
        result = tts.generate([entries], [attributes])
    return torch.cat(result.frames, dim=-1)


@pytest.mark.parametrize("sampling", ["greedy", "seeded"])
@pytest.mark.parametrize("fragments", ["whole", "word by word"])
def test_dialogue_tokens_are_moshis(
    greedy: KyutaiEngine, sampled: KyutaiEngine, tiny_kyutai: TinyKyutai,
    sampling: str, fragments: str,
) -> None:  # fmt: skip
    """Golden: a two-voice, four-turn script through our stepped loop gives exactly the
    tokens of ``TTSModel.generate``, whether each turn comes whole or word by word."""
    engine = greedy if sampling == "greedy" else sampled
    voices = _pair(tiny_kyutai)
    expected = _moshi_frames(engine, voices, seed=5)
    options = engine.options({"voices": voices})
    torch.manual_seed(5)
    pieces = [
        (piece, n % 2 + 1)
        for n, turn in enumerate(TURNS)
        for piece in ([turn] if fragments == "whole" else [w + " " for w in turn.split()])
    ]
    ours = stepped_frames(engine, pieces, rows=[options])
    assert ours.shape == expected.shape
    assert torch.equal(ours, expected)


def test_labelled_text_streamed_equals_the_whole_dialogue(
    greedy: KyutaiEngine, tiny_kyutai: TinyKyutai
) -> None:
    """Turns on stdin are spoken as they arrive: the same audio and timings, with each
    word's speaker, whether the labelled text comes whole or cut mid-label and mid-word."""
    options = greedy.options({"voices": _pair(tiny_kyutai)})
    text = " ".join(f"[S{n % 2 + 1}] {turn}" for n, turn in enumerate(TURNS))
    whole = list(greedy.stream(text, options))
    cut = [text[i : i + 3] for i in range(0, len(text), 3)]
    streamed = list(greedy.stream(iter(cut), options))
    np.testing.assert_array_equal(_audio(whole), _audio(streamed))
    words = [w for c in whole for w in c.words]
    assert words == [w for c in streamed for w in c.words]
    said = [(w.text, w.speaker) for w in words]
    expected = [(word, n % 2 + 1) for n, turn in enumerate(TURNS) for word in turn.split()]
    assert said == expected
    batch = greedy.synthesize_batch([greedy.prepare_line(Dialogue.from_texts(TURNS), options)])
    np.testing.assert_allclose(batch[0].audio, _audio(whole), atol=1e-5)


def test_one_turn_a_line_alternates_speakers(greedy: KyutaiEngine, tiny_kyutai: TinyKyutai) -> None:
    options = greedy.options({"voices": _pair(tiny_kyutai)})
    labelled = " ".join(f"[S{n % 2 + 1}] {turn}" for n, turn in enumerate(TURNS))
    lines = "\n\n".join(TURNS) + "\n"
    np.testing.assert_array_equal(
        _audio(list(greedy.stream(lines, options))), _audio(list(greedy.stream(labelled, options)))
    )


def test_batch_rows_with_different_voices_each_give_what_they_give_alone(
    greedy: KyutaiEngine, tiny_kyutai: TinyKyutai
) -> None:
    voices = [[tiny_kyutai.voice_name], [OTHER_VOICES[0]], [OTHER_VOICES[1]]]
    texts = ["Hello world, the quick brown fox.", "A second line here.", "Good morning."]
    rows = [greedy.options({"voices": v, "padding_between": n}) for n, v in enumerate(voices)]
    lines = [greedy.prepare_line(t, o) for t, o in zip(texts, rows, strict=True)]
    assert len({line.batch_key for line in lines}) == 1  # voices and pacing share a batch
    together = greedy.synthesize_batch(lines)
    for text, options, chunk in zip(texts, rows, together, strict=True):
        alone = list(greedy.stream(text, options))
        np.testing.assert_allclose(chunk.audio, _audio(alone), atol=1e-5)
        assert list(chunk.words) == [w for c in alone for w in c.words]


def test_slots_with_different_voices_each_sound_as_if_alone(
    greedy: KyutaiEngine, tiny_kyutai: TinyKyutai
) -> None:
    """The server's slots: each request conditioned on its own voice (one a dialogue)."""
    from ttscli.kyutai.slots import SlotGeneration

    requests = [
        ("Hello world, the quick brown fox.", greedy.options({"voices": [OTHER_VOICES[1]]})),
        ("[S1] Hi there. [S2] Hello to you.", greedy.options({"voices": _pair(tiny_kyutai)})),
    ]
    alone = [_audio(list(greedy.stream(text, options))) for text, options in requests]
    audio: list[list[np.ndarray]] = [[], []]
    with SlotGeneration(greedy, 2) as gen:
        owner = {}
        for n, (text, options) in enumerate(requests):
            slot = gen.open()
            assert slot is not None
            owner[slot] = n
            gen.feed_text(slot, text, options)
            gen.close_input(slot)
        steps = 0
        while any(gen.occupied):
            for slot, frame in gen.step_slots([s for s in owner if gen.runnable(s)]).items():
                audio[owner[slot]].append(frame)
            for slot in [s for s in owner if gen.occupied[s] and gen.slot_done(s)]:
                gen.release(slot)
            steps += 1
            assert steps < 2000
    for n in (0, 1):
        np.testing.assert_allclose(np.concatenate(audio[n]), alone[n], atol=1e-5)


def test_a_line_with_its_own_seed_runs_alone(sampled: KyutaiEngine) -> None:
    seeded = sampled.options({"seed": 7})
    first = sampled.prepare_line("Hello there.", seeded)
    second = sampled.prepare_line("Hello there.", seeded)
    plain = sampled.prepare_line("Hello there.", sampled.options({}))
    assert len({first.batch_key, second.batch_key, plain.batch_key}) == 3
    batch = sampled.synthesize_batch([first])
    alone = _audio(list(sampled.stream("Hello there.", seeded)))
    np.testing.assert_allclose(batch[0].audio, alone, atol=1e-5)


def test_dialogue_errors(greedy: KyutaiEngine, tiny_kyutai: TinyKyutai, tmp_path: Path) -> None:
    with pytest.raises(OptionError, match="at most 2"):
        greedy.options({"voices": [*_pair(tiny_kyutai), OTHER_VOICES[1]]})
    with pytest.raises(OptionError, match="voices"):
        greedy.options({"voices": ["nobody/here.wav"]})
    options = greedy.options({"voices": _pair(tiny_kyutai)})
    with pytest.raises(UserError, match="SSML is for one voice"):
        greedy.prepare_line("<speak>Hello.</speak>", options)
    with pytest.raises(UserError, match="two voices"):
        greedy.prepare_line(Dialogue.from_texts(TURNS), greedy.options({}))
    with pytest.raises(UserError, match=r"\[S1\] and \[S2\]"):
        parse_dialogue("[S1] Hello. [S3] Who?")
    from ttscli.kyutai.synthetic import build_checkpoint

    build_checkpoint(tmp_path / "mono", speakers=False)
    mono = KyutaiEngine.load(
        voice=str(tiny_kyutai.voice_file), model_dir=tmp_path / "mono", device="cpu", n_q=8
    )
    with pytest.raises(OptionError, match="one voice: no dialogues"):
        mono.options({"voices": _pair(tiny_kyutai)})


@pytest.mark.parametrize(
    ("text", "turns"),
    [
        ("[S1] Hello. [S2] Hi! [S2] Again. [S1] Bye.",
         [(1, "Hello."), (2, "Hi! Again."), (1, "Bye.")]),
        ("First line.\nSecond line.\n\nThird line.", [(1, "First line."), (2, "Second line."),
                                                     (1, "Third line.")]),
        ("[s2] Starts with the other.", [(2, "Starts with the other.")]),
    ],
)  # fmt: skip
def test_turns_are_read_from_labels_or_lines(text: str, turns: list[tuple[int, str]]) -> None:
    expected = [Turn(speaker, said) for speaker, said in turns]
    assert list(parse_dialogue(text).turns) == expected
    pieces = [text[i : i + 2] for i in range(0, len(text), 2)]
    streamed: list[tuple[int, str]] = []
    words = ""
    for speaker, piece, ends in turns_as_they_arrive(pieces):
        words += piece
        if ends and words.strip():
            said = " ".join(words.split())
            if streamed and streamed[-1][0] == speaker:
                streamed[-1] = (speaker, f"{streamed[-1][1]} {said}")
            else:
                streamed.append((speaker, said))
        if ends:
            words = ""
    assert streamed == turns
