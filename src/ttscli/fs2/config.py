"""FastSpeech 2 / 2s configuration, stored as ``config.json`` beside the weights.

Defaults follow the paper's LJSpeech setup (Ren et al., 2021, appendix A) so that a
config written by hand needs only what differs from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ttscli.audio.dsp import MelSpec
from ttscli.text.symbols import SYMBOLS

CONFIG_VERSION = 1


AudioConfig = MelSpec
"""Waveform and mel parameters of a checkpoint; also what a vocoder must agree with."""


@dataclass(frozen=True)
class TransformerConfig:
    """A stack of feed-forward Transformer blocks (self-attention + 1-D conv FFN)."""

    layers: int = 4
    hidden: int = 256
    heads: int = 2
    conv_filter: int = 1024
    conv_kernels: tuple[int, int] = (9, 1)
    dropout: float = 0.2


@dataclass(frozen=True)
class VarianceConfig:
    """Variance adaptor: duration, pitch and energy predictors and their embeddings."""

    predictor_filter: int = 256
    predictor_kernel: int = 3
    predictor_dropout: float = 0.5
    n_bins: int = 256
    pitch_mode: Literal["frame", "cwt"] = "frame"
    """``frame``: predict normalised log-F0 per frame; ``cwt``: predict the paper's CWT
    pitch spectrogram plus utterance mean/std and recompose it with the iCWT."""
    cwt_scales: int = 10
    pitch_control: Literal["embedding", "resample"] = "embedding"
    """How ``--pitch`` reaches the audio. ``embedding`` (FastSpeech 2's way): the scaled F0
    goes through the pitch embedding and the decoder and vocoder follow it. ``resample``:
    for voices whose decoder or vocoder keep their own F0, the model speaks ``pitch`` times
    slower and the waveform is played back ``pitch`` times faster with its spectral envelope
    restored (``ttscli.audio.pitch_shift``)."""
    pitch_range: tuple[float, float] | None = None
    """The ``--pitch`` scales an ``embedding`` voice was trained to follow (the span of its
    pitch-shifted training copies); outside it the decoder meets pitch bins it never
    learnt, so ``--pitch`` is refused there. None: only the general limits."""


@dataclass(frozen=True)
class PostNetConfig:
    """Tacotron 2 style residual post-net refining the decoder's mel."""

    layers: int = 5
    channels: int = 512
    kernel: int = 5
    dropout: float = 0.5


@dataclass(frozen=True)
class AdapterConfig:
    """Shape of a frame-rate convolutional network that turns features (log-mels, or the
    FS2 decoder's hidden states) into a VITS latent (``layers`` convolutions in all)."""

    layers: int = 7
    channels: int = 192
    kernel: int = 5


@dataclass(frozen=True)
class WaveDecoderConfig:
    """FastSpeech 2s waveform decoder, fed by the mel decoder's hidden states.

    ``wavenet`` (the paper's): transposed-conv upsampling, then non-causal gated dilated
    convolutions (WaveNet-style residual blocks). ``vits``: a convolutional adapter to a
    ``latent_dim`` latent, then a VITS/HiFi-GAN generator (type-2 residual blocks, no
    ``conv_post`` bias) with ``upsample_channels`` initial channels. The bundled voice uses
    ``vits`` because it can start from the teacher's own generator and be fitted without
    adversarial training on a CPU; the paper's variant needs a GAN and GPU days.
    """

    type: Literal["wavenet", "vits"] = "wavenet"
    upsample_rates: tuple[int, ...] = (8, 8, 4)
    upsample_kernels: tuple[int, ...] = (16, 16, 8)
    upsample_channels: int = 64
    # wavenet only
    layers: int = 30
    dilation_cycle: int = 10
    kernel: int = 3
    residual_channels: int = 64
    gate_channels: int = 128
    skip_channels: int = 64
    # vits only
    adapter: AdapterConfig = field(default_factory=AdapterConfig)
    latent_dim: int = 192
    resblock_kernels: tuple[int, ...] = (3, 5, 7)
    resblock_dilations: tuple[tuple[int, ...], ...] = ((1, 2), (2, 6), (3, 12))
    istft_n_fft: int = 0
    """vits only: an inverse-STFT head after the upsamplers (see ``HiFiGANConfig``)."""
    istft_hop: int = 0
    harmonic_source: int = 0
    """vits with an inverse-STFT head: an F0-driven excitation (see ``HiFiGANConfig``)."""


PITCH_ROUGHNESS_RANGE = (0.0, 3.0)
"""Semitones of ``pitch_roughness``: a few at most, or the voice wobbles."""
PITCH_LEVEL_RANGE = (0.8, 1.25)
"""Factors ``pitch_level`` may take: a correction of the predictor, not a new voice."""
PITCH_SPREAD_RANGE = (0.5, 2.0)
"""Factors ``pitch_spread`` may take."""


CONTOUR_SETTINGS = (
    ("pitch_roughness", PITCH_ROUGHNESS_RANGE, "semitones"),
    ("pitch_level", PITCH_LEVEL_RANGE, "a factor"),
    ("pitch_spread", PITCH_SPREAD_RANGE, "a factor"),
)
"""The config fields that act on the predicted F0 contour: name, allowed span, unit."""


def span_text(span: tuple[float, float]) -> str:
    """``[low, high]`` as the refusals of these settings print it."""
    return f"[{span[0]:g}, {span[1]:g}]"


@dataclass(frozen=True)
class FS2Config:
    """Everything needed to rebuild a FastSpeech 2 / 2s model and feed it correctly."""

    version: int = CONFIG_VERSION
    symbols: tuple[str, ...] = SYMBOLS
    audio: AudioConfig = field(default_factory=AudioConfig)
    encoder: TransformerConfig = field(default_factory=TransformerConfig)
    decoder: TransformerConfig = field(default_factory=lambda: TransformerConfig(layers=6))
    variance: VarianceConfig = field(default_factory=VarianceConfig)
    postnet: PostNetConfig | None = field(default_factory=PostNetConfig)
    wave_decoder: WaveDecoderConfig | None = None
    """Present when the checkpoint includes the FastSpeech 2s waveform decoder."""
    mel_variance_scale: tuple[float, ...] = ()
    """Per mel bin, how much to widen the predicted mel around its utterance mean before
    the vocoder (global-variance compensation against over-smoothing); empty = off.
    ``scripts/bundle_voice.py --variance-features`` measures it."""
    pitch_roughness: float = 0.0
    """Semitones (standard deviation) of the slow random movement added to the predicted
    F0 contour when the model speaks from its own prediction; 0 = off. A pitch predictor
    trained by regression averages away the recordings' frame-to-frame F0 movement, and a
    voice this smooth sounds mechanical, the more so raised (``scripts/check_pitch_roughness.py``
    measures both and picks the level; ``bundle_voice.py --pitch-roughness`` stores it)."""

    pitch_level: float = 1.0
    """A factor on the predicted F0 when the model speaks from its own prediction, before
    ``--pitch``; 1 = as predicted. It puts the voice's median F0 back on its recordings'
    where the predictor ends up a little off (``check-pitch-roughness`` measures both)."""

    pitch_spread: float = 1.0
    """How much to widen the predicted log-F0 contour around each utterance's mean when the
    model speaks from its own prediction; 1 = as predicted. A regression-trained pitch
    predictor compresses a sentence's intonation as well as its fine movement (the mean of
    what it cannot predict is flatter than any one reading); ``python -m ttscli.lab
    check-pitch-roughness`` measures the voice's spread against its recordings'."""

    word_lead_frames: float = 0.0
    """How far the voice's sound runs ahead of its phoneme durations, in frames, where
    one word flows into the next: word timings start that much earlier there (not at the
    start of a sentence or after a cut-in pause, where the audio itself starts). A voice
    distilled from a teacher inherits the lead of the teacher's audio over its durations;
    ``python -m ttscli.lab check-ssml --judges`` prints how far word starts still are from
    a forced alignment, signed (the lead left)."""

    def validate(self) -> None:
        """Catch configs that would build a model that cannot run."""
        if self.version != CONFIG_VERSION:
            raise ValueError(f"version: {self.version} is not supported (expected 1)")
        if len(set(self.symbols)) != len(self.symbols) or not self.symbols:
            raise ValueError("symbols: must be a non-empty list without repeats")
        for name, stack in (("encoder", self.encoder), ("decoder", self.decoder)):
            if stack.hidden % stack.heads:
                raise ValueError(f"{name}.hidden must be divisible by {name}.heads")
        if self.encoder.hidden != self.decoder.hidden:
            raise ValueError("encoder.hidden and decoder.hidden must be equal")
        scale = self.mel_variance_scale
        if scale and (len(scale) != self.audio.n_mels or not all(0 < x <= 10 for x in scale)):
            raise ValueError(
                f"mel_variance_scale: needs {self.audio.n_mels} values in (0, 10], or none"
            )
        for name, (low, high), unit in CONTOUR_SETTINGS:
            if not low <= getattr(self, name) <= high:
                raise ValueError(f"{name}: needs {unit} in {span_text((low, high))}")
        if not 0.0 <= self.word_lead_frames <= 20.0:
            raise ValueError("word_lead_frames: needs frames in [0, 20]")
        span = self.variance.pitch_range
        if span is not None and not (len(span) == 2 and 0.1 <= span[0] <= 1.0 <= span[1] <= 10):
            raise ValueError(
                "variance.pitch_range: needs [low, high] with 0.1 <= low <= 1 <= high <= 10"
            )
        wave = self.wave_decoder
        if wave is not None:
            total = wave.istft_hop if wave.type == "vits" and wave.istft_n_fft else 1
            for rate in wave.upsample_rates:
                total *= rate
            if total != self.audio.hop_length:
                raise ValueError(
                    f"wave_decoder: upsample_rates (and istft_hop) multiply to {total}, "
                    f"audio.hop_length is {self.audio.hop_length}"
                )
            if len(wave.upsample_kernels) != len(wave.upsample_rates):
                raise ValueError("wave_decoder.upsample_kernels must match upsample_rates")
            if wave.type == "vits":
                if len(wave.resblock_kernels) != len(wave.resblock_dilations):
                    raise ValueError("wave_decoder.resblock_kernels must match resblock_dilations")
                if wave.upsample_channels % 2 ** len(wave.upsample_rates):
                    raise ValueError(
                        "wave_decoder.upsample_channels must halve evenly at every upsampler"
                    )
                if wave.adapter.layers < 2 or wave.adapter.kernel % 2 != 1:
                    raise ValueError("wave_decoder.adapter: needs 2+ layers and an odd kernel")


@dataclass(frozen=True)
class ProsodyStats:
    """Corpus statistics of log-F0 (voiced frames) and frame energy.

    The model predicts z-scores; these turn them back into Hz and STFT-norm units, set
    the 256 quantisation bins, and make ``--pitch``/``--energy`` scale real quantities.
    """

    log_f0_mean: float
    log_f0_std: float
    log_f0_min: float
    log_f0_max: float
    energy_mean: float
    energy_std: float
    energy_min: float
    energy_max: float

    def validate(self) -> None:
        if not (self.log_f0_std > 0 and self.energy_std > 0):
            raise ValueError("log_f0_std and energy_std must be positive")
        if not (self.log_f0_min < self.log_f0_max and self.energy_min < self.energy_max):
            raise ValueError("each *_min must be below its *_max")
