"""Distil the teacher's VITS generator into a student that does a fraction of its work.

The generator (Piper's VITS decoder, frozen in both the mel vocoder and the FS2s waveform
decoder) turns a 192-d latent at 256 samples per frame into audio, deterministically. Its
later upsampling stages run at 5.5 and 22 kHz and do most of the arithmetic; the student
keeps the teacher's first stage(s), copied, and replaces the rest by a head that predicts an
STFT (log-magnitude and phase) followed by an inverse STFT (iSTFTNet's idea). Because the
teacher is deterministic, fitting the student is a regression onto its waveforms (L1 +
multi-resolution STFT), which a CPU can do without a discriminator.

The latents are the ones the student will hear when it serves: our own FastSpeech 2 run on
corpus text, through the mel adapter (``--model fs2``) for even lines and the FS2s adapter
for odd ones, with duration and energy controls drawn at random for some lines. So one
student serves both model kinds.

    python -m ttscli.lab train-student data  --out runs/student-data --limit 1200
    python -m ttscli.lab train-student train --data runs/student-data --run runs/student \
        --minutes 60
    python -m ttscli.lab train-student export --run runs/student --out runs/student-bundle
"""

from __future__ import annotations

import argparse
import random
import shutil
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from ttscli.fs2.checkpoint import load_checkpoint, save_checkpoint
from ttscli.fs2.engine import FS2Engine, bundled_checkpoint
from ttscli.fs2.hifigan import HiFiGANConfig
from ttscli.fs2.io import load_weights, save_weights
from ttscli.fs2.latent_vocoder import (
    LatentVocoder,
    VitsDecoder,
    check_compatible,
    piper_medium_decoder,
)
from ttscli.fs2.model import Controls, FastSpeech2, LatentWaveDecoder
from ttscli.fs2.vocoders import NeuralVocoder, load_bundled_latent, save_bundled
from ttscli.lab.data import TRAIN_SENTENCES, bundled_text
from ttscli.lab.train.loop import LoopSettings, Trainee, TrainingLoop
from ttscli.lab.train.losses import multi_resolution_stft_loss
from ttscli.text.frontend import text_to_phonemes
from ttscli.util.atomic import atomic_write
from ttscli.util.errors import UserError, script_exit_code

SHAPES: dict[str, dict] = {
    # the teacher's first x8 stage, then a 128-point STFT at hop 32
    "c8i": {"upsample_rates": (8,), "upsample_kernel_sizes": (16,), "istft_n_fft": 128,
            "istft_hop": 32},
    # the teacher's first two x8 stages, then a 16-point STFT at hop 4
    "c8c8i": {"upsample_rates": (8, 8), "upsample_kernel_sizes": (16, 16), "istft_n_fft": 16,
              "istft_hop": 4},
}  # fmt: skip
STFT_RESOLUTIONS = ((128, 32), (256, 64), (512, 128), (1024, 256), (2048, 512))
BEST = "best.safetensors"
SHAPE_FILE = "shape.txt"


# --- the student -------------------------------------------------------------------------


def student_config(teacher: HiFiGANConfig, shape: str) -> HiFiGANConfig:
    return replace(teacher, **SHAPES[shape])


def student_from_teacher(teacher: VitsDecoder, shape: str) -> VitsDecoder:
    """The student with the teacher's stages it keeps copied in, and a quiet new head (so
    it starts near silence rather than loud noise)."""
    config = student_config(teacher.config, shape)
    student = VitsDecoder(config)
    own = student.state_dict()
    kept = {
        name: value
        for name, value in teacher.state_dict().items()
        if not name.startswith("conv_post.") and name in own and own[name].shape == value.shape
    }
    student.load_state_dict(kept, strict=False)
    with torch.no_grad():
        student.conv_post.weight.mul_(0.1)
        assert student.conv_post.bias is not None
        bins = config.istft_n_fft // 2 + 1
        student.conv_post.bias.zero_()
        student.conv_post.bias[:bins].fill_(-5.0)
    return student


def macs_per_second(decoder: torch.nn.Module, frame_rate: float, frames: int = 200) -> float:
    """Multiply-accumulates per second of audio, counted on the convolutions."""
    total = 0

    def count(module: torch.nn.Module, _inputs: tuple, output: torch.Tensor) -> None:
        nonlocal total
        weight = module.weight  # (out, in/groups, k) or (in, out/groups, k) for transposed
        per_position = weight.shape[0] * weight.shape[1] * weight.shape[2]
        if isinstance(module, torch.nn.ConvTranspose1d):
            positions = output.shape[-1] // int(module.stride[0])
        else:
            positions = output.shape[-1]
        total += per_position * positions * output.shape[0]

    hooks = [
        m.register_forward_hook(count)
        for m in decoder.modules()
        if isinstance(m, torch.nn.Conv1d | torch.nn.ConvTranspose1d)
    ]
    try:
        with torch.inference_mode():
            decoder(torch.zeros(1, decoder.config.n_mels, frames))
    finally:
        for hook in hooks:
            hook.remove()
    return total / (frames / frame_rate)


# --- data --------------------------------------------------------------------------------


def draw_controls(rng: random.Random) -> Controls:
    """Default prosody for most lines, varied for some, so the student also hears the
    latents of slower, faster, softer and louder speech."""
    if rng.random() < 0.6:
        return Controls()
    return Controls(duration=rng.uniform(0.8, 1.25), energy=rng.uniform(0.8, 1.25))


@torch.inference_mode()
def latent_of(
    engine: FS2Engine, vocoder: LatentVocoder, phonemes: list[str], controls: Controls, fs2s: bool
) -> torch.Tensor:
    """(latent_dim, frames): what the generator hears for this line, through either adapter
    (the acoustic stage gives the mel exactly as the vocoder hears it, already widened)."""
    acoustic = engine.run_acoustic([phonemes], controls)
    frames = int(acoustic.output.frame_lengths[0])  # the engine may pad a batch's frames
    if fs2s:
        assert isinstance(engine.model.wave_decoder, LatentWaveDecoder)
        hidden = acoustic.output.decoder_hidden[:, :frames]
        return engine.model.wave_decoder.latent(hidden)[0]
    log_f0 = None if acoustic.log_f0 is None else acoustic.log_f0[:, :frames]
    return vocoder.latent(acoustic.mel[:, :frames].transpose(1, 2), log_f0)[0]


def cmd_data(args: argparse.Namespace) -> int:
    """Write ``<index>.npz`` (latent, teacher audio) per line; a rerun skips those done."""
    checkpoint = args.checkpoint or bundled_checkpoint()
    # float32 latents: the same on every machine, whatever --precision auto would pick
    engine = FS2Engine.load(checkpoint, kind="fs2", device="cpu", precision="float32")
    assert isinstance(engine.vocoder, NeuralVocoder)
    vocoder = engine.vocoder.module
    assert isinstance(vocoder, LatentVocoder)
    text = args.text or bundled_text(TRAIN_SENTENCES)
    lines = text.read_text(encoding="utf-8").splitlines()[args.skip : args.skip + args.limit]
    args.out.mkdir(parents=True, exist_ok=True)
    made, started = 0, time.perf_counter()
    for offset, text in enumerate(lines):
        index = args.skip + offset
        path = args.out / f"{index:05d}.npz"
        if path.exists() or not text.strip():
            continue
        phonemes = text_to_phonemes(text)
        if not phonemes:
            continue
        rng = random.Random(f"{args.seed}/{index}")
        latent = latent_of(engine, vocoder, phonemes, draw_controls(rng), fs2s=index % 2 == 1)
        with torch.inference_mode():
            audio = vocoder.decoder(latent[None])[0]
        atomic_write(path, lambda tmp, a=latent, b=audio: _save_pair(tmp, a, b))
        made += 1
        if made % 50 == 0:
            print(f"{made} lines in {time.perf_counter() - started:.0f} s", flush=True)
    print(f"done: {made} new lines in {time.perf_counter() - started:.0f} s")
    return 0


def _save_pair(path: str, latent: torch.Tensor, audio: torch.Tensor) -> None:
    with open(path, "wb") as file:
        np.savez(file, latent=latent.numpy(), audio=audio.numpy())


class Pairs:
    """Every (latent, teacher audio) pair of a data folder, in memory, and the samples per
    latent frame they were made with."""

    def __init__(self, folder: Path) -> None:
        paths = sorted(folder.glob("*.npz"))
        if not paths:
            raise UserError(f"{folder}: no .npz pairs (run the data step first)")
        self.latents, self.audio = [], []
        for path in paths:
            with np.load(path) as item:
                self.latents.append(torch.from_numpy(item["latent"]))
                self.audio.append(torch.from_numpy(item["audio"]))
        self.hop = len(self.audio[0]) // self.latents[0].shape[1]

    def __len__(self) -> int:
        return len(self.latents)


def sample_segments(
    pairs: Pairs, pool: Sequence[int], count: int, frames: int, context: int, rng: random.Random
) -> list[tuple[torch.Tensor, int, torch.Tensor]]:
    """``count`` random windows: (latent with up to ``context`` frames each side, offset
    of the scored frames in it, the teacher's audio for the scored frames)."""
    hop = pairs.hop
    weights = [pairs.latents[i].shape[1] for i in pool]
    picks = rng.choices(list(pool), weights=weights, k=count)
    segments = []
    for i in picks:
        latent, audio = pairs.latents[i], pairs.audio[i]
        total = latent.shape[1]
        length = min(frames, total)
        start = rng.randrange(0, total - length + 1)
        left, right = max(0, start - context), min(total, start + length + context)
        target = audio[start * hop : (start + length) * hop]
        if length < frames:
            target = F.pad(target, (0, (frames - length) * hop))
        segments.append((latent[:, left:right], start - left, target))
    return segments


def stft_loss(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Five resolutions, down to 128 points: the student's head works at hop 32."""
    return multi_resolution_stft_loss(predicted, target, STFT_RESOLUTIONS)


def segment_loss(student: VitsDecoder, segments: list, frames: int) -> torch.Tensor:
    hop = student.config.hop_length
    outputs, targets = [], []
    for latent, offset, target in segments:
        wave = student(latent[None])[0]
        scored = wave[offset * hop : (offset + frames) * hop]
        outputs.append(F.pad(scored, (0, frames * hop - len(scored))))
        targets.append(target)
    predicted, target = torch.stack(outputs), torch.stack(targets)
    return 2.0 * F.l1_loss(predicted, target) + stft_loss(predicted, target)


def teacher_vocoder(checkpoint: Path | None) -> LatentVocoder:
    """The mel vocoder of a voice whose generator is still the teacher's."""
    vocoder = load_bundled_latent(checkpoint or bundled_checkpoint())
    if vocoder.decoder.config.istft_n_fft:
        raise UserError("the checkpoint's generator is already a student; give the teacher's")
    return vocoder


def teacher_decoder(checkpoint: Path | None) -> VitsDecoder:
    return teacher_vocoder(checkpoint).decoder


class StudentTrainee(Trainee):
    """The student generator in the training loop: its weights live in the run state, the
    best ones in ``RUN/best.safetensors``. Segments come from a generator seeded by the
    step, so a resumed run sees the segments an unbroken one would."""

    best_by = "stft"

    def __init__(self, student: VitsDecoder, pairs: Pairs, args: argparse.Namespace) -> None:
        super().__init__(torch.optim.AdamW(student.parameters(), lr=args.lr, betas=(0.8, 0.99)))
        self.student, self.pairs, self.args = student, pairs, args
        self.state_model = student
        self.held_out = list(range(len(pairs) - args.validation, len(pairs)))
        self.pool = list(range(len(pairs) - args.validation))

    def lr_scale(self, step: int) -> float:
        return 0.5 ** (step / self.args.half_life)

    def loss(self, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        args = self.args
        rng = random.Random(f"{args.seed}/{step}")
        segments = sample_segments(
            self.pairs, self.pool, args.batch, args.frames, args.context, rng
        )
        return segment_loss(self.student, segments, args.frames), {}

    @torch.inference_mode()
    def validate(self) -> dict[str, float]:
        """Whole held-out utterances, as the student will run them."""
        self.student.eval()
        losses = [
            float(stft_loss(self.student(self.pairs.latents[i][None]), self.pairs.audio[i][None]))
            for i in self.held_out
        ]
        self.student.train()
        return {"stft": float(np.mean(losses))}

    def save_best(self, run: Path) -> None:
        save_weights(self.student, run / BEST)


def cmd_train(args: argparse.Namespace) -> int:
    torch.manual_seed(args.seed)
    args.run.mkdir(parents=True, exist_ok=True)
    shape_file = args.run / SHAPE_FILE
    if shape_file.exists() and shape_file.read_text().strip() != args.shape:
        raise UserError(f"{args.run}: a {shape_file.read_text().strip()} run, not {args.shape}")
    shape_file.write_text(args.shape)
    student = student_from_teacher(teacher_decoder(args.checkpoint), args.shape)
    pairs = Pairs(args.data)
    trainee = StudentTrainee(student, pairs, args)
    settings = LoopSettings(args.steps, args.minutes, 100, args.every, clip=10.0)
    loop = TrainingLoop(trainee, settings, args.run)
    loop.resume()
    print(f"{len(trainee.pool)} training pairs, {len(trainee.held_out)} held out", flush=True)
    student.train()
    step = loop.run_to_end()
    print(f"stopped at step {step}, best validation {loop.best:.4f}")
    return 0


def load_student(run: Path, teacher: HiFiGANConfig) -> VitsDecoder:
    shape = (run / SHAPE_FILE).read_text().strip()
    student = VitsDecoder(student_config(teacher, shape))
    student.load_state_dict(load_weights(run / BEST))
    return student.eval()


def with_generator(model: FastSpeech2, generator: VitsDecoder) -> FastSpeech2:
    """The model with its FS2s generator swapped (the adapter in front of it kept)."""
    wave = model.config.wave_decoder
    if wave is None or wave.type != "vits":
        return model
    c = generator.config
    config = replace(
        model.config,
        wave_decoder=replace(
            wave,
            upsample_rates=c.upsample_rates,
            upsample_kernels=c.upsample_kernel_sizes,
            istft_n_fft=c.istft_n_fft,
            istft_hop=c.istft_hop,
        ),
    )
    config.validate()
    rebuilt = FastSpeech2(config, model.variance_adaptor.stats)
    state = {
        k: v for k, v in model.state_dict().items() if not k.startswith("wave_decoder.decoder.")
    }
    state.update({f"wave_decoder.decoder.{k}": v for k, v in generator.state_dict().items()})
    rebuilt.load_state_dict(state)
    return rebuilt.eval()


def cmd_export(args: argparse.Namespace) -> int:
    """A checkpoint folder (model + vocoder) whose generator is the student, in fp32."""
    source = args.checkpoint or bundled_checkpoint()
    model = load_checkpoint(source)
    vocoder = teacher_vocoder(source)
    check_compatible(vocoder.config, model.config.audio, str(source))
    student = load_student(args.run, vocoder.decoder.config)
    config = replace(vocoder.config, decoder=student.config)
    new_vocoder = LatentVocoder(config)
    new_vocoder.adapter.load_state_dict(vocoder.adapter.state_dict())
    new_vocoder.decoder.load_state_dict(student.state_dict())
    args.out.mkdir(parents=True, exist_ok=True)
    save_checkpoint(with_generator(model, student), args.out)
    save_bundled(new_vocoder.eval(), args.out)
    card = source / "MODEL_CARD.md"
    if card.exists() and not (args.out / card.name).exists():
        shutil.copy(card, args.out / card.name)
    print(f"wrote {args.out}")
    return 0


def cmd_macs(args: argparse.Namespace) -> int:
    """Arithmetic depends on shapes only, so a voice whose generator is already a student
    (the bundled one) is measured against the teacher's shape, Piper medium's decoder."""
    own = load_bundled_latent(args.checkpoint or bundled_checkpoint()).decoder.eval()
    teacher = own if not own.config.istft_n_fft else VitsDecoder(piper_medium_decoder()).eval()
    rate = teacher.config.sample_rate / teacher.config.hop_length
    base = macs_per_second(teacher, rate)
    print(f"teacher: {base / 1e9:.3f} GMAC per second of audio")
    generators = {shape: student_from_teacher(teacher, shape).eval() for shape in SHAPES}
    if own is not teacher:
        generators["this voice's generator"] = own
    for name, generator in generators.items():
        macs = macs_per_second(generator, rate)
        print(f"{name}: {macs / 1e9:.3f} GMAC per second of audio ({macs / base:.3f} of it)")
    return 0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m ttscli.lab train-student", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--checkpoint",
        type=Path,
        default=None,
        help="voice whose generator is the teacher (default: the bundled one)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    data = sub.add_parser("data", help="latents and teacher audio from corpus text")
    data.add_argument(
        "--text", type=Path, default=None, help="one line a sentence (default: bundled lj_train)"
    )
    data.add_argument("--out", type=Path, required=True)
    data.add_argument("--skip", type=int, default=0)
    data.add_argument("--limit", type=int, default=1200)
    data.add_argument("--seed", type=int, default=1234)
    train = sub.add_parser("train", help="fit the student (resumes)")
    train.add_argument("--data", type=Path, required=True)
    train.add_argument("--run", type=Path, required=True)
    train.add_argument("--shape", choices=sorted(SHAPES), default="c8i")
    train.add_argument("--minutes", type=float, default=60.0, help="stop after this wall time")
    train.add_argument("--steps", type=int, default=1_000_000)
    train.add_argument("--batch", type=int, default=6)
    train.add_argument("--frames", type=int, default=64)
    train.add_argument("--context", type=int, default=8)
    train.add_argument("--lr", type=float, default=4e-4)
    train.add_argument("--half-life", type=float, default=15_000)
    train.add_argument("--validation", type=int, default=24)
    train.add_argument("--every", type=int, default=1000)
    train.add_argument("--seed", type=int, default=0)
    export = sub.add_parser("export", help="a voice folder whose generator is the student")
    export.add_argument("--run", type=Path, required=True)
    export.add_argument("--out", type=Path, required=True)
    sub.add_parser("macs", help="arithmetic per second of audio: teacher and each shape")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    commands = {"data": cmd_data, "train": cmd_train, "export": cmd_export, "macs": cmd_macs}
    return script_exit_code(lambda: commands[args.command](args))
