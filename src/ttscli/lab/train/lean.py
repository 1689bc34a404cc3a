"""Distil the bundled voice into a leaner one that does less arithmetic per second of audio.

The voice's convolutions already run at the CPU's arithmetic peak, so only fewer of them make
it faster. Pruning keeps chosen parts of the voice and drops the rest: some of the mel
decoder's FFT blocks, some of the generator's parallel residual blocks and some of the
adapters' middle layers. What is kept starts from the voice's own weights, and the whole
tail of the voice after the variance adaptor (decoder, mel projection, mel vocoder, and the
FS2s adapter in front of the same generator) is fitted by regression onto the voice's own
outputs: its mels, and its audio for the same frames (L1 and multi-resolution STFT). The
voice is deterministic, so no discriminator is needed, and the encoder, variance predictors
and embeddings stay exactly as they are: durations, pitch and energy do not move.

The pairs are made from corpus text by the voice itself, with ``--pitch``, ``--energy`` and
``--duration`` drawn at random for some lines, so the lean voice learns every control.

    python -m ttscli.lab train-lean data  --out runs/lean-data --limit 1500
    python -m ttscli.lab train-lean train --data runs/lean-data --run runs/lean --minutes 60
    python -m ttscli.lab train-lean export --run runs/lean --out runs/lean-voice
"""

from __future__ import annotations

import argparse
import math
import random
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ttscli.fs2.checkpoint import load_checkpoint, save_checkpoint
from ttscli.fs2.engine import FS2Engine, bundled_checkpoint, widened_mel
from ttscli.fs2.harmonic_source import cycles_before, has_harmonic_source
from ttscli.fs2.io import load_weights, save_weights
from ttscli.fs2.kinds import Controls
from ttscli.fs2.latent_vocoder import LatentVocoder, LatentVocoderConfig, MelAdapter
from ttscli.fs2.model import FastSpeech2, LatentWaveDecoder
from ttscli.fs2.modules import FFTStack
from ttscli.fs2.vocoders import NeuralVocoder, load_bundled_latent, save_bundled
from ttscli.lab.data import TRAIN_SENTENCES, bundled_text
from ttscli.lab.train.loop import LoopSettings, Trainee, TrainingLoop
from ttscli.lab.train.student import stft_loss
from ttscli.text.frontend import text_to_phonemes
from ttscli.util.atomic import atomic_write
from ttscli.util.errors import UserError, script_exit_code


@dataclass(frozen=True)
class LeanShape:
    """Which parts of the voice a lean voice keeps, by index in the voice's own lists."""

    decoder_blocks: tuple[int, ...]
    resblocks: tuple[int, ...]
    """The generator's parallel residual blocks (one upsampling stage: indices of its level)."""
    adapter_convs: tuple[int, ...]
    """The adapters' middle (residual) convolutions; the first and last are always kept."""


SHAPES: dict[str, LeanShape] = {
    # Chosen by the error each subset makes before any training (8 lj_train lines): of the
    # decoder's pairs, the first and last blocks; the kernel-5 block alone; the adapter's
    # last three middle layers.
    "d2r1a5": LeanShape(decoder_blocks=(0, 3), resblocks=(1,), adapter_convs=(2, 3, 4)),
    "d2r2a5": LeanShape(decoder_blocks=(0, 3), resblocks=(0, 1), adapter_convs=(2, 3, 4)),
    # The whole decoder: only the vocoder and the FS2s adapter are pruned.
    "d4r1a5": LeanShape(decoder_blocks=(0, 1, 2, 3), resblocks=(1,), adapter_convs=(2, 3, 4)),
}
SHAPE_FILE = "shape.txt"
BEST = "best.safetensors"


# --- pruning -----------------------------------------------------------------------------


def renumbered(
    state: dict[str, torch.Tensor], prefix: str, keep: Sequence[int]
) -> dict[str, torch.Tensor]:
    """``state`` with the entries of the list ``prefix`` (``prefix.<i>.*``) cut to ``keep``,
    renumbered from 0 in that order; everything else as it was."""
    out: dict[str, torch.Tensor] = {}
    for name, value in state.items():
        if not name.startswith(prefix + "."):
            out[name] = value
            continue
        index, rest = name[len(prefix) + 1 :].split(".", 1)
        if int(index) in keep:
            out[f"{prefix}.{list(keep).index(int(index))}.{rest}"] = value
    return out


def lean_vocoder_config(config: LatentVocoderConfig, shape: LeanShape) -> LatentVocoderConfig:
    decoder = config.decoder
    return replace(
        config,
        adapter=replace(config.adapter, layers=len(shape.adapter_convs) + 2),
        decoder=replace(
            decoder,
            resblock_kernel_sizes=tuple(decoder.resblock_kernel_sizes[i] for i in shape.resblocks),
            resblock_dilation_sizes=tuple(
                tuple(decoder.resblock_dilation_sizes[i]) for i in shape.resblocks
            ),
        ),
    )


def check_shape(model: FastSpeech2, vocoder: LatentVocoder, shape: LeanShape) -> None:
    """Refuse a shape that names parts this voice does not have (or keeps nothing)."""
    limits = {
        "decoder_blocks": len(model.decoder.blocks),
        "resblocks": len(vocoder.decoder.resblocks),
        "adapter_convs": len(vocoder.adapter.convs),
    }
    if len(vocoder.decoder.ups) != 1:
        raise UserError("lean voices prune a generator with one upsampling stage")
    if model.postnet is not None:
        raise UserError("lean voices are made from a voice without a postnet")
    for name, limit in limits.items():
        kept = getattr(shape, name)
        if (not kept and name != "adapter_convs") or any(not 0 <= i < limit for i in kept):
            raise UserError(f"shape {name} {kept}: this voice has {limit}")


class LeanTail(nn.Module):
    """What a lean voice changes: the mel decoder, its projection, the mel vocoder and the
    FS2s adapter (which feeds the same generator)."""

    def __init__(self, model: FastSpeech2, vocoder: LatentVocoder, shape: LeanShape) -> None:
        super().__init__()
        self.shape = shape
        self.scale = model.config.mel_variance_scale
        decoder_config = replace(model.config.decoder, layers=len(shape.decoder_blocks))
        self.decoder = FFTStack(decoder_config)
        self.mel_linear = nn.Linear(model.mel_linear.in_features, model.mel_linear.out_features)
        self.vocoder = LatentVocoder(lean_vocoder_config(vocoder.config, shape))
        wave = model.wave_decoder
        self.fs2s_adapter = (
            MelAdapter(
                wave.adapter.conv_in.in_channels,
                vocoder.config.latent_dim,
                self.vocoder.config.adapter,
            )
            if isinstance(wave, LatentWaveDecoder)
            else None
        )

    @classmethod
    def pruned(cls, model: FastSpeech2, vocoder: LatentVocoder, shape: LeanShape) -> LeanTail:
        """The lean tail with the kept parts' weights copied from the voice."""
        check_shape(model, vocoder, shape)
        tail = cls(model, vocoder, shape)
        tail.decoder.load_state_dict(
            renumbered(model.decoder.state_dict(), "blocks", shape.decoder_blocks)
        )
        tail.mel_linear.load_state_dict(model.mel_linear.state_dict())
        state = renumbered(vocoder.state_dict(), "adapter.convs", shape.adapter_convs)
        tail.vocoder.load_state_dict(renumbered(state, "decoder.resblocks", shape.resblocks))
        if tail.fs2s_adapter is not None:
            assert isinstance(model.wave_decoder, LatentWaveDecoder)
            adapter = model.wave_decoder.adapter.state_dict()
            tail.fs2s_adapter.load_state_dict(renumbered(adapter, "convs", shape.adapter_convs))
        return tail

    def mel(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Variance adaptor output (1, T, hidden) of one whole utterance -> (decoder hidden
        states, mel), both (1, T, ·)."""
        mask = torch.zeros(x.shape[:2], dtype=torch.bool, device=x.device)
        hidden = self.decoder(x, mask)
        return hidden, self.mel_linear(hidden)

    def widen(self, mel: torch.Tensor) -> torch.Tensor:
        """The engine's widening of one unpadded utterance's mel."""
        return widened_mel(mel, self.scale)


# --- data --------------------------------------------------------------------------------


def draw_controls(rng: random.Random, pitch_range: tuple[float, float]) -> Controls:
    """Default prosody for half of the lines; the rest at another pitch, or slower, faster,
    softer and louder."""
    draw = rng.random()
    if draw < 0.5:
        return Controls()
    low, high = pitch_range
    pitch = math.exp(rng.uniform(math.log(low), math.log(high)))
    if draw < 0.8:
        return Controls(pitch=pitch)
    return Controls(
        pitch=pitch if rng.random() < 0.5 else 1.0,
        duration=rng.uniform(0.8, 1.25),
        energy=rng.uniform(0.7, 1.4),
    )


def voice_pairs(
    engine: FS2Engine, phonemes: list[str], controls: Controls
) -> dict[str, np.ndarray]:
    """The voice on one line: what its decoder hears, its mel, log-F0 and audio."""
    heard: list[torch.Tensor] = []
    hook = engine.model.decoder.register_forward_pre_hook(lambda _m, args: heard.append(args[0]))
    try:
        with torch.inference_mode():
            acoustic = engine.run_acoustic([phonemes], controls)
            audio = engine.run_vocoder(acoustic)[0]
    finally:
        hook.remove()
    assert acoustic.log_f0 is not None
    frames = int(acoustic.output.frame_lengths[0])  # the engine may pad a batch's frames
    return {
        "x": heard[0][0, :frames].numpy().astype(np.float16),
        "mel": acoustic.output.mel[0, :frames].numpy().astype(np.float16),
        "log_f0": acoustic.log_f0[0, :frames].numpy().astype(np.float32),
        "audio": audio.numpy().astype(np.float16),
    }


def cmd_data(args: argparse.Namespace) -> int:
    """Write ``<index>.npz`` per line; a rerun skips those done."""
    checkpoint = args.checkpoint or bundled_checkpoint()
    # float32 targets: the same on every machine, whatever --precision auto would pick
    engine = FS2Engine.load(checkpoint, kind="fs2", device="cpu", precision="float32")
    vocoder = engine.vocoder
    if not isinstance(vocoder, NeuralVocoder) or not has_harmonic_source(vocoder.module):
        raise UserError(f"{checkpoint}: needs a mel vocoder with a harmonic source")
    if engine.config.variance.pitch_control != "embedding":
        raise UserError(f"{checkpoint}: needs a voice whose --pitch goes through its model")
    low, high = engine.config.variance.pitch_range or (1.0, 1.0)
    pitch_range = (low, high)
    text = args.text or bundled_text(TRAIN_SENTENCES)
    lines = text.read_text(encoding="utf-8").splitlines()[args.skip : args.skip + args.limit]
    args.out.mkdir(parents=True, exist_ok=True)
    made, started = 0, time.perf_counter()
    for offset, line in enumerate(lines):
        index = args.skip + offset
        path = args.out / f"{index:05d}.npz"
        if path.exists() or not line.strip():
            continue
        phonemes = text_to_phonemes(line)
        if not phonemes:
            continue
        controls = draw_controls(random.Random(f"{args.seed}/{index}"), pitch_range)
        arrays = voice_pairs(engine, phonemes, controls)
        atomic_write(path, lambda tmp, a=arrays: _save(tmp, a))
        made += 1
        if made % 100 == 0:
            print(f"{made} lines in {time.perf_counter() - started:.0f} s", flush=True)
    print(f"done: {made} new lines in {time.perf_counter() - started:.0f} s")
    return 0


def _save(path: str, arrays: dict[str, np.ndarray]) -> None:
    with open(path, "wb") as file:
        np.savez(file, **arrays)


class Lines:
    """Every line of a data folder, in memory (float32 tensors)."""

    def __init__(self, folder: Path) -> None:
        paths = sorted(folder.glob("*.npz"))
        if not paths:
            raise UserError(f"{folder}: no .npz lines (run the data step first)")
        self.items: list[dict[str, torch.Tensor]] = []
        for path in paths:
            with np.load(path) as item:
                self.items.append({k: torch.from_numpy(item[k].astype(np.float32)) for k in item})

    def __len__(self) -> int:
        return len(self.items)

    def frames(self, index: int) -> int:
        return int(self.items[index]["mel"].shape[0])


# --- training ----------------------------------------------------------------------------


class LeanTrainee(Trainee):
    """The lean tail in the training loop: its weights live in the run state, the best ones
    in ``RUN/best.safetensors``. Lines and windows come from a generator seeded by the step,
    so a resumed run sees what an unbroken one would."""

    best_by = "total"
    validate_at_start = True

    def __init__(self, tail: LeanTail, lines: Lines, args: argparse.Namespace) -> None:
        super().__init__(torch.optim.AdamW(tail.parameters(), lr=args.lr, betas=(0.8, 0.99)))
        self.tail, self.lines, self.args = tail, lines, args
        self.state_model = tail
        self.held_out = list(range(len(lines) - args.validation, len(lines)))
        self.pool = list(range(len(lines) - args.validation))
        generator = tail.vocoder.decoder.config
        self.hop, self.rate = generator.hop_length, generator.sample_rate

    def lr_scale(self, step: int) -> float:
        warmup = min(1.0, (step + 1) / max(1, self.args.warmup))
        return warmup * 0.5 ** (step / self.args.half_life)

    def loss(self, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        args = self.args
        rng = random.Random(f"{args.seed}/{step}")
        weights = [self.lines.frames(i) for i in self.pool]
        picks = rng.choices(self.pool, weights=weights, k=args.batch)
        mel_losses, waves, targets, latent_losses = [], [], [], []
        for index in picks:
            item = self.lines.items[index]
            hidden, mel = self.tail.mel(item["x"][None])
            mel_losses.append(F.l1_loss(mel[0], item["mel"]))
            total = mel.shape[1]
            length = min(args.frames, total)
            start = rng.randrange(0, total - length + 1)
            left, right = max(0, start - args.context), min(total, start + length + args.context)
            wave, latent = self._vocode(hidden, self.tail.widen(mel), item["log_f0"], left, right)
            scored = wave[(start - left) * self.hop : (start - left + length) * self.hop]
            target = item["audio"][start * self.hop : (start + length) * self.hop]
            pad = (args.frames - length) * self.hop
            waves.append(F.pad(scored, (0, pad)))
            targets.append(F.pad(target, (0, pad)))
            latent_losses.append(latent)
        predicted, target = torch.stack(waves), torch.stack(targets)
        mel_loss = torch.stack(mel_losses).mean()
        wave_loss = 2.0 * F.l1_loss(predicted, target) + stft_loss(predicted, target)
        latent_loss = torch.stack(latent_losses).mean()
        loss = args.mel_weight * mel_loss + wave_loss + latent_loss
        parts = {"mel": mel_loss.item(), "wave": wave_loss.item(), "fs2s": latent_loss.item()}
        return loss, parts

    def _vocode(
        self, hidden: torch.Tensor, mel: torch.Tensor, log_f0: torch.Tensor, left: int, right: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Audio of frames ``left:right`` through the lean mel vocoder (the harmonic source's
        phase continued from the utterance's start, as the engine's windows do), and the FS2s
        adapter's L1 distance from the latent that vocoder hears there."""
        f0 = log_f0[None]
        cycles = cycles_before(f0, left, self.hop, self.rate) if left else None
        window = mel[:, left:right].transpose(1, 2)
        latent = self.tail.vocoder.latent(window, f0[:, left:right])
        wave = self.tail.vocoder.decoder(latent, f0[:, left:right], cycles)[0]
        if self.tail.fs2s_adapter is None:
            return wave, wave.new_zeros(())
        own = self.tail.fs2s_adapter(hidden[:, left:right].transpose(1, 2))
        return wave, F.l1_loss(own, latent.detach())

    @torch.inference_mode()
    def validate(self) -> dict[str, float]:
        """Whole held-out utterances, as the voice runs them."""
        self.tail.eval()
        mels, stfts = [], []
        for i in self.held_out:
            item = self.lines.items[i]
            _hidden, mel = self.tail.mel(item["x"][None])
            mels.append(float(F.l1_loss(mel[0], item["mel"])))
            wave = self.tail.vocoder(self.tail.widen(mel).transpose(1, 2), item["log_f0"][None])
            stfts.append(float(stft_loss(wave, item["audio"][None])))
        self.tail.train()
        mel_loss, stft = float(np.mean(mels)), float(np.mean(stfts))
        return {"mel": mel_loss, "stft": stft, "total": self.args.mel_weight * mel_loss + stft}

    def save_best(self, run: Path) -> None:
        save_weights(self.tail, run / BEST)


def voice(checkpoint: Path | None) -> tuple[Path, FastSpeech2, LatentVocoder]:
    source = checkpoint or bundled_checkpoint()
    return source, load_checkpoint(source), load_bundled_latent(source)


def run_shape(run: Path, shape: str | None) -> str:
    """The run's shape (written by its first command); a different one is refused."""
    path = run / SHAPE_FILE
    saved = path.read_text().strip() if path.exists() else None
    if shape is None:
        if saved is None:
            raise UserError(f"{run}: not a train-lean run (no {SHAPE_FILE})")
        return saved
    if saved is not None and saved != shape:
        raise UserError(f"{run}: a {saved} run, not {shape}")
    run.mkdir(parents=True, exist_ok=True)
    path.write_text(shape)
    return shape


def cmd_train(args: argparse.Namespace) -> int:
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    shape = run_shape(args.run, args.shape)
    _source, model, vocoder = voice(args.checkpoint)
    tail = LeanTail.pruned(model, vocoder, SHAPES[shape])
    lines = Lines(args.data)
    if len(lines) <= args.validation:
        raise UserError(f"{args.data}: {len(lines)} lines, {args.validation} held out")
    trainee = LeanTrainee(tail, lines, args)
    settings = LoopSettings(args.steps, args.minutes, 50, args.every, clip=10.0)
    loop = TrainingLoop(trainee, settings, args.run)
    loop.resume()
    print(f"{len(trainee.pool)} training lines, {len(trainee.held_out)} held out", flush=True)
    tail.train()
    step = loop.run_to_end()
    print(f"stopped at step {step}, best validation {loop.best:.4f}")
    return 0


def lean_model(model: FastSpeech2, tail: LeanTail) -> FastSpeech2:
    """The voice with its tail replaced by the lean one (FS2s: the lean adapter in front of
    the lean generator)."""
    layers = len(tail.decoder.blocks)
    config = replace(model.config, decoder=replace(model.config.decoder, layers=layers))
    wave = config.wave_decoder
    generator = tail.vocoder.decoder.config
    if wave is not None and wave.type == "vits":
        config = replace(
            config,
            wave_decoder=replace(
                wave,
                adapter=tail.vocoder.config.adapter,
                resblock_kernels=generator.resblock_kernel_sizes,
                resblock_dilations=generator.resblock_dilation_sizes,
            ),
        )
    config.validate()
    lean = FastSpeech2(config, model.variance_adaptor.stats)
    prefixes = ("decoder.", "mel_linear.", "wave_decoder.")
    state = {k: v for k, v in model.state_dict().items() if not k.startswith(prefixes)}
    state |= {f"decoder.{k}": v for k, v in tail.decoder.state_dict().items()}
    state |= {f"mel_linear.{k}": v for k, v in tail.mel_linear.state_dict().items()}
    if tail.fs2s_adapter is not None:
        state |= {f"wave_decoder.adapter.{k}": v for k, v in tail.fs2s_adapter.state_dict().items()}
        generator_state = tail.vocoder.decoder.state_dict()
        state |= {f"wave_decoder.decoder.{k}": v for k, v in generator_state.items()}
    lean.load_state_dict(state)
    return lean.eval()


def cmd_export(args: argparse.Namespace) -> int:
    """A checkpoint folder (model + vocoder) with the run's best lean tail, in fp32."""
    shape = run_shape(args.run, None)
    source, model, vocoder = voice(args.checkpoint)
    tail = LeanTail.pruned(model, vocoder, SHAPES[shape])
    tail.load_state_dict(load_weights(args.run / BEST))
    args.out.mkdir(parents=True, exist_ok=True)
    save_checkpoint(lean_model(model, tail), args.out)
    save_bundled(tail.vocoder.eval(), args.out)
    card = source / "MODEL_CARD.md"
    if card.exists() and not (args.out / card.name).exists():
        shutil.copy(card, args.out / card.name)
    print(f"wrote {args.out}")
    return 0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m ttscli.lab train-lean", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--checkpoint", type=Path, default=None, help="the voice to distil (default: bundled)"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    data = sub.add_parser("data", help="the voice's own outputs on corpus text")
    data.add_argument(
        "--text", type=Path, default=None, help="one line a sentence (default: bundled lj_train)"
    )
    data.add_argument("--out", type=Path, required=True)
    data.add_argument("--skip", type=int, default=0)
    data.add_argument("--limit", type=int, default=1500)
    data.add_argument("--seed", type=int, default=1234)
    train = sub.add_parser("train", help="fit the lean tail (resumes)")
    train.add_argument("--data", type=Path, required=True)
    train.add_argument("--run", type=Path, required=True)
    train.add_argument("--shape", choices=sorted(SHAPES), default="d2r1a5")
    train.add_argument("--minutes", type=float, default=60.0, help="stop after this wall time")
    train.add_argument("--steps", type=int, default=1_000_000)
    train.add_argument("--batch", type=int, default=6)
    train.add_argument("--frames", type=int, default=64)
    train.add_argument("--context", type=int, default=8)
    train.add_argument("--lr", type=float, default=2e-4)
    train.add_argument("--warmup", type=int, default=100)
    train.add_argument("--half-life", type=float, default=5_000)
    train.add_argument("--mel-weight", type=float, default=5.0)
    train.add_argument("--validation", type=int, default=16)
    train.add_argument("--every", type=int, default=250)
    train.add_argument("--threads", type=int, default=2)
    train.add_argument("--seed", type=int, default=0)
    export = sub.add_parser("export", help="a voice folder with the lean tail")
    export.add_argument("--run", type=Path, required=True)
    export.add_argument("--out", type=Path, required=True)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    commands = {"data": cmd_data, "train": cmd_train, "export": cmd_export}
    return script_exit_code(lambda: commands[args.command](args))
