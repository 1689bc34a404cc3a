"""Model sizes by name: the paper's, a CPU-sized one (the bundled voice), and the tiny one
that the tests build (so the tests and the training pipeline share one definition)."""

from __future__ import annotations

from dataclasses import replace

from ttscli.fs2.config import (
    FS2Config,
    PostNetConfig,
    TransformerConfig,
    VarianceConfig,
    WaveDecoderConfig,
)

PRESETS: dict[str, FS2Config] = {
    # The paper's LJSpeech model (about 27 M parameters with the post-net).
    "paper": FS2Config(),
    # For tests: the checkpoint the test suite builds, and the training pipeline's test.
    "tiny": FS2Config(
        encoder=TransformerConfig(layers=1, hidden=32, heads=2, conv_filter=64, dropout=0.0),
        decoder=TransformerConfig(layers=1, hidden=32, heads=2, conv_filter=64, dropout=0.0),
        variance=VarianceConfig(predictor_filter=32, predictor_dropout=0.0),
        postnet=PostNetConfig(layers=2, channels=32, dropout=0.0),
    ),
    # A CPU-friendly model: a quarter of the paper's width.
    "small": FS2Config(
        encoder=TransformerConfig(layers=4, hidden=192, heads=2, conv_filter=768, dropout=0.1),
        decoder=TransformerConfig(layers=4, hidden=192, heads=2, conv_filter=768, dropout=0.1),
        postnet=PostNetConfig(layers=5, channels=256, dropout=0.3),
    ),
    # The bundled voice: sized so that text -> mel costs about 1 % of real time on a
    # 2-core laptop CPU (measured RTF 0.0096 for the acoustic model) and trains at about
    # 1.2 s per 6,000-frame batch there. The decoder's FFN uses kernel 3 instead of 9: the
    # frame-rate convolutions are most of the cost, and attention still sees the whole
    # utterance.
    "cpu": FS2Config(
        encoder=TransformerConfig(layers=4, hidden=160, heads=2, conv_filter=640, dropout=0.1),
        decoder=TransformerConfig(
            layers=4, hidden=160, heads=2, conv_filter=640, conv_kernels=(3, 1), dropout=0.1
        ),
        variance=VarianceConfig(predictor_filter=160),
        postnet=None,
    ),
}


WAVE_PRESETS: dict[str, WaveDecoderConfig] = {
    "paper": WaveDecoderConfig(),
    "small": WaveDecoderConfig(layers=20, residual_channels=48, gate_channels=96, skip_channels=48),
    # The teacher's generator shape; train_fs2s.py starts it from a fitted latent vocoder.
    "cpu": WaveDecoderConfig(type="vits", upsample_channels=256),
    "tiny": WaveDecoderConfig(
        upsample_channels=16,
        layers=4,
        dilation_cycle=2,
        residual_channels=16,
        gate_channels=16,
        skip_channels=16,
    ),
}


def tiny_config(pitch_mode: str = "frame", wave_decoder: bool = True) -> FS2Config:
    """The tiny preset, with the 2s waveform decoder or without, in either pitch mode."""
    config = PRESETS["tiny"]
    return replace(
        config,
        variance=replace(config.variance, pitch_mode=pitch_mode),
        wave_decoder=WAVE_PRESETS["tiny"] if wave_decoder else None,
    )
