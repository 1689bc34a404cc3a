"""A listener: a frame-wise phoneme classifier over log-mel, trained on the teacher's
recordings, whose verdict a waveform decoder can be fine-tuned against.

    python -m ttscli.lab train-listener --features data/joe-feat --run runs/listener \
        --steps 5000 --threads 2

The regression losses that fit the FS2s decoder (multi-resolution STFT, log-mel L1) stopped
saying which decoder a recogniser understands better: lower losses bought fewer recognised
words. A listener measures what they miss, whether each frame still sounds like the phoneme
it should be. It learns from the corpus recordings alone, with the labels their durations
give (the phoneme of every frame, stress removed, pauses and punctuation as one silence
class), and is then frozen; ``train-fs2s --listener RUN/best --phone-loss WEIGHT`` adds its
cross-entropy on the decoder's output to the regression losses. It is our own small model,
not the recogniser that judges the voice (``evaluate``'s pocketsphinx), so the fine-tune
cannot learn that judge's quirks.

Resumable: ``RUN/checkpoint`` and ``RUN/best`` hold ``listener.json`` (its shape and the
mel normalisation) and ``listener.safetensors``; ``RUN/train_state.*`` the optimiser.
"""

from __future__ import annotations

import argparse
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ttscli.fs2.config import ProsodyStats
from ttscli.fs2.io import apply_weights, load_dataclass, load_weights, save_json, save_weights
from ttscli.lab.train.data import Utterance
from ttscli.lab.train.loop import Trainee, TrainingLoop, add_loop_arguments, loop_settings
from ttscli.text.symbols import ARPABET, SYMBOLS
from ttscli.util.errors import script_exit_code

CONFIG, WEIGHTS = "listener.json", "listener.safetensors"

SILENCE = "sil"
"""The one class of every symbol that is not a phoneme (pause, punctuation, padding)."""


def phoneme_classes(symbols: Sequence[str]) -> tuple[list[str], list[int]]:
    """The classes (phonemes without stress, then silence) and each symbol's class index.
    Stress is a matter of prosody, which the decoder's inputs already fix; the listener
    judges the sound."""
    names = [symbol.rstrip("012") if symbol in ARPABET else SILENCE for symbol in symbols]
    classes = [*sorted(set(names) - {SILENCE}), SILENCE]
    return classes, [classes.index(name) for name in names]


def frame_symbols(item: Utterance) -> torch.Tensor:
    """The symbol id of every mel frame of ``item``, from its phonemes and durations."""
    ids = torch.repeat_interleave(item.phonemes.long(), item.durations.long())
    if len(ids) < item.frames:  # a remainder after the last phoneme is padding
        ids = F.pad(ids, (0, item.frames - len(ids)))
    return ids[: item.frames]


def frame_labels(item: Utterance, class_of: torch.Tensor) -> torch.Tensor:
    """The listener's class of every mel frame of ``item``."""
    return class_of[frame_symbols(item)]


@dataclass(frozen=True)
class ListenerConfig:
    n_mels: int
    classes: list[str]
    class_of_symbol: list[int]
    channels: int = 256
    dilations: tuple[int, ...] = (1, 2, 4, 8, 1, 1)
    kernel: int = 5
    mel_mean: float = 0.0
    mel_std: float = 1.0


class Listener(nn.Module):
    """Dilated 1-D convolutions over log-mel frames, one phoneme posterior per frame.
    Its receptive field (about 0.4 s either side) covers a phoneme's neighbours, as
    coarticulation needs, and no more: it hears sounds, not words."""

    def __init__(self, config: ListenerConfig) -> None:
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        width = config.n_mels
        for dilation in config.dilations:
            padding = dilation * (config.kernel - 1) // 2
            conv = nn.Conv1d(
                width, config.channels, config.kernel, padding=padding, dilation=dilation
            )
            layers += [
                conv,
                nn.GroupNorm(1, config.channels),
                nn.GELU(),
            ]
            width = config.channels
        self.body = nn.Sequential(*layers)
        self.head = nn.Conv1d(config.channels, len(config.classes), 1)
        self.register_buffer("class_of", torch.tensor(config.class_of_symbol), persistent=False)

    def forward(self, log_mel: torch.Tensor) -> torch.Tensor:
        """Logits (batch, classes, frames) of log-mel (batch, n_mels, frames)."""
        x = (log_mel - self.config.mel_mean) / self.config.mel_std
        return self.head(self.body(x))

    def save(self, folder: Path) -> None:
        save_weights(self, folder / WEIGHTS)
        save_json(folder / CONFIG, self.config)

    @classmethod
    def load(cls, folder: Path) -> Listener:
        listener = cls(load_dataclass(ListenerConfig, folder / CONFIG))
        apply_weights(listener, load_weights(folder / WEIGHTS), folder / WEIGHTS)
        return listener


def frozen_listener(folder: Path) -> Listener:
    """A trained listener, in inference mode and untrainable, for use as a loss."""
    listener = Listener.load(folder)
    listener.eval()
    listener.requires_grad_(False)
    return listener


@dataclass
class Batch:
    mel: torch.Tensor  # (batch, n_mels, frames)
    labels: torch.Tensor  # (batch, frames)


def random_windows(
    items: list[Utterance], class_of: torch.Tensor, size: int, count: int, rng: random.Random
) -> Batch:
    """``count`` windows of ``size`` frames from random utterances (all long enough)."""
    mels, labels = [], []
    for item in rng.sample(items, count):
        start = rng.randrange(0, item.frames - size + 1)
        mels.append(item.mel[start : start + size].float().T)
        labels.append(frame_labels(item, class_of)[start : start + size])
    return Batch(torch.stack(mels), torch.stack(labels))


class ListenerTrainee(Trainee):
    """Cross-entropy per frame; the best model by validation cross-entropy. Batches are
    a function of the step, so a resumed run sees what an unbroken one would."""

    best_by = "ce"

    def __init__(self, listener: Listener, items: list[Utterance], args: argparse.Namespace):
        super().__init__(torch.optim.AdamW(listener.parameters(), lr=args.lr, weight_decay=1e-4))
        self.listener, self.args = listener, args
        self.state_model = listener
        long_enough = [u for u in items if u.frames >= args.window]
        self.val, self.train = long_enough[: args.val_count], long_enough[args.val_count :]
        print(f"{len(self.train)} training and {len(self.val)} validation utterances", flush=True)
        rng = random.Random(args.seed)
        class_of = listener.class_of
        groups = [self.val[i : i + 16] for i in range(0, len(self.val), 16)]
        self.val_batches = [
            random_windows(group, class_of, args.window, len(group), rng) for group in groups
        ]

    def lr_scale(self, step: int) -> float:
        """A short warm-up, then a cosine down to a tenth by ``--steps``."""
        warmup, total = 200, max(self.args.steps, 201)
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / (total - warmup))
        return 0.1 + 0.45 * (1 + math.cos(math.pi * progress))

    def loss(self, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        self.listener.train()
        rng = random.Random(self.args.seed * 1_000_003 + step)
        batch = random_windows(
            self.train, self.listener.class_of, self.args.window, self.args.batch, rng
        )
        logits = self.listener(batch.mel)
        loss = F.cross_entropy(logits, batch.labels)
        accuracy = (logits.argmax(1) == batch.labels).float().mean()
        return loss, {"ce": float(loss.detach()), "accuracy": float(accuracy)}

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        self.listener.eval()
        ce = correct = frames = 0.0
        for batch in self.val_batches:
            logits = self.listener(batch.mel)
            ce += float(F.cross_entropy(logits, batch.labels, reduction="sum"))
            correct += float((logits.argmax(1) == batch.labels).sum())
            frames += batch.labels.numel()
        return {"ce": ce / frames, "accuracy": correct / frames}

    def save_checkpoint(self, run: Path) -> None:
        self.listener.save(run / "checkpoint")

    def save_best(self, run: Path) -> None:
        self.listener.save(run / "best")


def new_listener(items: list[Utterance], symbols: Sequence[str], channels: int) -> Listener:
    """A fresh listener whose input normalisation is the corpus's log-mel mean and spread."""
    sample = torch.cat([u.mel.float() for u in items[:200]])
    classes, class_of = phoneme_classes(symbols)
    config = ListenerConfig(
        n_mels=sample.shape[1],
        classes=classes,
        class_of_symbol=class_of,
        channels=channels,
        mel_mean=round(float(sample.mean()), 4),
        mel_std=round(float(sample.std()), 4),
    )
    return Listener(config)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m ttscli.lab train-listener", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--features", type=Path, required=True, help="preprocessed corpus")
    parser.add_argument("--run", type=Path, required=True)
    add_loop_arguments(parser, steps=20000, log_every=50, save_every=500)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--window", type=int, default=96, help="frames per training window")
    parser.add_argument("--channels", type=int, default=256)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--val-count", type=int, default=64)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument(
        "--originals-only",
        action="store_true",
        help="leave out PSOLA copies (features with a pitch shift): judge the natural voice",
    )
    return parser.parse_args(argv)


def train(args: argparse.Namespace) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    stats = load_dataclass(ProsodyStats, args.features / "stats.json")
    items = [Utterance(p, stats) for p in sorted(args.features.glob("*.npz"))]
    if args.originals_only:
        items = [u for u in items if u.pitch_shift == 1.0]
    checkpoint = args.run / "checkpoint"
    if (checkpoint / CONFIG).exists():
        listener = Listener.load(checkpoint)
    else:
        listener = new_listener(items, SYMBOLS, args.channels)
    args.run.mkdir(parents=True, exist_ok=True)
    loop = TrainingLoop(ListenerTrainee(listener, items, args), loop_settings(args), args.run)
    loop.resume()
    loop.run_to_end()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    return script_exit_code(lambda: train(args))
