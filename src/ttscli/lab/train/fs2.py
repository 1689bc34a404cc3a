"""Train FastSpeech 2 (and optionally the 2s waveform decoder) on preprocessed features.

    python scripts/train_fs2.py --features data/joe-features --run runs/fs2-small \
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
import time
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
from ttscli.lab.train.losses import losses, waveform_loss
from ttscli.lab.train.presets import PRESETS, WAVE_PRESETS
from ttscli.lab.train.state import has_train_state, load_train_state, save_train_state
from ttscli.util.dataclass_json import from_dict


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
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
    parser.add_argument("--steps", type=int, default=20000)
    parser.add_argument("--minutes", type=float, default=0.0, help="stop after this wall time")
    parser.add_argument("--batch-frames", type=int, default=12000)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--warmup", type=int, default=2000)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--val-count", type=int, default=64)
    parser.add_argument("--log-every", type=int, default=50)
    parser.add_argument("--save-every", type=int, default=500)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--seed", type=int, default=1234)
    args = parser.parse_args()
    if args.energy_augment and args.fs2s:
        parser.error("--energy-augment makes its copies from features: not with --fs2s")

    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(
        ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    )
    stats = from_dict(ProsodyStats, json.loads((args.features / "stats.json").read_text()))
    args.run.mkdir(parents=True, exist_ok=True)
    checkpoint = args.run / "checkpoint"
    torch.manual_seed(args.seed)
    if (checkpoint / "config.json").exists():
        model = load_checkpoint(checkpoint)
        # A resumed run keeps the normalisation it was built with: its pitch and energy bins
        # are fixed by those statistics, even when it continues on a larger features folder.
        if model.variance_adaptor.stats != stats:
            print("normalising with the run's own statistics, not this folder's", flush=True)
        stats = model.variance_adaptor.stats
    elif args.init is not None:
        start = load_checkpoint(args.init)
        # Without --fs2s a waveform decoder is left behind (train_fs2s.py gives it back).
        config = start.config if args.fs2s else replace(start.config, wave_decoder=None)
        # The mel variance scale was measured on the old weights' mels; a retrained model
        # needs its own (bundle_voice.py --variance-features).
        # So was the pitch roughness, on the old pitch predictor's contours.
        config = replace(config, mel_variance_scale=(), pitch_roughness=0.0)
        model = FastSpeech2(config, stats)  # pitch and energy bins from these stats
        state = start.state_dict()
        if not args.fs2s:
            state = {k: v for k, v in state.items() if not k.startswith("wave_decoder.")}
        model.load_state_dict(state)
        print(f"starting from {args.init} with this folder's statistics", flush=True)
    else:
        config = replace(
            PRESETS[args.preset],
            variance=replace(PRESETS[args.preset].variance, pitch_mode=args.pitch_mode),
            wave_decoder=WAVE_PRESETS[args.preset] if args.fs2s else None,
        )
        model = FastSpeech2(config, stats)
    model.to(device).train()
    items = [Utterance(p, stats) for p in sorted(args.features.glob("*.npz"))]
    rng = random.Random(args.seed)
    val, train = items[: args.val_count], items[args.val_count :]
    print(f"{len(train)} training and {len(val)} validation utterances", flush=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, betas=(0.9, 0.98), eps=1e-9)
    step, best = 0, float("inf")
    # Validation mel loss on predicted prosody is higher; it does not compare with a
    # target-prosody run's, so switching modes starts the best-model search afresh.
    best_by = "mel" if args.prosody_inputs == "target" else "mel-predicted-prosody"
    if has_train_state(args.run):
        meta = load_train_state(args.run, optimizer)
        step = int(meta["step"])
        # Runs from before best-by-mel-loss kept the total loss; it is not comparable.
        best = float(meta["best_val"]) if meta.get("best_by") == best_by else float("inf")
        print(f"resumed at step {step}", flush=True)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model: {n_params / 1e6:.2f} M parameters on {device}", flush=True)

    log = (args.run / "log.jsonl").open("a")
    started = time.time()
    deadline = started + args.minutes * 60 if args.minutes else math.inf
    while step < args.steps and time.time() < deadline:
        for group in batches(train, args.batch_frames, rng):
            if step >= args.steps or time.time() >= deadline:
                break
            for param_group in optimizer.param_groups:
                param_group["lr"] = noam(step + 1, args.lr, args.warmup)
            batch = collate(group, device)
            out, parts = teacher_forced(model, batch, args.prosody_inputs, rng, args.energy_augment)
            if model.wave_decoder is not None:
                if args.corpus is None:
                    raise SystemExit("an FS2s model needs --corpus (the folder with wavs/)")
                parts["waveform"] = waveform_loss(
                    model, out.decoder_hidden, group, args.corpus, args.segment_frames, rng
                )
            loss = sum(parts.values())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            step += 1
            if step % args.log_every == 0:
                record = {"step": step, "loss": loss.item(), "seconds": time.time() - started}
                record |= {k: round(v.item(), 4) for k, v in parts.items()}
                log.write(json.dumps(record) + "\n")
                log.flush()
                print(record, flush=True)
            last = step == args.steps or time.time() >= deadline
            if step % args.save_every == 0 or last:
                val_parts = validate(model, val, device, args.prosody_inputs)
                val_loss = val_parts["mel"]
                save_checkpoint(model, checkpoint)
                if val_loss < best:
                    best = val_loss
                    save_checkpoint(model, args.run / "best")
                save_train_state(
                    args.run, optimizer, {"step": step, "best_val": best, "best_by": best_by}
                )
                record = {"step": step} | {f"val_{k}": round(v, 4) for k, v in val_parts.items()}
                log.write(json.dumps(record) + "\n")
                log.flush()
                print(f"step {step}: validation mel {val_loss:.4f} (best {best:.4f})", flush=True)


if __name__ == "__main__":
    main()
