"""Learn per-phoneme durations for a corpus without a teacher: a small aligner trained with
the forward-sum loss, hard durations by monotonic alignment search (MAS).

FastSpeech 2 needs every phoneme's length in mel frames. Our distilled corpus gets exact
ones from the teacher (``scripts/build_corpus.py``); a corpus without a teacher (the real
LJSpeech) would otherwise need the Montreal Forced Aligner, a separate install with its own
phone set. This script follows "One TTS Alignment To Rule Them All" (Badlani et al., 2021)
and Glow-TTS instead:

* a text encoder (phoneme embedding + 1-D convs) and a mel encoder (1-D convs) map both
  sequences into one space; the soft alignment of a frame is the softmax over text positions
  of the negative squared L2 distance between its encoding and each phoneme's;
* a beta-binomial log-prior is added to the scores before that softmax, so before the
  encoders know anything the attention already sits near the diagonal, which is what lets
  the loss find the right basin. (The paper's code adds it after the softmax, leaving each
  frame's token probabilities summing to less than 1; against the constant-score blank
  that lets the loss be lowered by putting attention where the prior is small and calling
  the frame blank. On 300 teacher-aligned sentences that version was 4.6 frames off the
  teacher after 200 steps, this one 2.8);
* the forward-sum loss (CTC over the soft alignment, one blank class, the phonemes as the
  target in order) sums over all monotonic paths, so no duration labels are needed;
* hard durations are the Viterbi path over monotonic alignments in which every phoneme gets
  at least one frame (MAS), on the soft log-alignment including the prior.

Frames are ttscli's (``ttscli.audio.dsp.MelSpec`` and ``log_mel``); each wav is cut to a
whole number of hops (less than one hop dropped from its end), which is the ``samples``
written and the length ``scripts/preprocess_fs2.py`` will use.

Files:
    RUN/config.json               model and training settings (fixed at the first run)
    RUN/train_state.safetensors   weights, mel statistics, Adam moments (one file, written
                                  atomically, so weights and moments are from one step)
    RUN/train_state.json          the step and the optimiser's settings (nothing is pickled;
                                  the run-state format of every ttscli training loop)
    RUN/log.jsonl                 {"step", "loss", "grad_norm", "seconds"} lines
    CORPUS/alignments.jsonl       {"id", "phonemes", "durations", "samples"} per utterance,
                                  sorted by id, the format build_corpus.py writes

Examples:
    python -m ttscli.lab align-mas --corpus LJSpeech-1.1 --run runs/align \
        --steps 4000 --batch-size 16 --write
    python -m ttscli.lab align-mas --corpus c --run runs/align --steps 0 --write --force
    python -m ttscli.lab align-mas --corpus c --run runs/align --compare teacher.jsonl
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ttscli.audio.dsp import MelSpec, log_mel
from ttscli.lab.corpus.folder import (
    Alignment,
    read_alignment_file,
    read_metadata,
    wav_path,
    write_alignments,
)
from ttscli.lab.train.loop import LoopSettings, Trainee, TrainingLoop, restore
from ttscli.text.frontend import text_to_phonemes
from ttscli.text.symbols import SYMBOLS
from ttscli.util.atomic import atomic_write_bytes
from ttscli.util.dataclass_json import from_dict, to_dict
from ttscli.util.errors import UserError
from ttscli.util.torch_device import resolve_device

CHECKPOINT_FORMAT = "ttscli-align-mas/1"
MASKED = -1e4
"""Score of a padded token: finite, because CTC's backward turns -inf into NaN gradients,
and low enough that its probability is exactly 0 in float32."""


class AlignError(RuntimeError):
    """A problem the user must fix (bad folder, refused overwrite); printed without a trace."""


# --- monotonic alignment search --------------------------------------------------------------


def mas(log_probs: np.ndarray) -> np.ndarray:
    """Durations (frames per token) of the best monotonic alignment of ``log_probs``.

    ``log_probs`` is ``(n_frames, n_tokens)``: the score of giving each frame to each token.
    The path starts at token 0 on frame 0, ends at the last token on the last frame, and at
    each frame either stays on its token or moves to the next, so every token gets at least
    one frame and the durations sum to ``n_frames``. The dynamic programme runs one
    vectorised step per frame (a Python loop over frames, numpy over tokens): about a
    millisecond per hundred frames, negligible beside the aligner itself.
    """
    scores = np.asarray(log_probs, dtype=np.float64)
    if scores.ndim != 2:
        raise ValueError(f"log_probs must be (n_frames, n_tokens), got shape {scores.shape}")
    n_frames, n_tokens = scores.shape
    if n_tokens == 0 or n_frames < n_tokens:
        raise ValueError(f"cannot give {n_tokens} tokens at least one of {n_frames} frames each")
    if not np.all(np.isfinite(scores)):
        raise ValueError("log_probs must be finite (clamp masked scores instead of -inf)")
    best = np.full(n_tokens, -np.inf)
    best[0] = scores[0, 0]
    advanced = np.zeros((n_frames, n_tokens), dtype=bool)
    shifted = np.empty(n_tokens)
    for frame in range(1, n_frames):
        shifted[0] = -np.inf
        shifted[1:] = best[:-1]
        # Ties stay on the token: deterministic (all-equal scores give the spare frames to
        # the last token).
        move = shifted > best
        advanced[frame] = move
        best = np.where(move, shifted, best) + scores[frame]
    durations = np.zeros(n_tokens, dtype=np.int64)
    token = n_tokens - 1
    for frame in range(n_frames - 1, -1, -1):
        durations[token] += 1
        if advanced[frame, token]:
            token -= 1
    if token != 0:  # unreachable for finite scores; kept so a bug cannot write bad labels
        raise AssertionError("MAS backtrack did not end on the first token")
    return durations


# --- the beta-binomial prior -----------------------------------------------------------------


@lru_cache(maxsize=128)  # a long sentence's prior is ~0.3 MB
def _log_prior_cached(n_tokens: int, n_frames: int, scaling: float) -> np.ndarray:
    n = n_tokens - 1
    k = torch.arange(n_tokens, dtype=torch.float64)[None, :]
    frame = torch.arange(1, n_frames + 1, dtype=torch.float64)[:, None]
    a = scaling * frame
    b = scaling * (n_frames + 1 - frame)

    def log_beta(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.lgamma(x) + torch.lgamma(y) - torch.lgamma(x + y)

    log_choose = math.lgamma(n + 1) - torch.lgamma(k + 1) - torch.lgamma(n - k + 1)
    log_pmf = log_choose + log_beta(k + a, n - k + b) - log_beta(a, b)
    # Renormalise in the log domain: exact in theory, this only removes rounding.
    log_pmf = log_pmf - torch.logsumexp(log_pmf, dim=1, keepdim=True)
    out = log_pmf.float().numpy()
    out.setflags(write=False)
    return out


def beta_binomial_log_prior(n_tokens: int, n_frames: int, scaling: float = 1.0) -> np.ndarray:
    """Log-prior ``(n_frames, n_tokens)`` that frame ``j`` belongs to token ``i``.

    Row ``j`` (1-based) is the beta-binomial pmf over ``0 .. n_tokens - 1`` with
    ``alpha = scaling * j`` and ``beta = scaling * (n_frames + 1 - j)``: its mean moves
    linearly from the first token to the last, and it narrows as utterances get longer, so
    early in training the attention is pulled towards the diagonal without a hard band
    (Badlani et al., 2021, section 3.3). ``scaling`` below 1 widens it. Computed in the log
    domain so far-off-diagonal cells stay finite (MAS needs finite scores); rows sum to 1.
    """
    if n_tokens < 1 or n_frames < 1:
        raise ValueError("the prior needs at least one token and one frame")
    return _log_prior_cached(int(n_tokens), int(n_frames), float(scaling))


# --- the aligner -----------------------------------------------------------------------------


@dataclass(frozen=True)
class AlignerConfig:
    """The aligner's shape; stored in ``RUN/config.json`` so a checkpoint always loads."""

    symbols: tuple[str, ...] = SYMBOLS
    embed_dim: int = 128
    hidden: int = 256
    att_dim: int = 80
    n_mels: int = 80
    text_layers: int = 2
    mel_layers: int = 2
    """Hidden layers of each encoder (0: a linear projection). Kernels apply to the hidden
    layers; the output layer is always 1x1."""
    text_kernel: int = 3
    """Phoneme context, so repeats of a symbol in one sentence get different keys."""
    mel_kernel: int = 3
    """Frame context. On 300 teacher-aligned sentences, 3 beat 1 (per-frame) and a linear
    mel encoder failed outright. Context on either side also lets the encoders shift what
    they see (by frames or by tokens), which only the utterance ends pin down: harmless with
    real data, but on a handful of synthetic utterances it is why tests use kernels of 1."""
    temperature: float = 0.0005
    """Multiplies the squared distance. Small, so that at initialisation the attention is
    almost flat and the prior decides; the encoders then learn to scale their outputs up."""
    prior_scaling: float = 1.0
    blank_logprob: float = -1.0
    """Constant score of the CTC blank before the softmax (as in the paper's code)."""


class MaskedConvStack(nn.Module):
    """Conv1d layers with ReLU between, zeroing padded positions after every layer.

    Zeroing keeps a padded batch identical to running each utterance alone (where the
    convolution pads with zeros), so durations do not depend on what shared the batch.
    """

    def __init__(self, channels: Sequence[int], kernel_size: int) -> None:
        super().__init__()
        layers = []
        for i, (c_in, c_out) in enumerate(itertools.pairwise(channels)):
            k = kernel_size if i < len(channels) - 2 else 1
            layers.append(nn.Conv1d(c_in, c_out, k, padding=k // 2))
        self.layers = nn.ModuleList(layers)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        keep = mask[:, None, :].to(x.dtype)
        x = x * keep
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = F.relu(x)
            x = x * keep
        return x


class Aligner(nn.Module):
    """Text and mel encoders whose distances give the soft alignment."""

    def __init__(self, config: AlignerConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        self.embedding = nn.Embedding(len(c.symbols), c.embed_dim)
        text_channels = (c.embed_dim, *[c.hidden] * c.text_layers, c.att_dim)
        mel_channels = (c.n_mels, *[c.hidden] * c.mel_layers, c.att_dim)
        self.text_encoder = MaskedConvStack(text_channels, c.text_kernel)
        self.mel_encoder = MaskedConvStack(mel_channels, c.mel_kernel)
        self.register_buffer("mel_mean", torch.zeros(c.n_mels))
        self.register_buffer("mel_std", torch.ones(c.n_mels))

    def log_alignment(
        self,
        tokens: torch.Tensor,
        text_mask: torch.Tensor,
        mels: torch.Tensor,
        mel_mask: torch.Tensor,
        log_prior: torch.Tensor | None,
    ) -> torch.Tensor:
        """Soft log-alignment ``(batch, frames, tokens)``: log-softmax over the text of the
        negative scaled squared distances plus the log-prior; padded tokens get ``MASKED``.

        The squared distance is expanded as |q|^2 - 2 q.k + |k|^2 so it is one batched
        matrix product, not a (frames x tokens x channels) tensor.
        """
        keys = self.text_encoder(self.embedding(tokens).transpose(1, 2), text_mask)
        normed = (mels - self.mel_mean[None, :, None]) / self.mel_std[None, :, None]
        queries = self.mel_encoder(normed, mel_mask)
        dot = torch.bmm(queries.transpose(1, 2), keys)
        distance = queries.pow(2).sum(1)[:, :, None] - 2 * dot + keys.pow(2).sum(1)[:, None, :]
        logits = -self.config.temperature * distance
        if log_prior is not None:
            logits = logits + log_prior
        return F.log_softmax(logits.masked_fill(~text_mask[:, None, :], MASKED), dim=2)


def forward_sum_loss(
    log_attention: torch.Tensor,
    text_lengths: torch.Tensor,
    mel_lengths: torch.Tensor,
    blank_logprob: float,
) -> torch.Tensor:
    """CTC loss of the token sequence 1..N under the soft alignment plus a blank class.

    CTC sums the probability of every monotonic path that visits each token in order, which
    is exactly "the likelihood of the text given the mel" that the forward-sum objective
    maximises. The blank (class 0, a constant score) lets a frame belong to no token, as in
    the paper's implementation. Mean over the batch of the per-token loss.
    """
    batch, _, n_tokens = log_attention.shape
    padded = F.pad(log_attention, (1, 0), value=blank_logprob)
    token_ok = torch.arange(n_tokens, device=padded.device)[None, :] < text_lengths[:, None]
    class_ok = F.pad(token_ok, (1, 0), value=True)
    padded = padded.masked_fill(~class_ok[:, None, :], MASKED)
    log_probs = F.log_softmax(padded, dim=2).transpose(0, 1)  # (frames, batch, classes)
    targets = torch.arange(1, n_tokens + 1, device=padded.device).expand(batch, n_tokens)
    return F.ctc_loss(
        log_probs,
        targets,
        mel_lengths,
        text_lengths,
        blank=0,
        reduction="mean",
        zero_infinity=True,
    )


# --- data ------------------------------------------------------------------------------------


@dataclass
class Utterance:
    """One corpus line, ready for the aligner."""

    id: str
    phonemes: tuple[str, ...]
    tokens: np.ndarray
    mel: np.ndarray
    """float16 log-mel ``(n_mels, frames)``: half the memory, ample for alignment."""

    @property
    def n_frames(self) -> int:
        return int(self.mel.shape[1])

    @property
    def samples(self) -> int:
        return self.n_frames * MelSpec().hop_length

    def alignment(self, durations: np.ndarray) -> Alignment:
        return Alignment(self.id, self.phonemes, tuple(int(d) for d in durations), self.samples)


def wav_mel(path: Path) -> np.ndarray:
    """Log-mel ``(n_mels, frames)`` of a wav cut to whole hops: ``frames * hop`` samples."""
    import soundfile as sf

    spec = MelSpec()
    wave, rate = sf.read(str(path), dtype="float32", always_2d=True)
    if rate != spec.sample_rate:
        raise ValueError(f"{rate} Hz, not {spec.sample_rate}")
    mono = wave.mean(axis=1)
    n_frames = len(mono) // spec.hop_length
    if n_frames == 0:
        raise ValueError("shorter than one frame")
    with torch.no_grad():
        cut = mono[: n_frames * spec.hop_length].copy()
        mel = log_mel(torch.from_numpy(cut)[None], spec)[0]
    if mel.shape[1] != n_frames:  # the mel definition changed: refuse rather than misalign
        raise AssertionError(f"{mel.shape[1]} mel frames for {n_frames} hops")
    return mel.numpy()


def load_corpus(
    corpus: Path, symbols: Sequence[str], limit: int | None = None, quiet: bool = False
) -> list[Utterance]:
    """Phonemes and mels of every usable metadata line; the rest are reported and skipped."""

    ids = {s: i for i, s in enumerate(symbols)}
    rows = read_metadata(corpus)[:limit]
    utterances: list[Utterance] = []
    skipped = 0
    started = time.time()
    for n, row in enumerate(rows, 1):
        utt_id, text = row.id, row.spoken
        wav = wav_path(corpus, utt_id)
        try:
            phonemes = text_to_phonemes(text)
            unknown = [p for p in phonemes if p not in ids]
            if unknown:
                raise ValueError(f"symbols not in the aligner's inventory: {unknown[:3]}")
            if not wav.is_file():
                raise ValueError(f"{wav} missing")
            mel = wav_mel(wav)
            if mel.shape[1] < len(phonemes):
                raise ValueError(f"{mel.shape[1]} frames for {len(phonemes)} phonemes")
        except (UserError, ValueError, RuntimeError) as error:
            skipped += 1
            if not quiet:
                print(f"skipped {utt_id}: {error}", flush=True)
            continue
        tokens = np.asarray([ids[p] for p in phonemes], dtype=np.int64)
        utterances.append(Utterance(utt_id, phonemes, tokens, mel.astype(np.float16)))
        if not quiet and n % 500 == 0:
            print(f"loaded {n}/{len(rows)} ({time.time() - started:.0f} s)", flush=True)
    if not quiet:
        print(f"{len(utterances)} utterances loaded, {skipped} skipped", flush=True)
    return utterances


@dataclass
class Batch:
    tokens: torch.Tensor
    text_mask: torch.Tensor
    text_lengths: torch.Tensor
    mels: torch.Tensor
    mel_mask: torch.Tensor
    mel_lengths: torch.Tensor
    log_prior: torch.Tensor


def collate(group: Sequence[Utterance], prior_scaling: float, device: torch.device) -> Batch:
    """Pad a group of utterances; the log-prior is 0 in padding (masked there anyway)."""
    n_tokens = max(len(u.tokens) for u in group)
    n_frames = max(u.n_frames for u in group)
    tokens = np.zeros((len(group), n_tokens), dtype=np.int64)
    mels = np.zeros((len(group), group[0].mel.shape[0], n_frames), dtype=np.float32)
    prior = np.zeros((len(group), n_frames, n_tokens), dtype=np.float32)
    for b, u in enumerate(group):
        tokens[b, : len(u.tokens)] = u.tokens
        mels[b, :, : u.n_frames] = u.mel
        prior[b, : u.n_frames, : len(u.tokens)] = beta_binomial_log_prior(
            len(u.tokens), u.n_frames, prior_scaling
        )
    text_lengths = torch.tensor([len(u.tokens) for u in group])
    mel_lengths = torch.tensor([u.n_frames for u in group])
    return Batch(
        tokens=torch.from_numpy(tokens).to(device),
        text_mask=(torch.arange(n_tokens)[None] < text_lengths[:, None]).to(device),
        text_lengths=text_lengths.to(device),
        mels=torch.from_numpy(mels).to(device),
        mel_mask=(torch.arange(n_frames)[None] < mel_lengths[:, None]).to(device),
        mel_lengths=mel_lengths.to(device),
        log_prior=torch.from_numpy(prior).to(device),
    )


def batch_for_step(
    utterances: Sequence[Utterance], batch_size: int, step: int, seed: int
) -> list[Utterance]:
    """The batch of training step ``step`` (1-based), a pure function of its arguments.

    Each epoch is a seeded shuffle, cut into pools of 32 batches that are sorted by length
    (so a batch pads little) and then shuffled as batches. Being a function of the step,
    a resumed run sees exactly the batches an uninterrupted one would have.
    """
    batch_size = min(batch_size, len(utterances))
    per_epoch = len(utterances) // batch_size
    epoch, index = divmod(step - 1, per_epoch)
    rng = np.random.default_rng((seed, epoch))
    order = rng.permutation(len(utterances))[: per_epoch * batch_size]
    pool = batch_size * 32
    batches: list[np.ndarray] = []
    for start in range(0, len(order), pool):
        chunk = sorted(order[start : start + pool], key=lambda i: utterances[i].n_frames)
        batches.extend(np.array_split(np.asarray(chunk), len(chunk) // batch_size))
    picked = batches[rng.permutation(len(batches))[index]]
    return [utterances[i] for i in picked]


# --- checkpoints -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainConfig:
    """Training settings fixed at a run's start (a resumed run keeps them)."""

    aligner: AlignerConfig = AlignerConfig()
    learning_rate: float = 3e-3
    batch_size: int = 16
    seed: int = 1234
    grad_clip: float = 1.0


def load_run(run: Path, model: Aligner, optimizer: torch.optim.Optimizer | None) -> int:
    """Restore a run's weights, mel statistics and Adam moments; returns the step (0 when
    there is no checkpoint)."""
    meta = restore(run, optimizer, model, check_format)
    return 0 if meta is None else int(meta["step"])


def check_format(meta: dict[str, Any]) -> None:
    if meta.get("format") != CHECKPOINT_FORMAT:
        raise AlignError("the run folder is not an align-mas run")


def open_run(
    run: Path | None, requested: TrainConfig, device: torch.device
) -> tuple[TrainConfig, Aligner, torch.optim.Optimizer, int]:
    """Start a run or resume one: an existing ``config.json`` wins over the command line, so
    a resumed run cannot silently change shape."""
    config = requested
    if run is not None:
        config_path = run / "config.json"
        if config_path.is_file():
            config = from_dict(TrainConfig, json.loads(config_path.read_text(encoding="utf-8")))
            if config != requested:
                print(f"resuming with the settings in {config_path}", flush=True)
        else:
            run.mkdir(parents=True, exist_ok=True)
            text = json.dumps(to_dict(config), indent=2) + "\n"
            atomic_write_bytes(config_path, text.encode())
    torch.manual_seed(config.seed)
    model = Aligner(config.aligner).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    step = load_run(run, model, optimizer) if run is not None else 0
    return config, model, optimizer, step


# --- training --------------------------------------------------------------------------------


def set_mel_stats(model: Aligner, utterances: Sequence[Utterance]) -> None:
    """Per-channel mean and a global std over the corpus: normalised inputs train faster,
    and being buffers they are saved with the weights and reused when writing durations."""
    total = np.zeros(model.config.n_mels)
    squares = np.zeros(model.config.n_mels)
    count = 0
    for u in utterances:
        mel = u.mel.astype(np.float64)
        total += mel.sum(1)
        squares += (mel**2).sum(1)
        count += mel.shape[1]
    mean = total / count
    # One std for all channels: a per-channel one would blow up channels that barely move
    # (the log floor of silent bands), turning their rounding noise into the loudest input.
    std = np.full_like(mean, math.sqrt(max(float(np.mean(squares / count - mean**2)), 1e-6)))
    model.mel_mean.copy_(torch.from_numpy(mean).float())
    model.mel_std.copy_(torch.from_numpy(std).float())


class AlignerTrainee(Trainee):
    """The aligner in the lab's training loop: its weights live in the run state."""

    def __init__(
        self,
        model: Aligner,
        optimizer: torch.optim.Optimizer,
        config: TrainConfig,
        utterances: Sequence[Utterance],
    ) -> None:
        super().__init__(optimizer)
        self.model, self.config, self.utterances = model, config, utterances
        self.state_model = model
        self.device = next(model.parameters()).device

    def loss(self, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        group = batch_for_step(self.utterances, self.config.batch_size, step + 1, self.config.seed)
        batch = collate(group, self.config.aligner.prior_scaling, self.device)
        log_attention = self.model.log_alignment(
            batch.tokens, batch.text_mask, batch.mels, batch.mel_mask, batch.log_prior
        )
        loss = forward_sum_loss(
            log_attention, batch.text_lengths, batch.mel_lengths, self.config.aligner.blank_logprob
        )
        return loss, {}

    def meta(self) -> dict[str, Any]:
        return {"format": CHECKPOINT_FORMAT}


def train(
    model: Aligner,
    optimizer: torch.optim.Optimizer,
    config: TrainConfig,
    utterances: Sequence[Utterance],
    start_step: int,
    steps: int,
    run: Path | None = None,
    save_every: int = 200,
    log_every: int = 10,
    max_seconds: float | None = None,
    quiet: bool = False,
) -> Iterator[tuple[int, float]]:
    """Train from ``start_step`` to ``steps``, yielding ``(step, loss)`` after each step;
    saved every ``save_every`` steps, at the end, on the time limit and on Ctrl-C."""
    if start_step == 0:
        set_mel_stats(model, utterances)
    model.train()
    settings = LoopSettings(
        steps, (max_seconds or 0) / 60, log_every, save_every, config.grad_clip, quiet
    )
    loop = TrainingLoop(AlignerTrainee(model, optimizer, config, utterances), settings, run)
    loop.step = start_step
    yield from loop.steps()


# --- durations -------------------------------------------------------------------------------


@torch.no_grad()
def durations_of(model: Aligner, utterance: Utterance, use_prior: bool = True) -> np.ndarray:
    """MAS durations of one utterance under the trained aligner (and by default the prior,
    which the aligner was trained alongside, so its scores assume it)."""
    model.eval()
    device = next(model.parameters()).device
    batch = collate([utterance], model.config.prior_scaling, device)
    log_attention = model.log_alignment(
        batch.tokens,
        batch.text_mask,
        batch.mels,
        batch.mel_mask,
        batch.log_prior if use_prior else None,
    )
    return mas(log_attention[0].double().cpu().numpy())


def check_writable(corpus: Path, force: bool) -> Path:
    """Where the alignments go; refuses an existing file without ``force`` (called before
    training, so a refusal costs nothing). A teacher's exact durations are worth more than
    learned ones, and a typo in ``--corpus`` must not destroy them."""
    target = corpus / "alignments.jsonl"
    if target.exists() and not force:
        raise AlignError(f"{target} exists; pass --force to replace it")
    return target


def write_durations(corpus: Path, alignments: dict[str, Alignment], force: bool) -> Path:
    """All utterances sorted by id in one atomic write (re-checking the refusal: the file
    may have appeared while the aligner trained)."""
    target = check_writable(corpus, force)
    write_alignments(corpus, (alignments[k] for k in sorted(alignments)))
    return target


def compare(reference: Path, ours: dict[str, np.ndarray], phonemes: dict[str, tuple]) -> dict:
    """Duration errors against another alignments.jsonl (a teacher's) for the ids both have
    with the same phonemes: mean absolute error in frames, the share within 1 and 2, and the
    median boundary offset."""
    errors: list[np.ndarray] = []
    offsets: list[np.ndarray] = []
    mismatched = 0
    for item in read_alignment_file(reference, strict=False):
        utt_id = item.id
        if utt_id not in ours:
            continue
        if item.phonemes != tuple(phonemes[utt_id]):
            mismatched += 1
            continue
        theirs = np.asarray(item.durations)
        mine = ours[utt_id]
        errors.append(np.abs(mine - theirs))
        offsets.append(np.cumsum(mine)[:-1] - np.cumsum(theirs)[:-1])
    if not errors:
        return {"utterances": 0, "phoneme_mismatch": mismatched}
    every = np.concatenate(errors)
    return {
        "utterances": len(errors),
        "phonemes": int(every.size),
        "phoneme_mismatch": mismatched,
        "mean_abs_error_frames": round(float(every.mean()), 3),
        "median_abs_error_frames": float(np.median(every)),
        "within_1_frame": round(float((every <= 1).mean()), 4),
        "within_2_frames": round(float((every <= 2).mean()), 4),
        # A steady offset of the phoneme boundaries (ours minus theirs) shows a convention
        # difference, not noise: each shifted boundary costs two durations an error.
        "boundary_median_offset_frames": float(np.median(np.concatenate(offsets))),
    }


# --- command line ----------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m ttscli.lab align-mas",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--corpus", type=Path, required=True, help="LJSpeech-style folder")
    parser.add_argument("--run", type=Path, help="checkpoint folder (resumed when present)")
    parser.add_argument("--steps", type=int, default=3000, help="train until this step")
    parser.add_argument("--batch-size", type=int, default=TrainConfig.batch_size)
    parser.add_argument("--lr", type=float, default=TrainConfig.learning_rate)
    parser.add_argument("--seed", type=int, default=TrainConfig.seed)
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, mps ...")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    parser.add_argument("--limit", type=int, help="use only the first N metadata lines")
    parser.add_argument("--max-minutes", type=float, help="stop training after this long")
    parser.add_argument("--save-every", type=int, default=200)
    parser.add_argument("--log-every", type=int, default=10)
    parser.add_argument("--write", action="store_true", help="write CORPUS/alignments.jsonl")
    parser.add_argument("--force", action="store_true", help="replace an existing one")
    parser.add_argument(
        "--compare", type=Path, help="report errors against this alignments.jsonl (a teacher's)"
    )
    parser.add_argument(
        "--no-prior-at-write", action="store_true", help="MAS on the aligner's scores alone"
    )
    parser.add_argument("--quiet", action="store_true")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return _main(args)
    except (AlignError, UserError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # training saved its checkpoint on the way out
        print("interrupted", file=sys.stderr)
        return 130


def _main(args: argparse.Namespace) -> int:
    if args.write:
        check_writable(args.corpus, args.force)
    if args.run is None and args.steps > 0:
        print("note: no --run, so this training is not saved", file=sys.stderr)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(resolve_device(args.device))
    requested = TrainConfig(learning_rate=args.lr, batch_size=args.batch_size, seed=args.seed)
    config, model, optimizer, step = open_run(args.run, requested, device)
    utterances = load_corpus(args.corpus, config.aligner.symbols, args.limit, args.quiet)
    if not utterances:
        raise AlignError(f"no usable utterances in {args.corpus}")
    if step < args.steps:
        if not args.quiet:
            print(f"training from step {step} to {args.steps}", flush=True)
        max_seconds = args.max_minutes * 60 if args.max_minutes else None
        for done, _ in train(
            model,
            optimizer,
            config,
            utterances,
            step,
            args.steps,
            args.run,
            args.save_every,
            args.log_every,
            max_seconds,
            args.quiet,
        ):
            step = done
    elif step == 0:
        raise AlignError("the aligner is untrained: give --steps and --run")
    if not (args.write or args.compare):
        return 0
    started = time.time()
    alignments: dict[str, Alignment] = {}
    ours: dict[str, np.ndarray] = {}
    for u in utterances:
        ours[u.id] = durations_of(model, u, use_prior=not args.no_prior_at_write)
        alignments[u.id] = u.alignment(ours[u.id])
    if not args.quiet:
        print(f"durations of {len(ours)} utterances in {time.time() - started:.0f} s", flush=True)
    if args.write:
        target = write_durations(args.corpus, alignments, args.force)
        print(f"wrote {target} ({len(alignments)} utterances, aligner step {step})", flush=True)
    if args.compare:
        report = compare(args.compare, ours, {u.id: u.phonemes for u in utterances})
        print(json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
