"""The F0-driven harmonic source of a generator with an inverse-STFT head: it starts silent,
its harmonics sit at the asked F0, and a window vocoded on its own hears the same source as
the whole utterance."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from ttscli.fs2.harmonic_source import HarmonicSource, cycles_before
from ttscli.fs2.hifigan import HiFiGANConfig
from ttscli.fs2.latent_vocoder import AdapterConfig, LatentVocoder, LatentVocoderConfig
from ttscli.fs2.vocoders import load_bundled_latent, save_bundled
from ttscli.lab.train.fs2s import with_harmonic_source

RATE, HOP = 22050, 256
STUDENT_SHAPE = LatentVocoderConfig(
    adapter=AdapterConfig(layers=3, channels=8, kernel=3),
    decoder=HiFiGANConfig(
        n_mels=6,
        resblock="2",
        upsample_rates=(8,),
        upsample_kernel_sizes=(16,),
        upsample_initial_channel=16,
        resblock_kernel_sizes=(3,),
        resblock_dilation_sizes=((1, 2),),
        istft_n_fft=128,
        istft_hop=32,
    ),
)


def source(harmonics: int = 12) -> HarmonicSource:
    return HarmonicSource(harmonics, 128, 32, HOP, RATE, channels=8)


def test_source_waveform_has_its_fundamental_at_the_asked_f0() -> None:
    log_f0 = torch.full((1, 100), float(np.log(110.0)))
    wave = source().waveform(log_f0, None)[0].numpy()
    assert len(wave) == 100 * HOP
    spectrum = np.abs(np.fft.rfft(wave * np.hanning(len(wave))))
    peak = np.argmax(spectrum) * RATE / len(wave)
    assert peak == pytest.approx(110.0, abs=1.0)


def test_no_harmonic_above_the_limit() -> None:
    log_f0 = torch.full((1, 60), float(np.log(4000.0)))  # only k = 1 and 2 fit under 9.9 kHz
    wave = source(harmonics=5).waveform(log_f0, None)[0].numpy()
    spectrum = np.abs(np.fft.rfft(wave))
    freqs = np.fft.rfftfreq(len(wave), 1 / RATE)
    assert spectrum[freqs > 10_000].max() < 1e-3 * spectrum.max()


def test_a_window_continues_the_phase_of_the_whole() -> None:
    log_f0 = 4.5 + 0.3 * torch.sin(torch.arange(200) / 9.0)[None]
    src = source()
    whole = src.waveform(log_f0, None)
    window = src.waveform(log_f0[:, 70:], cycles_before(log_f0, 70, HOP, RATE))
    torch.testing.assert_close(window, whole[:, 70 * HOP :], atol=1e-5, rtol=0)


def test_a_new_source_changes_nothing_until_trained(tmp_path: Path) -> None:
    torch.manual_seed(0)
    plain = LatentVocoder(STUDENT_SHAPE).eval()
    sourced = with_harmonic_source(plain, 12).eval()
    mel, log_f0 = torch.randn(1, 80, 30), torch.full((1, 30), 4.5)
    with torch.no_grad():
        torch.testing.assert_close(sourced(mel, log_f0), plain(mel))
        with pytest.raises(ValueError, match="log-F0"):
            sourced(mel)
        # Once trained, the source is heard: its F0 changes the audio.
        sourced.decoder.source.proj.weight.normal_(0, 0.5)
        assert not torch.allclose(sourced(mel, log_f0), sourced(mel, log_f0 + 0.3))
    save_bundled(sourced, tmp_path)  # and it round-trips through vocoder.json
    loaded = load_bundled_latent(tmp_path).eval()
    assert loaded.config.decoder.harmonic_source == 12 and loaded.reads_pitch
    with torch.no_grad():
        torch.testing.assert_close(loaded(mel, log_f0), sourced(mel, log_f0))


def test_a_source_needs_an_istft_head() -> None:
    config = replace(STUDENT_SHAPE.decoder, istft_n_fft=0, istft_hop=0, harmonic_source=8)
    with pytest.raises(ValueError, match="harmonic_source"):
        config.validate()
