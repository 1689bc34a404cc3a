"""Average the weights of fine-tuned copies of one voice into a new checkpoint.

    python -m ttscli.lab average-weights --out runs/average \
        runs/fs2s-phone-cand2 runs/fs2s-agreed-cand1
    python -m ttscli.lab bundle-voice --checkpoint runs/average \
        --vocoder src/ttscli/fs2/assets --out runs/average-bundle

Two fine-tunings that start from nearby weights and pull toward different targets (the
listener's phonemes against its verdict on the recording) each leave a little of one judge
on the table; their plain average lands between them in weight space and, measured on
lines neither was chosen on, kept the words of one and the sound of the other
(docs/benchmarks.md). Averaging only makes sense for copies of the same architecture
trained from a common ancestor, so the inputs must agree on the config and the prosody
statistics exactly; anything else is refused rather than silently blended.

The sum is taken in float64 and the result written in float32, so averaging fp16 bundles
loses nothing before ``bundle-voice`` rounds to the shipped precision once.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from pathlib import Path

import torch

from ttscli.fs2.checkpoint import load_checkpoint, save_checkpoint
from ttscli.fs2.model import FastSpeech2
from ttscli.util.errors import UserError


def parse_weights(text: str | None, count: int) -> list[float]:
    """``--weights`` as positive finite numbers, one per checkpoint (default: equal)."""
    if text is None:
        return [1.0] * count
    try:
        weights = [float(part) for part in text.split(",")]
    except ValueError:
        raise UserError(f"--weights {text!r}: needs comma-separated numbers") from None
    if len(weights) != count:
        raise UserError(f"--weights: {len(weights)} weights for {count} checkpoints")
    if not all(math.isfinite(w) and w > 0 for w in weights):
        raise UserError(f"--weights {text!r}: each weight must be a positive number")
    return weights


def average_models(models: Sequence[FastSpeech2], weights: Sequence[float]) -> FastSpeech2:
    """The first model, its floating-point state replaced by the weighted mean of all.

    Integer buffers are not averaged; they must be equal, as must config and statistics."""
    first = models[0]
    for index, model in enumerate(models[1:], start=2):
        if model.config != first.config:
            raise UserError(f"checkpoint {index}: its config differs from the first's")
        if model.variance_adaptor.stats != first.variance_adaptor.stats:
            raise UserError(f"checkpoint {index}: its prosody statistics differ from the first's")
    total = sum(weights)
    states = [model.state_dict() for model in models]
    averaged = {}
    for name, value in states[0].items():
        if value.is_floating_point():
            acc = sum(
                state[name].double() * (w / total) for state, w in zip(states, weights, strict=True)
            )
            averaged[name] = acc.to(value.dtype)
        else:
            if any(not torch.equal(state[name], value) for state in states[1:]):
                raise UserError(f"{name}: integer buffers differ between checkpoints")
            averaged[name] = value
    first.load_state_dict(averaged)
    return first


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoints", type=Path, nargs="+", help="checkpoint folders")
    parser.add_argument("--out", type=Path, required=True, help="folder for the average")
    parser.add_argument(
        "--weights", default=None, help="comma-separated, one per checkpoint (default: equal)"
    )
    args = parser.parse_args(argv)
    try:
        if len(args.checkpoints) < 2:
            raise UserError("needs at least two checkpoints to average")
        weights = parse_weights(args.weights, len(args.checkpoints))
        models = [load_checkpoint(path) for path in args.checkpoints]
        save_checkpoint(average_models(models, weights), args.out)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    shares = ", ".join(
        f"{w / sum(weights):.3f} {p}" for w, p in zip(weights, args.checkpoints, strict=True)
    )
    print(f"wrote {args.out}: {shares}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
