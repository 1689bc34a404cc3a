"""KyutaiEngine, weight/voice resolution and voice listing against a tiny random checkpoint.

Everything runs offline from a private HF cache built by ``kyutai_fixture``; the model uses
8 of its 32 codebooks and one CPU thread so the module stays well under a minute on 2 cores.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator

import numpy as np
import pytest
import torch

from tests.kyutai_fixture import TinyKyutai
from tests.loopback_hub import dropping_hub
from ttscli.engines.base import Chunk, Word
from ttscli.kyutai import KyutaiEngine, list_voices
from ttscli.kyutai.engine import compile_enabled
from ttscli.kyutai.voices import format_listing
from ttscli.kyutai.weights import DEFAULT_TTS_REPO, DEFAULT_VOICE_REPO, resolve_checkpoint
from ttscli.text.feed import WordFeed
from ttscli.util.errors import UserError

FRAME = 1920


@pytest.fixture(scope="session")
def engine(tiny_kyutai: TinyKyutai) -> Iterator[KyutaiEngine]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny ops: threads only add contention on a shared 2-core box
    try:
        yield KyutaiEngine.load(
            voice=tiny_kyutai.voice_name,
            hf_repo=tiny_kyutai.model_repo,
            voice_repo=tiny_kyutai.voice_repo,
            device="cpu",
            n_q=8,
            seed=0,
        )
    finally:
        torch.set_num_threads(threads)


def _audio(chunks: list[Chunk]) -> np.ndarray:
    pieces = [c.audio for c in chunks]
    return np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)


def _words(chunks: list[Chunk]) -> list[Word]:
    return [word for chunk in chunks for word in chunk.words]


def test_defaults_are_moshis() -> None:
    from moshi.models.tts import DEFAULT_DSM_TTS_REPO, DEFAULT_DSM_TTS_VOICE_REPO

    assert (DEFAULT_TTS_REPO, DEFAULT_VOICE_REPO) == (
        DEFAULT_DSM_TTS_REPO,
        DEFAULT_DSM_TTS_VOICE_REPO,
    )


def test_fixture_is_a_real_hf_cache(tiny_kyutai: TinyKyutai) -> None:
    """moshi's own loader, left to talk to huggingface_hub itself, finds every file offline."""
    from moshi.models.loaders import CheckpointInfo

    info = CheckpointInfo.from_hf_repo(tiny_kyutai.model_repo)
    assert info.moshi_weights.is_file() and info.mimi_weights.is_file()
    assert info.tts_config["second_stream_ahead"] == 2
    assert info.mimi_config is not None and info.mimi_config["frame_rate"] == 12.5


def test_load_offline(engine: KyutaiEngine) -> None:
    assert engine.sample_rate == 24000
    assert engine.load_seconds > 0
    assert engine.device == "cpu"


def test_stream_yields_float32_and_longer_text_is_longer(engine: KyutaiEngine) -> None:
    started = time.perf_counter()
    short = list(engine.stream("Hello world."))
    frames = [c.audio for c in short if c.audio.size]
    assert frames and all(c.dtype == np.float32 and c.shape == (FRAME,) for c in frames)
    assert all(c.sample_rate == 24000 for c in short)
    # the latency clock starts when the first word reached the model
    assert all(c.text_ready_at is not None and c.text_ready_at >= started for c in short)
    longer = _audio(list(engine.stream("Hello world, how are you today? I am fine.")))
    assert longer.size > _audio(short).size
    assert np.all(np.abs(longer) <= 1.0)


def test_stream_starts_before_the_text_source_is_exhausted(engine: KyutaiEngine) -> None:
    sentence = "Words arrive one by one from a language model and the speech starts early"
    words = sentence.split(" ")
    consumed: list[int] = []

    def source() -> Iterator[str]:
        for i, word in enumerate(words):
            consumed.append(i)
            yield word + " "  # fragments carry their own spaces, like LLM tokens

    stream = engine.stream(source())
    first = next(stream)
    assert first.audio.shape == (FRAME,)
    assert len(consumed) < len(words), "audio must start while text is still arriving"
    assert len(consumed) >= 3  # the model needs its look-ahead words before speaking
    stream.close()  # a listener may hang up early; the engine must be reusable afterwards
    assert list(engine.stream("Good morning.")), "engine unusable after an early close"


def test_fragments_split_mid_word_equal_whole_text(engine: KyutaiEngine) -> None:
    whole = _audio(list(engine.stream("Hello world, thank you.")))
    pieces = _audio(list(engine.stream(iter(["Hel", "lo wor", "ld, th", "ank you."]))))
    np.testing.assert_array_equal(whole, pieces)  # seeded: same words, same audio


def test_word_timings(engine: KyutaiEngine) -> None:
    chunks = list(engine.stream("The quick brown fox."))
    audio = _audio(chunks)
    timings = _words(chunks)
    assert [w.text for w in timings] == ["The", "quick", "brown", "fox."]
    duration = audio.size / engine.sample_rate
    for word, following in itertools.pairwise(timings):
        assert word.start < word.end == following.start
    assert timings[0].start >= 0
    assert timings[-1].end <= duration + 1e-6


def test_words_arrive_with_the_audio_that_ends_them(engine: KyutaiEngine) -> None:
    """A word comes out once its end is known and inside the audio already returned, so a
    server can send word events while it streams, not after."""
    heard = 0.0
    early = 0
    chunks = list(engine.stream("One two three four five six seven eight nine ten."))
    for chunk in chunks:
        heard += chunk.seconds
        for word in chunk.words:
            assert word.end <= heard + 1e-6
        if chunk.audio.size and chunk.words:
            early += len(chunk.words)
    assert early >= 5, "most words should be final before the stream ends"
    streamed = [w.text for w in _words(chunks)]
    assert streamed == "One two three four five six seven eight nine ten.".split()


def test_synthesize_batch(engine: KyutaiEngine) -> None:
    texts = ["Hello world.", "", "The quick brown fox jumps."]
    chunks = engine.synthesize_batch([engine.prepare_line(text) for text in texts])
    out = [chunk.audio for chunk in chunks]
    assert len(out) == 3
    assert out[1].size == 0
    assert all(a.dtype == np.float32 and a.ndim == 1 for a in out)
    assert out[0].size > 0 and out[2].size > out[0].size  # trimmed to each item's own end
    assert [w.text for w in chunks[2].words] == [
        "The",
        "quick",
        "brown",
        "fox",
        "jumps.",
    ]
    assert chunks[1].words == ()


def test_empty_text_gives_no_audio(engine: KyutaiEngine) -> None:
    assert list(engine.stream("   ")) == []


def test_missing_weights_fail_fast_offline(
    tiny_kyutai: TinyKyutai, monkeypatch: pytest.MonkeyPatch
) -> None:
    with dropping_hub() as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        with pytest.raises(UserError) as info:
            KyutaiEngine.load(voice=None, hf_repo=tiny_kyutai.incomplete_repo, device="cpu")
    message = str(info.value)
    assert hub.connections == []  # offline: not even one connection
    assert "\n" not in message
    for name in ("dsm_tts_0123abcd@7.safetensors", "tokenizer-tiny-mimi.safetensors"):
        assert name in message
    assert "hf download" in message and "HF_HUB_OFFLINE" in message


def test_absent_default_repo_names_its_files(tiny_kyutai: TinyKyutai) -> None:
    with pytest.raises(UserError) as info:
        resolve_checkpoint(None)  # kyutai/tts-1.6b-en_fr is not in the private cache
    message = str(info.value)
    assert "config.json" in message and "dsm_tts_1e68beda@240.safetensors" in message
    assert "hf download kyutai/tts-1.6b-en_fr" in message


def test_unreachable_hub_fails_fast(
    tiny_kyutai: TinyKyutai,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import huggingface_hub.constants as hf_constants
    from huggingface_hub.utils import reset_sessions

    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    # huggingface_hub reads its offline switch once, at import, and mounts a refusing
    # adapter on the HTTP session it caches: turn both off, or it refuses before connecting
    # and the hub's behaviour is never exercised.
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    reset_sessions()
    try:
        with dropping_hub() as hub:
            monkeypatch.setenv("HF_ENDPOINT", hub.url)
            with pytest.raises(UserError, match="unreachable"):
                resolve_checkpoint(tiny_kyutai.incomplete_repo)
    finally:
        monkeypatch.undo()
        reset_sessions()  # later tests get an offline session again
    # One probe, then a one-line error: no download attempts retried with back-off.
    assert len(hub.connections) == 1, hub.connections
    assert hub.connections[0].startswith(b"GET /api/models/")


def test_unknown_voice(tiny_kyutai: TinyKyutai) -> None:
    with pytest.raises(UserError) as info:
        KyutaiEngine.load(
            voice="vctk/nobody.wav",
            hf_repo=tiny_kyutai.model_repo,
            voice_repo=tiny_kyutai.voice_repo,
            device="cpu",
        )
    assert "vctk/nobody.wav" in str(info.value) and "ttscli voices" in str(info.value)


def test_model_dir_and_local_voice_file(tiny_kyutai: TinyKyutai) -> None:
    engine = KyutaiEngine.load(
        voice=str(tiny_kyutai.voice_file),
        model_dir=tiny_kyutai.model_dir,
        device="cpu",
        n_q=4,
        seed=1,
    )
    assert engine.model.n_q == 4


@pytest.mark.parametrize(
    ("option", "match"),
    [
        ({"cfg_coef": 1.7}, "cfg-coef"),
        ({"n_q": 64}, "at most 32"),
        ({"n_q": 0}, "n-q"),
        ({"temp": -1.0}, "temp"),
        ({"device": "tpu"}, "device"),
    ],
)
def test_bad_options_are_user_errors(
    tiny_kyutai: TinyKyutai,
    option: dict,
    match: str,
) -> None:
    kwargs = {"voice": tiny_kyutai.voice_name, "voice_repo": tiny_kyutai.voice_repo}
    with pytest.raises(UserError, match=match):
        KyutaiEngine.load(hf_repo=tiny_kyutai.model_repo, **{"device": "cpu", **kwargs, **option})


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_requested_without_gpu() -> None:
    with pytest.raises(UserError, match="CUDA is not available"):
        KyutaiEngine.load(voice=None, device="cuda")


def test_list_voices_offline(tiny_kyutai: TinyKyutai, monkeypatch: pytest.MonkeyPatch) -> None:
    with dropping_hub() as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        listing = list_voices(
            tiny_kyutai.voice_repo, online=True, voice_suffix=tiny_kyutai.voice_suffix
        )
    assert hub.connections == []
    assert listing.online_error and "offline" in listing.online_error
    folders = {f.name: f for f in listing.folders}
    assert set(folders) == {"vctk", "expresso", "voice-donations"}
    assert folders["expresso"].licence.commercial is False
    assert folders["vctk"].licence.commercial is True
    assert folders["voice-donations"].licence.name == "CC0"
    assert [v.name for v in folders["vctk"].voices] == [tiny_kyutai.voice_name]
    assert all(v.cached for f in listing.folders for v in f.voices)
    text = format_listing(listing)
    assert "NON-COMMERCIAL" in text and tiny_kyutai.voice_name in text


def test_text_feed_releases_whole_words_and_whole_tags() -> None:
    feed = WordFeed()
    assert feed.push("Hel") == ""
    assert feed.push("lo wor") == "Hello"
    assert feed.push('ld <break time="1') == " world "  # the tag waits until it is closed
    assert feed.push('s"/> next ') == '<break time="1s"/> next'
    assert feed.flush() == " "


def test_compile_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TTSCLI_TORCH_COMPILE", raising=False)
    assert not compile_enabled("cpu") and not compile_enabled("cuda")
    monkeypatch.setenv("TTSCLI_TORCH_COMPILE", "1")
    assert compile_enabled("cuda")
    monkeypatch.setenv("TTSCLI_TORCH_COMPILE", "maybe")
    with pytest.raises(UserError):
        compile_enabled("cuda")


def _moshi_generate_frames(engine: KyutaiEngine, text: str, seed: int) -> torch.Tensor:
    """Tokens from moshi's own ``TTSModel.generate`` for ``text`` (whole script up front)."""
    tts = engine.model
    torch.manual_seed(seed)
    entries = tts.prepare_script([text], padding_between=1)
    with torch.no_grad():
        result = tts.generate([entries], [engine.condition_attributes()])
    return torch.cat(result.frames, dim=-1)


@pytest.mark.parametrize("fragments", ["whole", "word by word"])
def test_stepped_generation_yields_moshis_own_tokens(engine: KyutaiEngine, fragments: str) -> None:
    """Golden test of our copy of moshi's generation loop: same seed, text and voice, the
    same tokens as ``TTSModel.generate``, whether the text arrives at once or word by word.
    It fails when a new moshi pin changes the loop we mirror."""
    text = "Hello world, the quick brown fox jumps over the lazy dog."
    expected = _moshi_generate_frames(engine, text, seed=11)
    torch.manual_seed(11)
    pieces = [text] if fragments == "whole" else [w + " " for w in text.split()]
    ours = stepped_frames(engine, [(piece, None) for piece in pieces])
    assert ours.shape == expected.shape
    assert torch.equal(ours, expected)


def stepped_frames(
    engine: KyutaiEngine, pieces: list[tuple[str, int | None]], rows: list | None = None
) -> torch.Tensor:
    """The tokens of our stepped loop fed ``pieces`` (text, speaker) one at a time, stepping
    whenever it may, as ``TTSModel.generate`` returns them."""
    with engine.generation(1, keep_frames=True, rows=rows) as gen:
        for piece, speaker in pieces:
            gen.feed(0, piece, speaker=speaker)
            while gen.can_step():
                gen.step()
        gen.close_input(0)
        while not gen.done():
            gen.step()
    assert gen.kept_frames is not None
    return torch.cat(gen.kept_frames, dim=-1)


def test_slots_started_at_different_steps_each_sound_as_if_alone(
    tiny_kyutai: TinyKyutai,
) -> None:
    """The server's batched loop: a stream that joins a running batch later, and is fed its
    words one by one with steps skipped while it waits, gives (greedy sampling) the audio
    and word timings it gives alone; the first stream is not disturbed either."""
    from ttscli.kyutai.slots import SlotGeneration

    greedy = KyutaiEngine.load(
        voice=tiny_kyutai.voice_name, hf_repo=tiny_kyutai.model_repo,
        voice_repo=tiny_kyutai.voice_repo, device="cpu", n_q=8, temp=0.0,
    )  # fmt: skip
    texts = ["Hello world, the quick brown fox.", "A second stream starts later, word by word."]
    alone = [list(greedy.stream(text)) for text in texts]
    audio: list[list[np.ndarray]] = [[], []]
    words: list[list[Word]] = [[], []]
    with SlotGeneration(greedy, 3) as gen:
        first = gen.open()
        gen.feed(first, texts[0])
        gen.close_input(first)
        owner, pending, step = {first: 0}, [w + " " for w in texts[1].split()], 0
        while any(gen.occupied):
            if step == 5:
                second = gen.open()
                owner[second] = 1
            if step >= 5 and step % 4 == 1 and pending:
                gen.feed(second, pending.pop(0))
                if not pending:
                    gen.close_input(second)
            for slot, frame in gen.step_slots([s for s in owner if gen.runnable(s)]).items():
                audio[owner[slot]].append(frame)
                words[owner[slot]] += gen.new_words(slot)
            for slot in [s for s in owner if gen.occupied[s] and gen.slot_done(s)]:
                words[owner[slot]] += gen.last_words(slot)
                gen.release(slot)
            step += 1
            assert step < 2000
    for i in (0, 1):
        np.testing.assert_allclose(np.concatenate(audio[i]), _audio(alone[i]), atol=1e-5)
        assert words[i] == _words(alone[i])
