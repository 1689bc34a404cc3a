"""The losses of FastSpeech 2 / 2s training: masked frame losses and waveform losses."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from torch.nn import functional as F

from ttscli.fs2 import cwt
from ttscli.fs2.model import FastSpeech2, FS2Output
from ttscli.lab.train.data import Utterance

STFT_RESOLUTIONS = ((512, 128), (1024, 256), (2048, 512))
"""(n_fft = window, hop) pairs, as in Parallel WaveGAN."""


def multi_resolution_stft_loss(
    predicted: torch.Tensor,
    target: torch.Tensor,
    resolutions: tuple[tuple[int, int], ...] = STFT_RESOLUTIONS,
) -> torch.Tensor:
    """Spectral convergence + log-magnitude L1 at each (n_fft, hop) resolution (Yamamoto et
    al.; three by default).

    A non-adversarial waveform loss: it fits the spectrum without a discriminator, which
    keeps waveform training possible on a CPU.
    """
    total = predicted.new_zeros(())
    for n_fft, hop in resolutions:
        window = torch.hann_window(n_fft, device=predicted.device)
        p, t = (
            torch.stft(x, n_fft, hop, window=window, return_complex=True).abs().clamp(min=1e-7)
            for x in (predicted, target)
        )
        convergence = torch.linalg.norm(t - p) / torch.linalg.norm(t).clamp(min=1e-7)
        total = total + convergence + F.l1_loss(p.log(), t.log())
    return total / len(resolutions)


def masked_mean(values: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    while keep.dim() < values.dim():
        keep = keep.unsqueeze(-1)
    keep = keep.expand_as(values).to(values.dtype)
    return (values * keep).sum() / keep.sum().clamp(min=1)


def losses(model: FastSpeech2, out: FS2Output, batch: dict[str, torch.Tensor]) -> dict:
    frame_keep = ~out.frame_mask
    phone_keep = ~out.phoneme_mask
    mel = batch["mel"][:, : out.mel.shape[1]]
    result = {
        "mel": masked_mean((out.mel_before_postnet - mel).abs(), frame_keep),
        "duration": masked_mean(
            (out.log_duration - torch.log1p(batch["durations"].float())) ** 2, phone_keep
        ),
        "energy": masked_mean((out.energy_prediction - batch["energy"]) ** 2, frame_keep),
    }
    if model.postnet is not None:
        result["postnet"] = masked_mean((out.mel - mel).abs(), frame_keep)
    # The predictor learns the voice's own contour: a PSOLA copy's pitch is not in its text.
    # Those copies teach the decoder to follow the embedding instead.
    natural = batch["pitch_shift"] == 1.0 if "pitch_shift" in batch else None
    pitch_keep = frame_keep if natural is None else frame_keep & natural.unsqueeze(1)
    if out.pitch_mean_std is None:
        result["pitch"] = masked_mean((out.pitch_prediction - batch["pitch"]) ** 2, pitch_keep)
    else:
        # Paper: per-utterance normalised contour -> CWT spectrogram, plus mean and std.
        keep = frame_keep.float()
        count = keep.sum(1, keepdim=True).clamp(min=1)
        mean = (batch["pitch"] * keep).sum(1, keepdim=True) / count
        std = (((batch["pitch"] - mean) ** 2 * keep).sum(1, keepdim=True) / count).sqrt()
        normalised = ((batch["pitch"] - mean) / std.clamp(min=1e-3)) * keep
        audio = model.config.audio
        target = cwt.cwt(
            normalised, model.config.variance.cwt_scales, audio.hop_length / audio.sample_rate
        )
        result["pitch"] = masked_mean((out.pitch_prediction - target) ** 2, pitch_keep)
        stats_target = torch.cat([mean, torch.log(torch.expm1(std.clamp(min=1e-3)))], dim=1)
        squared = (out.pitch_mean_std - stats_target) ** 2
        result["pitch_stats"] = (
            squared.mean() if natural is None else masked_mean(squared, natural.unsqueeze(1))
        )
    return result


def waveform_loss(
    model: FastSpeech2,
    hidden: torch.Tensor,
    group: list[Utterance],
    corpus: Path,
    segment: int,
    rng: random.Random,
) -> torch.Tensor:
    """FS2s: decode random ``segment``-frame windows of the decoder's hidden states (as the
    paper trains the waveform decoder on clips) and compare with the recorded audio."""
    assert model.wave_decoder is not None
    hop = model.config.audio.hop_length
    windows, waves = [], []
    for row, item in enumerate(group):
        frames = len(item.mel)
        start = rng.randrange(0, max(1, frames - segment + 1))
        length = min(segment, frames)
        window = hidden[row, start : start + length]
        windows.append(F.pad(window, (0, 0, 0, segment - length)))
        audio, _ = sf.read(
            str(corpus / "wavs" / f"{item.uid}.wav"),
            start=start * hop,
            stop=(start + length) * hop,
            dtype="float32",
        )
        audio = np.pad(audio, (0, segment * hop - len(audio)))
        waves.append(torch.from_numpy(audio))
    predicted = model.wave_decoder(torch.stack(windows))
    return multi_resolution_stft_loss(predicted, torch.stack(waves).to(predicted.device))
