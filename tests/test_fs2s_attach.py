"""FastSpeech 2s from a trained FS2 model and a latent vocoder (scripts/train_fs2s.py)."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest
import torch

from tests.fs2_fixture import TINY_STATS, tiny_config
from tests.test_latent_vocoder import TINY
from ttscli.fs2.checkpoint import load_checkpoint, save_checkpoint
from ttscli.fs2.latent_vocoder import LatentVocoder
from ttscli.fs2.model import FastSpeech2, LatentWaveDecoder
from ttscli.fs2.vocoders import NeuralVocoder
from ttscli.lab.train import fs2s


@pytest.fixture(scope="module")
def script() -> ModuleType:
    return fs2s


def test_attached_decoder_equals_mel_linear_then_vocoder(script: ModuleType, tmp_path: Path):
    """Away from the edges the new decoder is exactly FS2 mel -> vocoder, so training starts
    from the quality the two-stage system already has."""
    torch.manual_seed(0)
    fs2 = FastSpeech2(tiny_config(wave_decoder=False), TINY_STATS).eval()
    vocoder = LatentVocoder(TINY).eval()
    fs2s = script.attach_wave_decoder(fs2, vocoder).eval()
    assert isinstance(fs2s.wave_decoder, LatentWaveDecoder)
    hidden = torch.randn(2, 60, fs2.config.decoder.hidden)
    with torch.no_grad():
        direct = fs2s.wave_decoder(hidden)
        two_stage = vocoder(fs2.mel_linear(hidden).transpose(1, 2))
    centre = slice(256 * 20, 256 * 40)
    torch.testing.assert_close(direct[:, centre], two_stage[:, centre], atol=1e-5, rtol=1e-4)
    # The trunk is carried over unchanged, and the result round-trips through our format.
    for name, value in fs2.state_dict().items():
        assert torch.equal(fs2s.state_dict()[name], value), name
    save_checkpoint(fs2s, tmp_path)
    loaded = load_checkpoint(tmp_path)
    assert loaded.config.wave_decoder is not None and loaded.config.wave_decoder.type == "vits"
    with torch.no_grad():
        torch.testing.assert_close(loaded.wave_decoder(hidden), direct)


def test_pitch_input_starts_as_the_vocoder_and_then_follows_log_f0(script: ModuleType) -> None:
    """with_pitch_input adds a zero-initialised log-F0 channel: same output at first; once the
    channel has weight, the waveform depends on the contour, which the engine passes on."""
    torch.manual_seed(0)
    vocoder = LatentVocoder(TINY).eval()
    pitched = script.with_pitch_input(vocoder).eval()
    assert pitched.config.pitch_input and not vocoder.config.pitch_input
    mel, log_f0 = torch.randn(1, 80, 30), torch.full((1, 30), 5.0)
    with torch.no_grad():
        torch.testing.assert_close(pitched(mel, log_f0), vocoder(mel))
        with pytest.raises(ValueError, match="log-F0"):
            pitched(mel)
        pitched.adapter.conv_in.weight[:, -1:].fill_(0.5)
        assert not torch.allclose(pitched(mel, log_f0), pitched(mel, log_f0 + 0.4))
    vocoder_object = NeuralVocoder(pitched, name="test")
    with torch.no_grad():
        torch.testing.assert_close(vocoder_object(mel, log_f0), pitched(mel, log_f0))
