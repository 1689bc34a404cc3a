"""Copy a trained voice into the package as the bundled default, in fp16.

    python -m ttscli.lab bundle-voice --checkpoint runs/fs2s/best \
        --vocoder runs/vocoder/export --out src/ttscli/fs2/assets

Writes ``config.json``, ``stats.json``, ``model.safetensors`` (the FS2 model, with its 2s
waveform decoder when the checkpoint has one) and ``vocoder.json`` +
``vocoder.safetensors`` (the mel vocoder ``--model fs2`` uses), each atomically. Other
files in ``--out`` (the hand-written MODEL_CARD.md) are left alone. Refuses a bundle over
``--max-mb`` (the package's budget) and checks that the result loads and speaks before it
prints the sizes and SHA-256 sums that the model card records. With
``--variance-features`` it also measures how much flatter the model's mels are than the
corpus's and stores the correction in the config (``mel_variance_scale``).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from ttscli.fs2.checkpoint import (
    CONFIG_FILE,
    STATS_FILE,
    WEIGHTS_FILE,
    load_checkpoint,
    save_checkpoint,
)
from ttscli.fs2.config import (
    CONTOUR_SETTINGS,
    PITCH_LEVEL_RANGE,
    PITCH_SPREAD_RANGE,
    FS2Config,
    span_text,
)
from ttscli.fs2.engine import FS2Engine
from ttscli.fs2.io import load_dataclass
from ttscli.fs2.model import Controls, FastSpeech2
from ttscli.fs2.vocoders import BUNDLED_CONFIG, BUNDLED_WEIGHTS, load_bundled_latent, save_bundled
from ttscli.util.atomic import atomic_write_bytes
from ttscli.util.errors import UserError

FILES = (CONFIG_FILE, STATS_FILE, WEIGHTS_FILE, BUNDLED_CONFIG, BUNDLED_WEIGHTS)
DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16}


@torch.inference_mode()
def measure_mel_variance_scale(
    model: FastSpeech2, features: list[Path], power: float
) -> tuple[float, ...]:
    """(std of the real mel / std of the predicted mel) ** power per bin, each std taken
    over one utterance's frames and averaged over ``features`` (preprocess_fs2.py files).

    Measured free-running (predicted durations), as the voice speaks. The full ratio
    over-corrects; on 30 lj_val sentences the square root (power 0.5) lowered the bundled
    voice's WER from 0.455 to 0.401 at the same DNSMOS, the full ratio only to 0.451.
    """
    model.eval()
    real, predicted = [], []
    for path in features:
        with np.load(path) as item:
            ids = torch.from_numpy(item["phonemes"].astype(np.int64))[None]
            real.append(item["mel"].std(0))
        out = model(ids, torch.tensor([ids.shape[1]]), Controls())
        predicted.append(out.mel[0].float().numpy().std(0))
    ratio = np.mean(real, axis=0) / np.maximum(np.mean(predicted, axis=0), 1e-6)
    return tuple(round(float(x), 4) for x in np.clip(ratio, 0.1, 10.0) ** power)


def write_bundle(
    checkpoint: Path,
    vocoder: Path,
    out: Path,
    dtype: torch.dtype,
    pitch_control: str | None,
    variance_features: list[Path],
    variance_power: float,
    pitch_range: tuple[float, float] | None = None,
    pitch_roughness: float | None = None,
    pitch_calibration: dict[str, float] | None = None,
) -> None:
    """``pitch_calibration``: ``pitch_level`` and ``pitch_spread`` to store, where given."""
    model = load_checkpoint(checkpoint)
    config = model.config
    if pitch_control is not None:
        config = replace(config, variance=replace(config.variance, pitch_control=pitch_control))
    if pitch_range is not None:
        config = replace(config, variance=replace(config.variance, pitch_range=pitch_range))
    if variance_features:
        scale = measure_mel_variance_scale(model, variance_features, variance_power)
        config = replace(config, mel_variance_scale=scale)
    if pitch_roughness is not None:  # after the scale, which is measured on the plain contour
        config = replace(config, pitch_roughness=pitch_roughness)
    if pitch_calibration:
        config = replace(config, **pitch_calibration)
    config.validate()
    model.config = config
    save_checkpoint(model, out, dtype)
    save_bundled(load_bundled_latent(vocoder, model.config.audio), out, dtype)


def check_speaks(folder: Path) -> list[str]:
    """Load the bundle as the CLI would and time one sentence per model kind."""
    lines = []
    config = load_dataclass(FS2Config, folder / CONFIG_FILE)
    kinds = ["fs2"] + (["fs2s"] if config.wave_decoder is not None else [])
    for kind in kinds:
        engine = FS2Engine.load(folder, kind=kind, device="cpu")  # type: ignore[arg-type]
        start = time.perf_counter()
        chunks = list(engine.stream("Hello world, this is the bundled voice."))
        elapsed = time.perf_counter() - start
        audio = np.concatenate([chunk.audio for chunk in chunks])
        if not (abs(audio).max() > 0.01):
            raise UserError(f"{folder}: --model {kind} produced silence")
        seconds = len(audio) / engine.sample_rate
        lines.append(f"{kind}: {seconds:.2f} s of audio in {elapsed:.2f} s ({engine.vocoder_name})")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--vocoder", type=Path, required=True, help="latent vocoder bundle")
    parser.add_argument("--out", type=Path, default=Path("src/ttscli/fs2/assets"))
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="fp16")
    parser.add_argument("--max-mb", type=float, default=60.0)
    parser.add_argument(
        "--pitch-control",
        choices=["embedding", "resample"],
        default=None,
        help="how --pitch reaches the audio (default: as the checkpoint says); 'resample' "
        "for a voice whose decoder or vocoder ignores the pitch embedding",
    )
    parser.add_argument(
        "--pitch-range",
        type=float,
        nargs=2,
        metavar=("LOW", "HIGH"),
        help="the --pitch scales an embedding voice follows (the ratios its pitch-shifted "
        "training copies spanned); outside them --pitch is refused",
    )
    parser.add_argument(
        "--pitch-roughness",
        type=float,
        default=None,
        metavar="SEMITONES",
        help="F0 movement added to the predicted contour (check_pitch_roughness.py picks it; "
        "default: as the checkpoint says)",
    )
    parser.add_argument(
        "--pitch-level",
        type=float,
        default=None,
        metavar="FACTOR",
        help=f"factor on the predicted F0, in {span_text(PITCH_LEVEL_RANGE)}: the recordings' "
        "median F0 over the voice's, as check_pitch_roughness.py reads them (default: as the "
        "checkpoint says)",
    )
    parser.add_argument(
        "--pitch-spread",
        type=float,
        default=None,
        metavar="FACTOR",
        help="widening of each sentence's predicted log-F0 around its mean, in "
        f"{span_text(PITCH_SPREAD_RANGE)}: the recordings' spread over the voice's (default: "
        "as the checkpoint says)",
    )
    parser.add_argument(
        "--variance-features",
        type=Path,
        default=None,
        help="features folder (preprocess_fs2.py): measure the mel variance scale on its "
        "first --variance-count utterances, which train_fs2.py held out for validation",
    )
    parser.add_argument("--variance-count", type=int, default=40)
    parser.add_argument("--variance-power", type=float, default=0.5)
    args = parser.parse_args(argv)
    variance_features = (
        sorted(args.variance_features.glob("*.npz"))[: args.variance_count]
        if args.variance_features
        else []
    )
    for name, (low, high), unit in CONTOUR_SETTINGS:
        value = getattr(args, name)
        if value is not None and not low <= value <= high:
            flag = "--" + name.replace("_", "-")
            print(f"error: {flag}: needs {unit} in {span_text((low, high))}", file=sys.stderr)
            return 1
    calibration = {
        name: value
        for name, value in (("pitch_level", args.pitch_level), ("pitch_spread", args.pitch_spread))
        if value is not None
    }
    if args.variance_features and not variance_features:
        print(f"error: {args.variance_features}: no .npz feature files", file=sys.stderr)
        return 1
    try:
        with tempfile.TemporaryDirectory() as tmp:
            staged = Path(tmp)
            write_bundle(
                args.checkpoint,
                args.vocoder,
                staged,
                DTYPES[args.dtype],
                args.pitch_control,
                variance_features,
                args.variance_power,
                tuple(args.pitch_range) if args.pitch_range else None,
                args.pitch_roughness,
                calibration,
            )
            total = sum((staged / name).stat().st_size for name in FILES)
            if total > args.max_mb * 1e6:
                raise UserError(f"bundle is {total / 1e6:.1f} MB, over --max-mb {args.max_mb}")
            report = check_speaks(staged)
            args.out.mkdir(parents=True, exist_ok=True)
            for name in FILES:  # the checked bytes, each file replaced atomically
                data = (staged / name).read_bytes()
                atomic_write_bytes(args.out / name, data)
                sha = hashlib.sha256(data).hexdigest()
                print(f"{name}: {len(data) / 1e6:.2f} MB sha256 {sha}")
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"total {total / 1e6:.2f} MB")
    print("\n".join(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
