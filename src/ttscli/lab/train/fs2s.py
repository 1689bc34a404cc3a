"""Give a trained FastSpeech 2 model its FastSpeech 2s waveform decoder, and train it.

    python -m ttscli.lab train-fs2s --checkpoint runs/fs2/best --vocoder runs/vocoder/export \
        --features data/joe-features --corpus data/joe --run runs/fs2s --minutes 20

The waveform decoder (``type`` "vits") reads the mel decoder's hidden states and writes
audio: a convolutional adapter to a 192-d latent, then a VITS generator. It starts as an
exact composition of what already works: the model's ``mel_linear`` folded into the first
layer of a fitted latent vocoder's adapter (hidden -> mel -> latent becomes hidden ->
latent), and that vocoder's generator. Training then fits it end to end on the corpus audio
with a multi-resolution STFT loss, on the hidden states the model computes with the
recorded durations, pitch and energy, so the decoder learns the model's own features rather
than the teacher's mels. The trunk (encoder, variance adaptor, mel decoder) stays frozen:
``--model fs2`` output is unchanged.

``--mel-vocoder`` trains the other path the same way: the latent vocoder itself, fed the
model's own mels (``--model fs2``), so it learns the slightly smoothed spectra a
FastSpeech 2 model makes rather than only the teacher's. ``RUN/checkpoint`` and ``RUN/best``
are then vocoder bundles (``vocoder.json`` + ``vocoder.safetensors``).

    python -m ttscli.lab train-fs2s --mel-vocoder --checkpoint runs/fs2/best \
        --vocoder runs/vocoder/export --features ... --corpus ... --run runs/vocoder-fs2

``--adversarial WEIGHT`` adds a critic (``adversarial.py``: period and scale discriminators,
least-squares losses and feature matching) to either path, for a fine-tune from a model
the regression losses have taken as far as they go; start such a run from that model
(copy it to ``RUN/checkpoint``). Its validation numbers stay the regression losses, which an
adversarial fine-tune trades a little of for sharper spectra, so judge its checkpoints by
listening tests (``evaluate``), not by ``RUN/best``.

Resumable: ``RUN/checkpoint`` (our checkpoint format, the whole FS2s model) and
``RUN/train_state.*``; the best validation model goes to ``RUN/best``.
"""

from __future__ import annotations

import argparse
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import torch
import torch.nn.functional as F

from ttscli.audio.dsp import log_mel
from ttscli.fs2.checkpoint import load_checkpoint, save_checkpoint
from ttscli.fs2.config import WaveDecoderConfig
from ttscli.fs2.latent_vocoder import LatentVocoder
from ttscli.fs2.model import FastSpeech2, LatentWaveDecoder
from ttscli.fs2.vocoders import load_bundled_latent, save_bundled
from ttscli.lab.corpus.pitch_shifted import shifted_id
from ttscli.lab.train.adversarial import Critic
from ttscli.lab.train.data import Utterance
from ttscli.lab.train.listener import Listener, frame_symbols, frozen_listener
from ttscli.lab.train.loop import Trainee, TrainingLoop, add_loop_arguments, loop_settings
from ttscli.lab.train.losses import multi_resolution_stft_loss
from ttscli.util.errors import script_exit_code

MARGIN = 16
"""Frames of context decoded on each side of a training window and left out of the loss:
the adapter reaches 14 frames and the generator about 10, so the scored frames see almost
what they would see inside the whole utterance."""


def wave_config(vocoder: LatentVocoder) -> WaveDecoderConfig:
    """The FS2s decoder shaped exactly like ``vocoder`` (so its weights carry over)."""
    d = vocoder.config.decoder
    return WaveDecoderConfig(
        type="vits",
        upsample_rates=d.upsample_rates,
        upsample_kernels=d.upsample_kernel_sizes,
        upsample_channels=d.upsample_initial_channel,
        adapter=vocoder.config.adapter,
        latent_dim=d.n_mels,
        resblock_kernels=d.resblock_kernel_sizes,
        resblock_dilations=d.resblock_dilation_sizes,
        istft_n_fft=d.istft_n_fft,
        istft_hop=d.istft_hop,
        harmonic_source=d.harmonic_source,
    )


@torch.no_grad()
def attach_wave_decoder(model: FastSpeech2, vocoder: LatentVocoder) -> FastSpeech2:
    """A new FS2s model: ``model``'s weights, plus a decoder equal to mel_linear -> vocoder.

    Folding: conv_in(W h + b) = (conv_in's weights times W)(h) + conv_in's bias + the sum
    of its taps times b (exact away from the utterance edges, where zero padding in mel
    space and in hidden space differ by the bias alone).
    """
    config = replace(model.config, wave_decoder=wave_config(vocoder))
    fs2s = FastSpeech2(config, model.variance_adaptor.stats)
    missing, unexpected = fs2s.load_state_dict(model.state_dict(), strict=False)
    assert not unexpected and all(name.startswith("wave_decoder.") for name in missing)
    wave = fs2s.wave_decoder
    assert isinstance(wave, LatentWaveDecoder)
    wave.decoder.load_state_dict(vocoder.decoder.state_dict())
    rest = {k: v for k, v in vocoder.adapter.state_dict().items() if not k.startswith("conv_in.")}
    wave.adapter.load_state_dict(rest, strict=False)  # conv_in is folded below
    source = vocoder.adapter.conv_in  # (channels, n_mels, k)
    linear = model.mel_linear  # n_mels x hidden
    wave.adapter.conv_in.weight.copy_(torch.einsum("cmk,mh->chk", source.weight, linear.weight))
    wave.adapter.conv_in.bias.copy_(
        source.bias + torch.einsum("cmk,m->c", source.weight, linear.bias)
    )
    return fs2s


def hidden_states(model: FastSpeech2, item: Utterance, factor: float) -> torch.Tensor:
    """The mel decoder's hidden states with the recorded prosody (F0 times ``factor``),
    (frames, hidden)."""
    shift = math.log(factor) / model.variance_adaptor.stats.log_f0_std
    with torch.no_grad():
        out = model(
            item.phonemes[None],
            torch.tensor([len(item.phonemes)]),
            durations=item.durations[None],
            pitch=item.pitch[None] + shift,
            energy=item.energy[None],
        )
    return out.decoder_hidden[0]


def world_pitch_shift(wave: np.ndarray, factor: float, rate: int) -> np.ndarray:
    """The same speech with F0 times ``factor`` and the spectral envelope kept (WORLD
    analysis and resynthesis: DIO + StoneMask, CheapTrick, D4C)."""
    import pyworld

    x = wave.astype(np.float64)
    f0, times = pyworld.dio(x, rate, f0_floor=60.0, f0_ceil=800.0, frame_period=5.0)
    f0 = pyworld.stonemask(x, f0, times, rate)
    envelope = pyworld.cheaptrick(x, f0, times, rate)
    aperiodicity = pyworld.d4c(x, f0, times, rate)
    y = pyworld.synthesize(f0 * factor, envelope, aperiodicity, rate, frame_period=5.0)
    return np.pad(y, (0, max(0, len(x) - len(y))))[: len(x)].astype(np.float32)


@dataclass
class Windows:
    hidden: torch.Tensor | None  # (batch, segment + 2 * MARGIN, hidden)
    log_f0: torch.Tensor  # (batch, segment + 2 * MARGIN), natural log of Hz
    recorded: torch.Tensor  # (batch, (segment + 2 * MARGIN) * hop): the whole windows
    mel: torch.Tensor | None = None  # (batch, frames, n_mels): the recording's, --true-mels
    symbols: torch.Tensor | None = None  # (batch, segment + 2 * MARGIN): each frame's phoneme

    @property
    def audio(self) -> torch.Tensor:
        """(batch, segment * hop): the recorded centres, what the losses compare."""
        hop = self.recorded.shape[1] // self.log_f0.shape[1]
        return self.recorded[:, MARGIN * hop : -MARGIN * hop]


def windows(
    model: FastSpeech2,
    items: list[Utterance],
    corpus: Path,
    segment: int,
    rng: random.Random,
    factors: list[float] | None = None,
    true_mels: bool = False,
    mel_items: list[Utterance] | None = None,
) -> Windows:
    """Windows of ``segment + 2 * MARGIN`` frames. Where a pitch factor is not 1, the model
    is fed the recorded F0 times the factor and the target is the recording moved to that
    pitch with WORLD: the teacher's voice covers a narrow F0 range, and a vocoder fitted on
    it alone ignores a raised or lowered contour, which would make ``--pitch`` inaudible.
    With ``true_mels`` the windows carry the recording's own log-mel instead of the model's
    hidden states (a mel vocoder fitted like a classic vocoder, independent of the model);
    ``mel_items`` then names, per window, the utterance whose mel it carries (the same
    frames of a recording at another pitch, see ``pitch_partners``)."""
    stats = model.variance_adaptor.stats
    hop = model.config.audio.hop_length
    size = segment + 2 * MARGIN
    hidden, mels, log_f0, recorded, symbols = [], [], [], [], []
    for item, factor, mel_item in zip(
        items, factors or [1.0] * len(items), mel_items or items, strict=True
    ):
        start = rng.randrange(0, item.frames - size + 1)
        if true_mels:
            mels.append(mel_item.mel[start : start + size].float())
        else:
            hidden.append(hidden_states(model, item, factor)[start : start + size])
        symbols.append(frame_symbols(item)[start : start + size])
        pitch = item.pitch[start : start + size] * stats.log_f0_std + stats.log_f0_mean
        log_f0.append(pitch + math.log(factor))
        wave, rate = sf.read(
            str(corpus / "wavs" / f"{item.uid}.wav"),
            start=start * hop,
            stop=(start + size) * hop,
            dtype="float32",
        )
        if factor != 1.0:
            wave = world_pitch_shift(wave, factor, rate)
        recorded.append(torch.from_numpy(wave))
    return Windows(
        torch.stack(hidden) if hidden else None,
        torch.stack(log_f0),
        torch.stack(recorded),
        torch.stack(mels) if mels else None,
        torch.stack(symbols),
    )


class WaveTrainee(Trainee):
    """What is trained: the FS2s waveform decoder, or the mel vocoder on the model's mels.

    Either way the input is the frozen model's hidden states and the output a waveform, so
    windows, loss and schedule are shared. Windows come from a generator seeded by the
    step, so a resumed run sees the windows an unbroken one would.
    """

    best_by = "total"
    validate_at_start = True

    def __init__(self, model: FastSpeech2, vocoder: LatentVocoder | None) -> None:
        self.model, self.vocoder = model, vocoder
        if vocoder is None:
            assert isinstance(model.wave_decoder, LatentWaveDecoder), "waveform decoder is not vits"
            self.module: torch.nn.Module = model.wave_decoder
        else:
            self.module = vocoder
        model.eval()  # the trunk is frozen: no dropout in the features being learnt from
        model.requires_grad_(False)
        self.module.requires_grad_(True)

    def decode(self, batch: Windows) -> torch.Tensor:
        """Waveform from the hidden states (FS2s), or from the model's mels made from them
        (mel vocoder; with the log-F0 too when the vocoder reads pitch)."""
        if self.vocoder is None:
            has_source = self.module.decoder.source is not None
            return self.module(batch.hidden, batch.log_f0 if has_source else None)
        log_f0 = batch.log_f0 if self.vocoder.reads_pitch else None
        if batch.mel is not None:
            return self.vocoder(batch.mel.transpose(1, 2), log_f0)
        with torch.no_grad():
            mel = self.model.mel_linear(batch.hidden)
            if self.model.postnet is not None:
                unpadded = torch.zeros(mel.shape[:2], dtype=torch.bool, device=mel.device)
                mel = self.model.postnet(mel, unpadded)  # windows are cut, never padded
        return self.vocoder(mel.transpose(1, 2), log_f0)

    def param_groups(self, lr: float, decoder_lr: float, source_lr: float = 0.0) -> list[dict]:
        """Adapter, generator and, when the generator has one, its harmonic source's
        projection, which starts at zero and needs a faster rate. ``decoder_lr`` 0 freezes
        the whole generator, source included: an FS2s decoder fitted that way shares its
        generator with the mel vocoder it came from."""
        groups = [{"params": list(self.module.adapter.parameters()), "lr": lr}]
        source = self.module.decoder.source
        source_params = [] if source is None else list(source.parameters())
        ids = {id(p) for p in source_params}
        rest = [p for p in self.module.decoder.parameters() if id(p) not in ids]
        if decoder_lr > 0:
            groups.append({"params": rest, "lr": decoder_lr})
            if source_params:
                groups.append({"params": source_params, "lr": source_lr or lr})
        else:
            self.module.decoder.requires_grad_(False)
        return groups

    def prepare(self, args: argparse.Namespace, items: list[Utterance]) -> None:
        """The optimiser, the training and validation windows: what the loop runs on."""
        groups = self.param_groups(args.lr, args.decoder_lr, args.source_lr)
        super().__init__(torch.optim.Adam(groups, betas=(0.9, 0.99)))
        self.args = args
        size = args.segment + 2 * MARGIN
        val = [u for u in items[: args.val_count] if u.frames >= size]
        self.train = [u for u in items[args.val_count :] if u.frames >= size]
        print(f"{len(self.train)} training and {len(val)} validation utterances", flush=True)
        self.partners = pitch_partners(items) if args.cross_pitch_mels else {}
        self.listener: Listener | None = None
        if args.phone_loss > 0:
            self.listener = frozen_listener(args.listener)
        self.critic: Critic | None = None
        if args.adversarial > 0:
            self.critic = Critic(args.critic_lr)
            if self.critic.load(args.run):
                print("critic resumed", flush=True)
        val_rng = random.Random(args.seed)
        self.val_windows = [
            windows(
                self.model, val[i : i + 8], args.corpus, args.segment, val_rng, None, args.true_mels
            )
            for i in range(0, len(val), 8)
        ]

    def loss(self, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        rng = random.Random(self.args.seed * 1_000_003 + step)
        batch = training_batch(self, self.train, self.args, rng, self.partners)
        decoded = self.decode(batch)
        predicted = centres(self, decoded, batch)
        parts = regression_losses(self, predicted, batch.audio)
        if self.listener is not None:
            parts["phone"] = phone_loss(self, self.listener, decoded, batch)
        loss = self.weighted_total(parts)
        if self.critic is not None:
            parts |= self.critic.judge(predicted, batch.audio)
            # A fresh critic's verdicts are noise: it trains alone for --critic-warmup steps.
            if step >= self.args.critic_warmup:
                adversarial = parts["fool"] + self.args.feature_matching * parts["features"]
                loss = loss + self.args.adversarial * adversarial
        return loss, {name: float(value.detach()) for name, value in parts.items()}

    def weighted_total(self, parts: dict[str, Any]) -> Any:
        """What is minimised and what picks the best model: the STFT loss, plus the
        log-mel L1 and the listener's cross-entropy at their weights."""
        total = parts["stft"] + self.args.mel_loss * parts["mel"]
        if "phone" in parts:
            total = total + self.args.phone_loss * parts["phone"]
        return total

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        sums: dict[str, float] = {}
        for batch in self.val_windows:
            for name, value in window_losses(self, batch).items():
                sums[name] = sums.get(name, 0.0) + float(value)
        means = {name: value / len(self.val_windows) for name, value in sums.items()}
        return means | {"total": float(self.weighted_total(means))}

    def save_checkpoint(self, run: Path) -> None:
        self.save(run / "checkpoint")
        if self.critic is not None:
            self.critic.save(run)

    def save_best(self, run: Path) -> None:
        self.save(run / "best")

    def save(self, folder: Path) -> None:
        if self.vocoder is None:
            save_checkpoint(self.model, folder)
        else:
            save_bundled(self.vocoder, folder, torch.float32)


def centres(trainee: WaveTrainee, decoded: torch.Tensor, batch: Windows) -> torch.Tensor:
    """The decoded windows' centres, (batch, samples): what every loss compares."""
    hop = trainee.model.config.audio.hop_length
    return decoded[:, MARGIN * hop : MARGIN * hop + batch.audio.shape[1]]


def phone_loss(
    trainee: WaveTrainee, listener: Listener, decoded: torch.Tensor, batch: Windows
) -> torch.Tensor:
    """The listener's verdict on the centre frames. It hears the whole decoded window,
    margins included, so the centre frames have the context they would have inside the
    utterance. Against the phonemes the durations put there (``--phone-target phonemes``)
    it asks for more certainty than the recordings give; against what it hears in the
    recording's own window (``recording``, a KL divergence) it asks for as much and no
    more, so the decoder has no reason to exaggerate. ``agreed`` asks for the phonemes only
    in the frames where the recording is heard as them: the durations place boundaries a
    frame or two off, and a decoder made to sound a phoneme where the recording does not
    has to distort the transition."""
    assert batch.symbols is not None
    audio = trainee.model.config.audio
    frames = batch.audio.shape[1] // audio.hop_length
    centre = slice(MARGIN, MARGIN + frames)
    logits = listener(log_mel(decoded, audio))[:, :, centre]
    labels = listener.class_of[batch.symbols[:, centre]]
    if trainee.args.phone_target == "phonemes":
        return F.cross_entropy(logits, labels)
    with torch.no_grad():
        heard = listener(log_mel(batch.recorded, audio))[:, :, centre].log_softmax(1)
    if trainee.args.phone_target == "recording":
        return F.kl_div(logits.log_softmax(1), heard, log_target=True, reduction="sum") / (
            logits.shape[0] * frames
        )
    # "agreed": the phonemes, only in the frames where the recording is heard as them.
    agreed = (heard.argmax(1) == labels).float()
    per_frame = F.cross_entropy(logits, labels, reduction="none")
    return (per_frame * agreed).sum() / agreed.sum().clamp(min=1)


def regression_losses(
    trainee: WaveTrainee, predicted: torch.Tensor, target: torch.Tensor
) -> dict[str, torch.Tensor]:
    """The multi-resolution STFT loss and the log-mel L1. The STFT loss weighs every
    linear-frequency bin alike, so most of its weight lies above the formants; the log-mel
    L1 (``--mel-loss``) weighs the bands as the mel scale does, where the words are."""
    audio = trainee.model.config.audio
    mel = F.l1_loss(log_mel(predicted, audio), log_mel(target, audio))
    return {"stft": multi_resolution_stft_loss(predicted, target), "mel": mel}


def window_losses(trainee: WaveTrainee, batch: Windows) -> dict[str, torch.Tensor]:
    decoded = trainee.decode(batch)
    parts = regression_losses(trainee, centres(trainee, decoded, batch), batch.audio)
    if trainee.listener is not None:
        parts["phone"] = phone_loss(trainee, trainee.listener, decoded, batch)
    return parts


def training_batch(
    trainee: WaveTrainee,
    train: list[Utterance],
    args: argparse.Namespace,
    rng: random.Random,
    partners: dict[str, Utterance],
) -> Windows:
    """``--batch`` random windows; in mel-vocoder mode a share (``--pitch-augment``) at a
    random pitch, 0.6-1.7x log-uniform, and a share (``--cross-pitch-mels``) of those with a
    pitch partner carrying the partner's mel."""
    picked = rng.sample(train, args.batch)
    share = args.cross_pitch_mels
    mel_items = [
        partners[item.uid] if item.uid in partners and rng.random() < share else item
        for item in picked
    ]
    factors = [
        math.exp(rng.uniform(math.log(0.6), math.log(1.7)))
        if trainee.vocoder is not None and rng.random() < args.pitch_augment
        else 1.0
        for _ in picked
    ]
    return windows(
        trainee.model, picked, args.corpus, args.segment, rng, factors, args.true_mels, mel_items
    )


def pitch_partners(items: list[Utterance]) -> dict[str, Utterance]:
    """Each recording and its PSOLA copy (named by ``shifted_id``, same frames), keyed
    by each other's uid. A vocoder shown one's mel with the other's F0 and audio cannot take
    the pitch from the mel's harmonics, so it learns to take it from its F0 input: trained
    on matching pairs alone, a harmonic-source vocoder still stopped near x0.87 when asked
    for x0.72."""
    by_uid = {item.uid: item for item in items}
    partners: dict[str, Utterance] = {}
    for item in items:
        suffix = shifted_id("", item.pitch_shift)
        if item.pitch_shift == 1.0 or not item.uid.endswith(suffix):
            continue
        natural = by_uid.get(item.uid[: -len(suffix)])
        if natural is not None and natural.frames == item.frames:
            partners[item.uid], partners[natural.uid] = natural, item
    return partners


@torch.no_grad()
def with_pitch_input(vocoder: LatentVocoder) -> LatentVocoder:
    """The same vocoder with a log-F0 input channel whose weights start at zero, so it
    begins exactly where ``vocoder`` is and learns how much to follow the contour."""
    if vocoder.config.pitch_input:
        return vocoder
    result = LatentVocoder(replace(vocoder.config, pitch_input=True))
    state = vocoder.state_dict()
    weight = state["adapter.conv_in.weight"]
    state["adapter.conv_in.weight"] = torch.cat([weight, torch.zeros_like(weight[:, :1])], 1)
    result.load_state_dict(state)
    return result


@torch.no_grad()
def with_harmonic_source(vocoder: LatentVocoder, harmonics: int) -> LatentVocoder:
    """The same vocoder with an F0-driven harmonic source in its generator, whose
    projection starts at zero: it sounds exactly as before until training uses it."""
    if vocoder.config.decoder.harmonic_source:
        return vocoder
    decoder = replace(vocoder.config.decoder, harmonic_source=harmonics)
    result = LatentVocoder(replace(vocoder.config, decoder=decoder))
    missing, unexpected = result.load_state_dict(vocoder.state_dict(), strict=False)
    assert not unexpected and all(".source." in name for name in missing), missing
    return result


def load_trainee(args: argparse.Namespace) -> WaveTrainee:
    """Resume from ``RUN/checkpoint`` when it exists, else start from the given files."""
    checkpoint = args.run / "checkpoint"
    if args.mel_vocoder:
        start = checkpoint if (checkpoint / "vocoder.json").exists() else args.vocoder
        vocoder = load_bundled_latent(start)
        if args.pitch_input:
            vocoder = with_pitch_input(vocoder)
        if args.harmonic_source:
            vocoder = with_harmonic_source(vocoder, args.harmonic_source)
        return WaveTrainee(load_checkpoint(args.checkpoint), vocoder)
    if (checkpoint / "config.json").exists():
        return WaveTrainee(load_checkpoint(checkpoint), None)
    model = attach_wave_decoder(load_checkpoint(args.checkpoint), load_bundled_latent(args.vocoder))
    return WaveTrainee(model, None)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m ttscli.lab train-fs2s", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--checkpoint", type=Path, required=True, help="trained FS2 model")
    parser.add_argument("--vocoder", type=Path, required=True, help="latent vocoder bundle")
    parser.add_argument("--features", type=Path, required=True)
    parser.add_argument("--corpus", type=Path, required=True, help="folder with wavs/")
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument(
        "--mel-vocoder", action="store_true", help="fine-tune the mel vocoder instead (fs2)"
    )
    parser.add_argument(
        "--pitch-input",
        action="store_true",
        help="mel vocoder: add a log-F0 input channel (recommended with --pitch-augment)",
    )
    parser.add_argument(
        "--harmonic-source",
        type=int,
        default=0,
        metavar="HARMONICS",
        help="mel vocoder: give the generator an F0-driven excitation of this many harmonics "
        "(its inverse-STFT head then hears the wanted pitch); e.g. 24",
    )
    parser.add_argument("--source-lr", type=float, default=1e-3, help="harmonic source rate")
    parser.add_argument(
        "--true-mels",
        action="store_true",
        help="mel vocoder: fit on the recordings' own mels, not the model's (then the model "
        "only supplies settings, and features with pitch-shifted copies teach it new F0s)",
    )
    parser.add_argument(
        "--pitch-augment",
        type=float,
        default=0.0,
        help="mel vocoder: share of windows pitch-shifted with WORLD (e.g. 0.5)",
    )
    parser.add_argument(
        "--cross-pitch-mels",
        type=float,
        default=0.0,
        metavar="SHARE",
        help="with --true-mels and features holding PSOLA copies: share of windows that "
        "carry the mel of the recording's copy at another pitch (F0 and audio their own), so "
        "the vocoder must follow its F0 input (e.g. 0.5)",
    )
    parser.add_argument(
        "--mel-loss",
        type=float,
        default=0.0,
        metavar="WEIGHT",
        help="add the log-mel L1 of the output, times WEIGHT, to the STFT loss (e.g. 2)",
    )
    parser.add_argument(
        "--phone-loss",
        type=float,
        default=0.0,
        metavar="WEIGHT",
        help="add the cross-entropy of a frozen phoneme listener (--listener, trained by "
        "train-listener) on the output, times WEIGHT (e.g. 0.5)",
    )
    parser.add_argument("--listener", type=Path, help="a train-listener model folder")
    parser.add_argument(
        "--phone-target",
        choices=["phonemes", "recording", "agreed"],
        default="phonemes",
        help="what --phone-loss compares the listener's posteriors with: the phonemes the "
        "durations place (cross-entropy), its posteriors on the recording (KL), or the "
        "phonemes only where it hears the recording as them",
    )
    parser.add_argument(
        "--adversarial",
        type=float,
        default=0.0,
        metavar="WEIGHT",
        help="add a critic's losses (fooling it, plus --feature-matching times matching its "
        "features), times WEIGHT; for a fine-tune from a converged model (e.g. 1)",
    )
    parser.add_argument("--feature-matching", type=float, default=2.0, metavar="WEIGHT")
    parser.add_argument("--critic-lr", type=float, default=2e-4)
    parser.add_argument(
        "--critic-warmup",
        type=int,
        default=0,
        metavar="STEPS",
        help="train the critic alone for this many steps first (e.g. 500)",
    )
    add_loop_arguments(parser, steps=3000, log_every=25, save_every=100)
    parser.add_argument("--batch", type=int, default=6)
    parser.add_argument("--segment", type=int, default=32, help="scored frames per window")
    parser.add_argument("--lr", type=float, default=2e-4, help="adapter learning rate")
    parser.add_argument("--decoder-lr", type=float, default=2e-5, help="generator (0: frozen)")
    parser.add_argument("--val-count", type=int, default=64)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--seed", type=int, default=1234)
    args = parser.parse_args(argv)
    if args.true_mels and not args.mel_vocoder:
        parser.error("--true-mels goes with --mel-vocoder")
    if args.phone_loss > 0 and args.listener is None:
        parser.error("--phone-loss needs --listener")
    if args.cross_pitch_mels and not args.true_mels:
        parser.error("--cross-pitch-mels goes with --true-mels")
    return args


def train(args: argparse.Namespace) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    args.run.mkdir(parents=True, exist_ok=True)
    trainee = load_trainee(args)
    stats = trainee.model.variance_adaptor.stats
    trainee.prepare(args, [Utterance(p, stats) for p in sorted(args.features.glob("*.npz"))])
    loop = TrainingLoop(trainee, loop_settings(args), args.run)
    loop.resume()
    loop.run_to_end()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    return script_exit_code(lambda: train(args))
