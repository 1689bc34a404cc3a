"""Train FastSpeech 2 (and optionally the 2s waveform decoder) on preprocessed features.

    python -m ttscli.lab train-fs2 --features data/joe-features --run runs/fs2-small \
        --preset small --steps 20000 --device auto

Resumable: ``RUN/checkpoint`` is a checkpoint in ttscli's own format (loadable with
``ttscli fs2 --checkpoint RUN/checkpoint``), and ``RUN/train_state.safetensors`` +
``RUN/train_state.json`` hold the optimiser moments and step, so nothing is pickled.
Losses are appended to ``RUN/log.jsonl``; the best validation model goes to
``RUN/best``.
"""

from __future__ import annotations

import argparse
import json
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import torch

from ttscli.audio.dsp import SILENT_LOG_MEL
from ttscli.fs2.checkpoint import load_checkpoint, save_checkpoint
from ttscli.fs2.config import (
    ProsodyStats,
)
from ttscli.fs2.model import FastSpeech2, FS2Output
from ttscli.lab.train.data import Utterance, batches, collate
from ttscli.lab.train.loop import Trainee, TrainingLoop, add_loop_arguments, loop_settings
from ttscli.lab.train.losses import losses, waveform_loss
from ttscli.lab.train.presets import PRESETS, WAVE_PRESETS
from ttscli.util.dataclass_json import from_dict
from ttscli.util.errors import UserError, script_exit_code
from ttscli.util.torch_device import resolve_device


def teacher_forced(
    model: FastSpeech2,
    batch: dict[str, torch.Tensor],
    prosody_inputs: str = "target",
    rng: random.Random | None = None,
    energy_augment: float = 0.0,
) -> tuple[FS2Output, dict]:
    """Run the model on ground-truth durations and, as the paper trains it, ground-truth
    pitch and energy (``prosody_inputs`` "target").

    With "predicted" the decoder hears the model's own pitch and energy, as it does when it
    speaks. Frame energy is the norm of the very spectrum the decoder must produce, so a
    decoder trained on the true values leans on them and mumbles on the smooth predicted
    ones (measured on 40 held-out lines: WER 0.374 with true pitch and energy, 0.458 with
    predicted). The predictors still learn from the targets: bucketing stops the mel
    loss's gradient from reaching them.

    With "follow-pitch" (training on pitch-shifted copies) the decoder hears the model's
    own energy, and as pitch either the recorded contour (a random half of the training
    batches) or, as ``--pitch`` gives it, its own predicted contour moved by each
    utterance's shift; validation (no ``rng``) always takes the second. The recorded
    contour shows the decoder exactly where the harmonics go; the predicted one is what it
    will hear when it speaks.

    ``energy_augment``: the share of training utterances heard as a louder or quieter copy
    (``louder_copies``), so that the energy embedding, and with it ``--energy``, sets the
    level: a decoder that only ever hears energy that its text implies learns to ignore it.
    """
    use_targets = prosody_inputs == "target"
    energy_scale = None
    if rng is not None and energy_augment > 0:
        batch, energy_scale = louder_copies(model, batch, rng, energy_augment, use_targets)
    pitch = batch["pitch"] if use_targets else None
    offset = None
    if prosody_inputs == "follow-pitch":
        if rng is not None and rng.random() < 0.5:
            pitch = batch["pitch"]
        else:
            offset = torch.log(batch["pitch_shift"]) / model.variance_adaptor.stats.log_f0_std
    out = model(
        batch["phonemes"],
        batch["phoneme_lengths"],
        durations=batch["durations"],
        pitch=pitch,
        energy=batch.get("energy_input", batch["energy"]) if use_targets else None,
        pitch_offset=offset,
        energy_scale=energy_scale,
    )
    return out, losses(model, out, batch)


ENERGY_AUGMENT_RANGE = (0.5, 2.0)
"""Gains of the louder and quieter copies, log-uniform: the --energy scales people use."""


def louder_copies(
    model: FastSpeech2,
    batch: dict[str, torch.Tensor],
    rng: random.Random,
    share: float,
    use_targets: bool,
) -> tuple[dict[str, torch.Tensor], torch.Tensor | None]:
    """The batch with a ``share`` of its utterances turned into copies played at a random
    gain, made in feature space: the log-mel target moves by log(gain) (down to the floor
    of silence) and the frame energy, an STFT norm, by the gain. The energy predictor keeps
    learning the voice's own level (``energy`` stays); the decoder hears the copy's,
    as ``energy_input`` with target prosody or as a scale on its prediction otherwise."""
    low, high = (math.log(x) for x in ENERGY_AUGMENT_RANGE)
    gains = [
        math.exp(rng.uniform(low, high)) if rng.random() < share else 1.0
        for _ in range(batch["mel"].shape[0])
    ]
    gain = torch.tensor(gains, dtype=batch["mel"].dtype, device=batch["mel"].device)
    copy = dict(batch)
    copy["mel"] = (batch["mel"] + torch.log(gain)[:, None, None]).clamp(min=SILENT_LOG_MEL)
    if not use_targets:
        return copy, gain
    stats = model.variance_adaptor.stats
    energy = (batch["energy"] * stats.energy_std + stats.energy_mean) * gain[:, None]
    copy["energy_input"] = (energy - stats.energy_mean) / stats.energy_std
    return copy, None


def noam(step: int, peak: float, warmup: int) -> float:
    step = max(step, 1)
    return peak * min(step / warmup, math.sqrt(warmup / step))


@torch.no_grad()
def validate(
    model: FastSpeech2, items: list[Utterance], device: torch.device, prosody_inputs: str
) -> dict[str, float]:
    """Mean validation loss per part.

    The best model is chosen by the mel loss alone: the pitch and energy losses are noisy
    from one checkpoint to the next and would otherwise decide which model sounds best.
    """
    model.eval()
    totals: dict[str, float] = {}
    count = 0
    for start in range(0, len(items), 16):
        batch = collate(items[start : start + 16], device)
        for name, value in teacher_forced(model, batch, prosody_inputs)[1].items():
            totals[name] = totals.get(name, 0.0) + float(value)
        count += 1
    model.train()
    return {name: total / max(count, 1) for name, total in totals.items()}


class FS2Trainee(Trainee):
    """FastSpeech 2 (with its 2s decoder when it has one) in the training loop."""

    def __init__(
        self,
        model: FastSpeech2,
        train: list[Utterance],
        val: list[Utterance],
        device: torch.device,
        args: argparse.Namespace,
    ) -> None:
        super().__init__(
            torch.optim.Adam(model.parameters(), lr=args.lr, betas=(0.9, 0.98), eps=1e-9)
        )
        self.model, self.val, self.device, self.args = model, val, device, args
        self.rng = random.Random(args.seed)
        self.groups = self.epochs(train)
        # Validation mel loss on predicted prosody is higher; it does not compare with a
        # target-prosody run's, so switching modes starts the best-model search afresh.
        self.best_by = "mel" if args.prosody_inputs == "target" else "mel-predicted-prosody"

    def epochs(self, train: list[Utterance]) -> Iterator[list[Utterance]]:
        while True:
            yield from batches(train, self.args.batch_frames, self.rng)

    def lr_scale(self, step: int) -> float:
        return noam(step + 1, 1.0, self.args.warmup)

    def loss(self, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        args, model = self.args, self.model
        group = next(self.groups)
        batch = collate(group, self.device)
        out, parts = teacher_forced(
            model, batch, args.prosody_inputs, self.rng, args.energy_augment
        )
        if model.wave_decoder is not None:
            parts["waveform"] = waveform_loss(
                model, out.decoder_hidden, group, args.corpus, args.segment_frames, self.rng
            )
        return sum(parts.values()), {k: float(v.detach()) for k, v in parts.items()}

    def validate(self) -> dict[str, float]:
        return validate(self.model, self.val, self.device, self.args.prosody_inputs)

    def score(self, validation: dict[str, float]) -> float:
        """The mel loss alone: the pitch and energy losses are noisy from one checkpoint to
        the next and would otherwise decide which model sounds best."""
        return validation["mel"]

    def save_checkpoint(self, run: Path) -> None:
        save_checkpoint(self.model, run / "checkpoint")

    def save_best(self, run: Path) -> None:
        save_checkpoint(self.model, run / "best")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m ttscli.lab train-fs2", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--features", type=Path, required=True)
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="small")
    parser.add_argument("--pitch-mode", choices=["frame", "cwt"], default="frame")
    parser.add_argument(
        "--fs2s", action="store_true", help="add and train the FastSpeech 2s waveform decoder"
    )
    parser.add_argument("--corpus", type=Path, help="corpus folder with wavs/ (FS2s only)")
    parser.add_argument("--segment-frames", type=int, default=32)
    parser.add_argument(
        "--prosody-inputs",
        choices=["target", "predicted", "follow-pitch"],
        default="target",
        help="pitch and energy the decoder hears in training: the corpus's (the paper), "
        "the model's own predictions (fine-tuning for clearer speech), or for features with "
        "pitch-shifted copies the recorded or the shifted predicted pitch (--pitch through "
        "the embedding)",
    )
    parser.add_argument(
        "--energy-augment",
        type=float,
        default=0.0,
        metavar="SHARE",
        help="share of training utterances heard as copies at a random gain (0.5-2x, made "
        "from the features), so the decoder follows the energy embedding (--energy); e.g. 0.5",
    )
    parser.add_argument(
        "--init",
        type=Path,
        help="start a new run from this checkpoint's weights, normalised with this features "
        "folder's statistics (e.g. re-extracted F0)",
    )
    add_loop_arguments(parser, steps=20000, log_every=50, save_every=500)
    parser.add_argument("--batch-frames", type=int, default=12000)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--warmup", type=int, default=2000)
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--val-count", type=int, default=64)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--seed", type=int, default=1234)
    args = parser.parse_args(argv)
    if args.energy_augment and args.fs2s:
        parser.error("--energy-augment makes its copies from features: not with --fs2s")
    return args


def build_model(args: argparse.Namespace, stats: ProsodyStats) -> FastSpeech2:
    """The run's own model when resuming, else one started from --init or a preset."""
    checkpoint = args.run / "checkpoint"
    if (checkpoint / "config.json").exists():
        model = load_checkpoint(checkpoint)
        # A resumed run keeps the normalisation it was built with: its pitch and energy bins
        # are fixed by those statistics, even when it continues on a larger features folder.
        if model.variance_adaptor.stats != stats:
            print("normalising with the run's own statistics, not this folder's", flush=True)
        return model
    if args.init is not None:
        start = load_checkpoint(args.init)
        # Without --fs2s a waveform decoder is left behind (train_fs2s gives it back).
        config = start.config if args.fs2s else replace(start.config, wave_decoder=None)
        # The mel variance scale was measured on the old weights' mels; a retrained model
        # needs its own (bundle-voice --variance-features).
        # So were the pitch roughness, level and spread, on the old predictor's contours.
        config = replace(
            config, mel_variance_scale=(), pitch_roughness=0.0, pitch_level=1.0, pitch_spread=1.0
        )
        model = FastSpeech2(config, stats)  # pitch and energy bins from these stats
        state = start.state_dict()
        if not args.fs2s:
            state = {k: v for k, v in state.items() if not k.startswith("wave_decoder.")}
        model.load_state_dict(state)
        print(f"starting from {args.init} with this folder's statistics", flush=True)
        return model
    preset = PRESETS[args.preset]
    config = replace(
        preset,
        variance=replace(preset.variance, pitch_mode=args.pitch_mode),
        wave_decoder=WAVE_PRESETS[args.preset] if args.fs2s else None,
    )
    return FastSpeech2(config, stats)


def train(args: argparse.Namespace) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(resolve_device(args.device))
    stats = from_dict(ProsodyStats, json.loads((args.features / "stats.json").read_text()))
    args.run.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(args.seed)
    model = build_model(args, stats)
    if model.wave_decoder is not None and args.corpus is None:
        raise UserError("an FS2s model needs --corpus (the folder with wavs/)")
    stats = model.variance_adaptor.stats
    model.to(device).train()
    items = [Utterance(p, stats) for p in sorted(args.features.glob("*.npz"))]
    val, train = items[: args.val_count], items[args.val_count :]
    print(f"{len(train)} training and {len(val)} validation utterances", flush=True)
    loop = TrainingLoop(FS2Trainee(model, train, val, device, args), loop_settings(args), args.run)
    loop.resume()
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model: {n_params / 1e6:.2f} M parameters on {device}", flush=True)
    loop.run_to_end()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    return script_exit_code(lambda: train(args))
