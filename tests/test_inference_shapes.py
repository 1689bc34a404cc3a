"""The voice's CPU inference layout, length rounding and precision: speed, not its words.

Convolutions run channels-last as 2-D ones (``ttscli.fs2.conv_layout``), and the lengths the
acoustic model and the vocoder see are rounded to a few sizes (``ttscli.fs2.shape_buckets``)
so that oneDNN's kernels are built once and reused. Counts and outputs, never time.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from tests.fs2_fixture import FRAMES_PER_PHONEME, make_tiny_model
from ttscli.fs2.checkpoint import save_checkpoint
from ttscli.fs2.conv_layout import convs_channels_last
from ttscli.fs2.engine import FS2Engine
from ttscli.fs2.hifigan import HiFiGANConfig, HiFiGANGenerator
from ttscli.fs2.kinds import Precision
from ttscli.fs2.model import Controls
from ttscli.fs2.precision import vocoder_dtype
from ttscli.fs2.shape_buckets import SMALLEST_STEP, padded_length


def one_d_convs(module: nn.Module) -> int:
    return sum(isinstance(m, nn.Conv1d | nn.ConvTranspose1d) for m in module.modules())


def test_channels_last_generator_gives_the_same_audio() -> None:
    torch.manual_seed(1)
    generator = HiFiGANGenerator(
        HiFiGANConfig(
            n_mels=24, resblock="2", upsample_rates=(8,), upsample_kernel_sizes=(16,),
            upsample_initial_channel=32, resblock_kernel_sizes=(3, 5),
            resblock_dilation_sizes=((1, 2), (2, 6)), istft_n_fft=16, istft_hop=4,
            harmonic_source=4,
        )
    ).eval()  # fmt: skip
    with torch.no_grad():
        generator.source.proj.weight.normal_(0, 0.1)  # starts at zero: make it count
    mel, log_f0 = torch.randn(2, 24, 37), torch.full((2, 37), 4.8)
    swapped = copy.deepcopy(generator)
    convs = one_d_convs(generator)
    assert convs_channels_last(swapped) == convs
    assert one_d_convs(swapped) == 0
    with torch.inference_mode():
        expected, got = generator(mel, log_f0), swapped(mel, log_f0)
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-4)


def test_a_transformer_block_stays_in_its_own_layout() -> None:
    """The FFT blocks' (batch, time, channels) tensors are channels-last as they are."""
    model = make_tiny_model()
    swapped = copy.deepcopy(model)
    convs_channels_last(swapped)
    phonemes = torch.tensor([[3, 9, 12, 7, 1]])
    with torch.inference_mode():
        expected = model(phonemes, torch.tensor([5]), Controls())
        got = swapped(phonemes, torch.tensor([5]), Controls())
    assert torch.equal(got.durations, expected.durations)
    torch.testing.assert_close(got.mel, expected.mel, atol=1e-5, rtol=1e-4)


def test_padded_lengths_cover_every_length_with_little_padding() -> None:
    sizes = [padded_length(n) for n in range(1, 5000)]
    assert all(size >= n for n, size in enumerate(sizes, start=1))
    assert sizes == sorted(sizes)
    assert all(size - n < max(SMALLEST_STEP, n / 8) for n, size in enumerate(sizes, start=1))
    assert all(padded_length(size) == size for size in sizes)  # a size is its own size
    # a batch of lines of 100 to 1,000 frames meets a few dozen lengths, not 900
    assert len({padded_length(n) for n in range(100, 1000)}) <= 32


def test_the_voice_meets_only_rounded_lengths_and_speaks_the_exact_ones(tmp_path: Path) -> None:
    """What the acoustic model and the vocoder are handed is rounded; what comes out is each
    utterance's own length, and an utterance sounds the same alone as in a batch."""
    save_checkpoint(make_tiny_model(), tmp_path / "ckpt")
    engine = FS2Engine.load(tmp_path / "ckpt", kind="fs2s", device="cpu", precision="float32")
    assert one_d_convs(engine.model) == 0  # on the CPU every convolution runs channels-last
    heard: dict[str, list[int]] = {"phonemes": [], "vocoder": []}
    hooks = [
        engine.model.encoder.register_forward_pre_hook(
            lambda _m, args: heard["phonemes"].append(args[0].shape[1])
        ),
        engine.model.wave_decoder.register_forward_pre_hook(
            lambda _m, args: heard["vocoder"].append(args[0].shape[1])
        ),
    ]
    phones = ["AA1", "B", "K", "D", "EH1", "F", "G", "IY1", "L", "M", "N", "OW1", "P", "S"]
    utterances = [(*phones[: 3 + n], ".") for n in range(0, 11, 2)]
    try:
        batch = engine.synthesize(utterances)
        alone = engine.synthesize([utterances[2]])[0]
    finally:
        for hook in hooks:
            hook.remove()
    assert all(padded_length(n) == n for values in heard.values() for n in values)
    assert heard["phonemes"][0] == padded_length(max(len(u) for u in utterances))
    hop = engine.config.audio.hop_length
    for utterance, synthesis in zip(utterances, batch, strict=True):
        assert len(synthesis.audio) == sum(synthesis.durations) * hop
        assert sum(synthesis.durations) == FRAMES_PER_PHONEME * len(utterance)
    np.testing.assert_allclose(batch[2].audio, alone.audio, atol=1e-4)


def test_auto_precision_is_bfloat16_only_for_fs2s_where_the_cpu_multiplies_it() -> None:
    cpu, gpu = torch.device("cpu"), torch.device("cuda")
    assert vocoder_dtype(Precision.auto, cpu, True, fast_bfloat16=True) is torch.bfloat16
    assert vocoder_dtype(Precision.auto, cpu, True, fast_bfloat16=False) is torch.float32
    assert vocoder_dtype(Precision.auto, gpu, True, fast_bfloat16=True) is torch.float32
    assert vocoder_dtype(Precision.auto, cpu, False, fast_bfloat16=True) is torch.float32
    assert vocoder_dtype(Precision.float32, cpu, True, fast_bfloat16=True) is torch.float32
    assert vocoder_dtype(Precision.bfloat16, cpu, False, fast_bfloat16=False) is torch.bfloat16


@pytest.mark.parametrize("kind", ["fs2", "fs2s"])
def test_a_bfloat16_vocoder_keeps_durations_and_says_nearly_the_same(kind: str) -> None:
    """Only the vocoder changes dtype: the acoustic model's durations, pitch and energy are
    float32's, and the samples (float32) are float32's within bfloat16's rounding."""
    from ttscli.text.frontend import text_to_phonemes

    phonemes = text_to_phonemes("The quick brown fox jumps over the lazy dog.")
    runs = {}
    for precision in ("float32", "bfloat16"):
        engine = FS2Engine.load(kind=kind, device="cpu", precision=precision)
        assert engine.facts()["precision"] == precision
        generator = engine.model.wave_decoder if kind == "fs2s" else engine.vocoder.module
        assert {p.dtype for p in generator.parameters()} == {getattr(torch, precision)}
        assert {p.dtype for p in engine.model.encoder.parameters()} == {torch.float32}
        runs[precision] = engine.synthesize([phonemes])[0]
    exact, rounded = runs["float32"], runs["bfloat16"]
    assert rounded.durations == exact.durations
    np.testing.assert_array_equal(rounded.pitch_hz, exact.pitch_hz)
    assert rounded.audio.dtype == np.float32 and len(rounded.audio) == len(exact.audio)
    error = np.sqrt(np.mean((rounded.audio - exact.audio) ** 2) / np.mean(exact.audio**2))
    assert error < 0.05, error
