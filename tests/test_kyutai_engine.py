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
from ttscli.errors import UserError
from ttscli.kyutai import KyutaiEngine, list_voices
from ttscli.kyutai.engine import TextFeed, compile_enabled
from ttscli.kyutai.voices import format_listing
from ttscli.kyutai.weights import DEFAULT_TTS_REPO, DEFAULT_VOICE_REPO, resolve_checkpoint

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


def _audio(chunks: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)


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
    short = list(engine.stream("Hello world."))
    assert short and all(c.dtype == np.float32 and c.shape == (FRAME,) for c in short)
    assert engine.first_audio_seconds is not None and engine.first_audio_seconds > 0
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
    assert first.shape == (FRAME,)
    assert len(consumed) < len(words), "audio must start while text is still arriving"
    assert len(consumed) >= 3  # the model needs its look-ahead words before speaking
    stream.close()  # a listener may hang up early; the engine must be reusable afterwards
    assert list(engine.stream("Good morning.")), "engine unusable after an early close"


def test_fragments_split_mid_word_equal_whole_text(engine: KyutaiEngine) -> None:
    whole = _audio(list(engine.stream("Hello world, thank you.")))
    pieces = _audio(list(engine.stream(iter(["Hel", "lo wor", "ld, th", "ank you."]))))
    np.testing.assert_array_equal(whole, pieces)  # seeded: same words, same audio


def test_word_timings(engine: KyutaiEngine) -> None:
    audio = _audio(list(engine.stream("The quick brown fox.")))
    timings = engine.word_timings
    assert [w for w, _, _ in timings] == ["The", "quick", "brown", "fox."]
    duration = audio.size / engine.sample_rate
    for (_, start, end), (_, next_start, _) in itertools.pairwise(timings):
        assert start < end == next_start
    assert timings[0][1] >= 0
    assert timings[-1][2] <= duration + 1e-6


def test_synthesize_batch(engine: KyutaiEngine) -> None:
    texts = ["Hello world.", "", "The quick brown fox jumps."]
    out = engine.synthesize_batch(texts)
    assert len(out) == 3
    assert out[1].size == 0
    assert all(a.dtype == np.float32 and a.ndim == 1 for a in out)
    assert out[0].size > 0 and out[2].size > out[0].size  # trimmed to each item's own end
    assert [w for w, _, _ in engine.batch_word_timings[2]] == [
        "The",
        "quick",
        "brown",
        "fox",
        "jumps.",
    ]
    assert engine.word_timings == engine.batch_word_timings[-1]


def test_empty_text_gives_no_audio(engine: KyutaiEngine) -> None:
    assert list(engine.stream("   ")) == []
    assert engine.word_timings == []


def test_missing_weights_fail_fast_offline(tiny_kyutai: TinyKyutai) -> None:
    start = time.perf_counter()
    with pytest.raises(UserError) as info:
        KyutaiEngine.load(voice=None, hf_repo=tiny_kyutai.incomplete_repo, device="cpu")
    message = str(info.value)
    assert time.perf_counter() - start < 3
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
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # discard port: refused at once
    start = time.perf_counter()
    with pytest.raises(UserError, match="unreachable"):
        resolve_checkpoint(tiny_kyutai.incomplete_repo)
    assert time.perf_counter() - start < 5


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


def test_list_voices_offline(tiny_kyutai: TinyKyutai) -> None:
    start = time.perf_counter()
    listing = list_voices(
        tiny_kyutai.voice_repo, online=True, voice_suffix=tiny_kyutai.voice_suffix
    )
    assert time.perf_counter() - start < 2
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
    feed = TextFeed()
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
