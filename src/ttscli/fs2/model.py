"""FastSpeech 2 and 2s (Ren et al., 2021): encoder, variance adaptor, decoders."""
# Controls lives in kinds.py (no torch) and is re-exported here, where callers expect it.

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from ttscli.fs2 import cwt
from ttscli.fs2.config import FS2Config, ProsodyStats, WaveDecoderConfig
from ttscli.fs2.hifigan import HiFiGANConfig
from ttscli.fs2.kinds import Controls

__all__ = ["Controls", "FS2Output", "FastSpeech2", "PhonemeProsody"]
from ttscli.fs2.latent_vocoder import MelAdapter, VitsDecoder
from ttscli.fs2.modules import (
    FFTStack,
    PostNet,
    VariancePredictor,
    frame_mean,
    padding_mask,
    regulate_length,
)


@dataclass
class FS2Output:
    """Everything a caller (inference, plotting, training losses) may need."""

    mel: torch.Tensor  # (batch, frames, n_mels), after the post-net when there is one
    mel_before_postnet: torch.Tensor
    frame_lengths: torch.Tensor  # (batch,)
    log_duration: torch.Tensor  # (batch, phonemes), predicted log(d + 1)
    durations: torch.Tensor  # (batch, phonemes), frames actually used
    pitch: torch.Tensor  # (batch, frames), normalised log-F0 used (z-score)
    pitch_prediction: torch.Tensor  # frame z-scores, or CWT spectrogram in cwt mode
    pitch_mean_std: torch.Tensor | None  # (batch, 2) utterance mean/std, cwt mode only
    energy: torch.Tensor  # (batch, frames), normalised energy used
    energy_prediction: torch.Tensor
    decoder_hidden: torch.Tensor  # (batch, frames, hidden), input of the FS2s waveform decoder
    phoneme_mask: torch.Tensor
    frame_mask: torch.Tensor


ROUGHNESS_SPAN_FRAMES = 3
"""The added F0 movement is white noise averaged over this many frames: it moves within
a syllable, never from sample to sample (that would be a hoarse voice, not a lively one)."""


def pitch_movement(
    utterance: torch.Tensor, frames: int, span: int = ROUGHNESS_SPAN_FRAMES
) -> torch.Tensor:
    """(frames,) smoothed unit-variance noise, seeded by ``utterance`` (its phoneme ids and
    durations, as integers).

    Seeded by what the utterance is rather than by a global generator, so a line sounds the
    same alone, in any mini-batch and in every run, and the same at every ``--pitch``.
    """
    seed = zlib.crc32(utterance.detach().to("cpu", torch.int64).numpy().tobytes())
    white = torch.randn(frames + span - 1, generator=torch.Generator().manual_seed(seed))
    return white.unfold(0, span, 1).mean(1) * math.sqrt(span)


@dataclass(frozen=True)
class PhonemeProsody:
    """Prosody asked of each phoneme (markup): (batch, phonemes) tensors. Pitch moves
    through the same embedding path ``--pitch`` takes, so each span follows its own scale."""

    duration: torch.Tensor
    """Factors on each phoneme's predicted duration."""
    pitch_shift: torch.Tensor
    """Log-F0 shifts (natural log of the F0 factor)."""
    pitch_widen: torch.Tensor
    """Factors on the contour's excursion from the utterance's mean (emphasis)."""
    energy: torch.Tensor
    """Factors on each phoneme's predicted energy."""


SMOOTH_FRAMES = 5
"""Frames over which per-phoneme pitch and energy changes are eased in, so that spans join
without a jump in F0 (about 60 ms at a 256-sample hop)."""


def frame_values(
    values: torch.Tensor, durations: torch.Tensor, frames: int, neutral: float
) -> torch.Tensor:
    """Per-phoneme ``values`` (batch, phonemes) as per-frame values (batch, frames), eased
    by a moving average within each utterance so that a change is a short ramp rather than a
    step; frames past an utterance's end hold ``neutral``."""
    expanded, lengths = regulate_length(values.unsqueeze(-1), durations, frames)
    expanded = expanded.squeeze(-1)
    out = torch.full_like(expanded, neutral)
    kernel = torch.full((1, 1, SMOOTH_FRAMES), 1.0 / SMOOTH_FRAMES, dtype=values.dtype)
    kernel = kernel.to(values.device)
    half = SMOOTH_FRAMES // 2
    for row, length in enumerate(lengths.tolist()):
        if length:
            track = F.pad(expanded[row, :length].view(1, 1, -1), (half, half), "replicate")
            out[row, :length] = F.conv1d(track, kernel).view(-1)
    return out


class VarianceAdaptor(nn.Module):
    """Adds duration, pitch and energy information to the phoneme hidden sequence.

    Pitch and energy are predicted per frame (after length regulation), quantised into
    ``n_bins`` bins (pitch uniformly in log-F0, energy uniformly) and embedded, as in the
    paper. Both are handled as z-scores; ``ProsodyStats`` convert user scales in Hz and
    energy units into z-score shifts.
    """

    def __init__(self, config: FS2Config, stats: ProsodyStats) -> None:
        super().__init__()
        v = config.variance
        hidden = config.encoder.hidden

        def predictor(outputs: int = 1) -> VariancePredictor:
            return VariancePredictor(
                hidden, v.predictor_filter, v.predictor_kernel, v.predictor_dropout, outputs
            )

        self.pitch_mode = v.pitch_mode
        self.duration_predictor = predictor()
        self.pitch_predictor = predictor(v.cwt_scales if v.pitch_mode == "cwt" else 1)
        self.pitch_stats_predictor = nn.Linear(hidden, 2) if v.pitch_mode == "cwt" else None
        self.energy_predictor = predictor()
        self.pitch_embedding = nn.Embedding(v.n_bins, hidden)
        self.energy_embedding = nn.Embedding(v.n_bins, hidden)
        self.cwt_scales = v.cwt_scales
        self.stats = stats
        self.pitch_roughness = config.pitch_roughness
        self.pitch_spread = config.pitch_spread
        self.pitch_level = config.pitch_level
        self.round_frames: Callable[[int], int] | None = None
        """Rounds a batch's frame count up (``ttscli.fs2.shape_buckets``), where the engine
        wants fewer distinct shapes and no frame-level targets are given; padded frames are
        masked like any other padding."""
        pitch_lo = (stats.log_f0_min - stats.log_f0_mean) / stats.log_f0_std
        pitch_hi = (stats.log_f0_max - stats.log_f0_mean) / stats.log_f0_std
        energy_lo = (stats.energy_min - stats.energy_mean) / stats.energy_std
        energy_hi = (stats.energy_max - stats.energy_mean) / stats.energy_std
        self.register_buffer(
            "pitch_bins", torch.linspace(pitch_lo, pitch_hi, v.n_bins - 1), persistent=False
        )
        self.register_buffer(
            "energy_bins", torch.linspace(energy_lo, energy_hi, v.n_bins - 1), persistent=False
        )

    def _predict_pitch(
        self, x: torch.Tensor, frame_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        prediction = self.pitch_predictor(x, frame_mask)
        if self.pitch_stats_predictor is None:
            return prediction, prediction, None
        keep = (~frame_mask).unsqueeze(-1).to(x.dtype)
        pooled = (x * keep).sum(1) / keep.sum(1).clamp(min=1)
        mean_std = self.pitch_stats_predictor(pooled)
        contour = cwt.icwt(prediction) * F.softplus(mean_std[:, 1:2]) + mean_std[:, 0:1]
        return contour.masked_fill(frame_mask, 0.0), prediction, mean_std

    def _roughen(
        self,
        pitch: torch.Tensor,
        durations: torch.Tensor,
        phoneme_mask: torch.Tensor,
        frame_lengths: torch.Tensor,
        phonemes: torch.Tensor | None,
    ) -> torch.Tensor:
        """The predicted contour (z-scores) with ``pitch_roughness`` semitones of movement
        added per utterance; unchanged while training (the losses see the prediction)."""
        if not self.pitch_roughness or self.training:
            return pitch
        movement = torch.zeros_like(pitch)
        for row, frames in enumerate(frame_lengths.tolist()):
            keep = ~phoneme_mask[row]
            utterance = durations[row][keep]
            if phonemes is not None:
                utterance = torch.cat([phonemes[row][keep], utterance])
            movement[row, :frames] = pitch_movement(utterance, frames).to(movement)
        semitones_to_z = math.log(2) / 12 / self.stats.log_f0_std
        return pitch + movement * (self.pitch_roughness * semitones_to_z)

    def _calibrate(self, pitch: torch.Tensor, frame_mask: torch.Tensor) -> torch.Tensor:
        """The predicted contour (z-scores) widened by ``pitch_spread`` around each
        utterance's mean and moved by ``pitch_level``; unchanged while training (the losses
        see the prediction)."""
        if (self.pitch_spread == 1.0 and self.pitch_level == 1.0) or self.training:
            return pitch
        mean = frame_mean(pitch, frame_mask)
        level = math.log(self.pitch_level) / self.stats.log_f0_std
        return mean + level + self.pitch_spread * (pitch - mean)

    def _pitch_as_asked(
        self,
        pitch: torch.Tensor,
        contour: torch.Tensor,
        prosody: PhonemeProsody,
        durations: torch.Tensor,
        frame_mask: torch.Tensor,
    ) -> torch.Tensor:
        """``pitch`` (z-scores) with each phoneme's shift added and its excursion from the
        utterance's mean contour widened; exact where a phoneme asks for neither."""
        frames = pitch.shape[1]
        shift = frame_values(prosody.pitch_shift, durations, frames, 0.0) / self.stats.log_f0_std
        widen = frame_values(prosody.pitch_widen, durations, frames, 1.0)
        return pitch + shift + (widen - 1) * (contour - frame_mean(contour, frame_mask))

    def forward(
        self,
        x: torch.Tensor,
        phoneme_mask: torch.Tensor,
        controls: Controls,
        durations: torch.Tensor | None = None,
        pitch: torch.Tensor | None = None,
        energy: torch.Tensor | None = None,
        max_frames: int | None = None,
        pitch_offset: torch.Tensor | None = None,
        energy_scale: torch.Tensor | None = None,
        phonemes: torch.Tensor | None = None,
        prosody: PhonemeProsody | None = None,
        duration_scale: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor | None]:
        """``pitch_offset`` (batch,): z-score shifts added to the predicted contour per
        utterance, as ``--pitch`` adds one to all (training with pitch-shifted copies);
        ``energy_scale`` (batch,): factors on the predicted energy per utterance, as
        ``--energy`` puts one on all (training with louder and quieter copies); ``phonemes``
        (batch, phonemes): the ids, which seed ``pitch_roughness``'s movement; ``prosody``:
        what markup asks of each phoneme (``PhonemeProsody``); ``duration_scale`` (batch,):
        factors on the predicted durations per utterance (a batch line's ``--duration``)."""
        log_duration = self.duration_predictor(x, phoneme_mask)
        if durations is None:
            frames = (torch.exp(log_duration) - 1).clamp(min=0) * controls.duration
            if duration_scale is not None:
                frames = frames * duration_scale.unsqueeze(1)
            if prosody is not None:
                frames = frames * prosody.duration
            durations = torch.round(frames).long().masked_fill(phoneme_mask, 0)
            # Never let a whole utterance vanish: keep at least one frame per utterance.
            empty = durations.sum(1) == 0
            durations[empty, 0] = 1
        # Given frame-level targets fix the frame count; only a free one is rounded.
        free = pitch is None and energy is None
        x, frame_lengths = regulate_length(
            x, durations, max_frames, self.round_frames if free else None
        )
        frame_mask = padding_mask(frame_lengths, x.shape[1])

        pitch_used, pitch_prediction, pitch_mean_std = self._predict_pitch(x, frame_mask)
        if pitch is None:
            shift = torch.log(torch.tensor(controls.pitch)) / self.stats.log_f0_std
            pitch_used = self._calibrate(pitch_used, frame_mask)
            pitch_used = self._roughen(pitch_used, durations, phoneme_mask, frame_lengths, phonemes)
            pitch = pitch_used + float(shift)
            if pitch_offset is not None:
                pitch = pitch + pitch_offset.unsqueeze(1)
            if prosody is not None:
                pitch = self._pitch_as_asked(pitch, pitch_used, prosody, durations, frame_mask)
        x = x + self.pitch_embedding(torch.bucketize(pitch, self.pitch_bins))

        energy_prediction = self.energy_predictor(x, frame_mask)
        if energy is None:
            s = self.stats
            scaled = (energy_prediction * s.energy_std + s.energy_mean) * controls.energy
            if energy_scale is not None:
                scaled = scaled * energy_scale.unsqueeze(1)
            if prosody is not None:
                scaled = scaled * frame_values(prosody.energy, durations, x.shape[1], 1.0)
            energy = (scaled - s.energy_mean) / s.energy_std
        x = x + self.energy_embedding(torch.bucketize(energy, self.energy_bins))
        return {
            "x": x,
            "frame_lengths": frame_lengths,
            "frame_mask": frame_mask,
            "log_duration": log_duration,
            "durations": durations,
            "pitch": pitch.masked_fill(frame_mask, 0.0),
            "pitch_prediction": pitch_prediction,
            "pitch_mean_std": pitch_mean_std,
            "energy": energy.masked_fill(frame_mask, 0.0),
            "energy_prediction": energy_prediction,
        }


class WaveNetDecoder(nn.Module):
    """FastSpeech 2s waveform decoder as in the paper (``type`` "wavenet").

    Transposed convolutions upsample the mel decoder's hidden states to the sample rate,
    then non-causal WaveNet-style residual layers (gated tanh x sigmoid, dilations
    cycling 1, 2, 4, ...) with skip connections produce the waveform in [-1, 1].
    """

    def __init__(self, hidden: int, config: WaveDecoderConfig) -> None:
        super().__init__()
        c = config.upsample_channels
        self.pre = nn.Conv1d(hidden, c, 7, padding=3)
        self.upsamplers = nn.ModuleList(
            nn.ConvTranspose1d(c, c, k, stride=r, padding=(k - r) // 2)
            for r, k in zip(config.upsample_rates, config.upsample_kernels, strict=True)
        )
        self.input = nn.Conv1d(c, config.residual_channels, 1)
        self.dilated = nn.ModuleList()
        self.residual = nn.ModuleList()
        self.skip = nn.ModuleList()
        for i in range(config.layers):
            dilation = 2 ** (i % config.dilation_cycle)
            pad = dilation * (config.kernel - 1) // 2
            self.dilated.append(
                nn.Conv1d(
                    config.residual_channels,
                    2 * config.gate_channels,
                    config.kernel,
                    padding=pad,
                    dilation=dilation,
                )
            )
            self.residual.append(nn.Conv1d(config.gate_channels, config.residual_channels, 1))
            self.skip.append(nn.Conv1d(config.gate_channels, config.skip_channels, 1))
        self.post1 = nn.Conv1d(config.skip_channels, config.skip_channels, 1)
        self.post2 = nn.Conv1d(config.skip_channels, 1, 1)
        self.hop = 1
        for rate in config.upsample_rates:
            self.hop *= rate

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        """(batch, frames, hidden) -> (batch, frames * hop) waveform."""
        h = self.pre(hidden.transpose(1, 2))
        for up in self.upsamplers:
            h = F.leaky_relu(up(F.leaky_relu(h, 0.1)), 0.1)
        h = h[..., : hidden.shape[1] * self.hop]
        h = self.input(h)
        skips = torch.zeros((), device=h.device, dtype=h.dtype)
        for dilated, residual, skip in zip(self.dilated, self.residual, self.skip, strict=True):
            a, b = dilated(h).chunk(2, dim=1)
            gated = torch.tanh(a) * torch.sigmoid(b)
            h = (h + residual(gated)) * 0.7071067811865476
            skips = skips + skip(gated)
        out = self.post2(F.relu(self.post1(F.relu(skips))))
        return torch.tanh(out).squeeze(1)


class LatentWaveDecoder(nn.Module):
    """FastSpeech 2s waveform decoder of ``type`` "vits": hidden states -> adapter -> VITS
    latent -> VITS generator. Its state names (``adapter.*``, ``decoder.*``) match the
    latent vocoder's, so training can start from a fitted vocoder (see train_fs2s.py)."""

    def __init__(self, hidden: int, config: WaveDecoderConfig, sample_rate: int) -> None:
        super().__init__()
        self.adapter = MelAdapter(hidden, config.latent_dim, config.adapter)
        self.decoder = VitsDecoder(
            HiFiGANConfig(
                n_mels=config.latent_dim,
                resblock="2",
                upsample_rates=config.upsample_rates,
                upsample_kernel_sizes=config.upsample_kernels,
                upsample_initial_channel=config.upsample_channels,
                resblock_kernel_sizes=config.resblock_kernels,
                resblock_dilation_sizes=config.resblock_dilations,
                sample_rate=sample_rate,
                istft_n_fft=config.istft_n_fft,
                istft_hop=config.istft_hop,
                harmonic_source=config.harmonic_source,
            )
        )

    def latent(self, hidden: torch.Tensor) -> torch.Tensor:
        """(batch, frames, hidden) -> (batch, latent_dim, frames): what the generator hears."""
        return self.adapter(hidden.transpose(1, 2))

    def forward(
        self,
        hidden: torch.Tensor,
        log_f0: torch.Tensor | None = None,
        start_cycles: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """(batch, frames, hidden) [+ (batch, frames) log-F0 for a generator with a harmonic
        source] -> (batch, frames * hop) waveform."""
        return self.decoder(self.latent(hidden), log_f0, start_cycles)


def build_wave_decoder(hidden: int, config: WaveDecoderConfig, sample_rate: int) -> nn.Module:
    if config.type == "vits":
        return LatentWaveDecoder(hidden, config, sample_rate)
    return WaveNetDecoder(hidden, config)


class FastSpeech2(nn.Module):
    """Phonemes -> mel-spectrogram (and, with a waveform decoder, waveform: FS2s)."""

    def __init__(self, config: FS2Config, stats: ProsodyStats) -> None:
        super().__init__()
        config.validate()
        stats.validate()
        self.config = config
        hidden = config.encoder.hidden
        self.embedding = nn.Embedding(len(config.symbols), hidden, padding_idx=0)
        self.encoder = FFTStack(config.encoder)
        self.variance_adaptor = VarianceAdaptor(config, stats)
        self.decoder = FFTStack(config.decoder)
        self.mel_linear = nn.Linear(hidden, config.audio.n_mels)
        self.postnet = (
            PostNet(config.audio.n_mels, config.postnet) if config.postnet is not None else None
        )
        self.wave_decoder = (
            build_wave_decoder(hidden, config.wave_decoder, config.audio.sample_rate)
            if config.wave_decoder is not None
            else None
        )

    def forward(
        self,
        phonemes: torch.Tensor,
        phoneme_lengths: torch.Tensor,
        controls: Controls | None = None,
        durations: torch.Tensor | None = None,
        pitch: torch.Tensor | None = None,
        energy: torch.Tensor | None = None,
        max_frames: int | None = None,
        pitch_offset: torch.Tensor | None = None,
        energy_scale: torch.Tensor | None = None,
        prosody: PhonemeProsody | None = None,
        duration_scale: torch.Tensor | None = None,
    ) -> FS2Output:
        """Predict prosody (or use the given targets, for training) and decode mels."""
        controls = controls or Controls()
        phoneme_mask = padding_mask(phoneme_lengths, phonemes.shape[1])
        x = self.encoder(self.embedding(phonemes), phoneme_mask)
        va = self.variance_adaptor(
            x,
            phoneme_mask,
            controls,
            durations,
            pitch,
            energy,
            max_frames,
            pitch_offset,
            energy_scale,
            phonemes,
            prosody,
            duration_scale,
        )
        frame_mask = va["frame_mask"]
        hidden = self.decoder(va["x"], frame_mask)
        mel_before = self.mel_linear(hidden).masked_fill(frame_mask.unsqueeze(-1), 0.0)
        mel = mel_before if self.postnet is None else self.postnet(mel_before, frame_mask)
        return FS2Output(
            mel=mel.masked_fill(frame_mask.unsqueeze(-1), 0.0),
            mel_before_postnet=mel_before,
            frame_lengths=va["frame_lengths"],
            log_duration=va["log_duration"],
            durations=va["durations"],
            pitch=va["pitch"],
            pitch_prediction=va["pitch_prediction"],
            pitch_mean_std=va["pitch_mean_std"],
            energy=va["energy"],
            energy_prediction=va["energy_prediction"],
            decoder_hidden=hidden,
            phoneme_mask=phoneme_mask,
            frame_mask=frame_mask,
        )
