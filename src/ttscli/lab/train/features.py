"""Turn an LJSpeech-style corpus with alignments into FastSpeech 2 training features.

Input: ``CORPUS/wavs/*.wav``, ``CORPUS/metadata.csv`` and ``CORPUS/alignments.jsonl``
(per-phoneme frame durations, written by ``build-corpus`` or ``align-mas``; the format
is ``ttscli.lab.corpus.folder``'s).
Output: ``FEATURES/<id>.npz`` with phoneme ids, durations, log-mel, continuous log-F0,
a voiced mask and frame energy, plus ``FEATURES/stats.json`` (ProsodyStats).

Pitch: Praat's autocorrelation tracker, in two passes over the speaker's own range (see
``ttscli.audio.f0.voice_range_f0``), at exactly one value per mel frame; unvoiced frames
are linearly interpolated in log-F0 so the predictor learns a continuous contour (needed by
the CWT mode too). Energy: L2 norm of each STFT frame, as in the paper.

Resumable: utterances whose .npz exists are skipped; files are written atomically.

    python -m ttscli.lab preprocess --corpus data/joe --out data/joe-features --workers 2
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from ttscli.audio.dsp import frame_energy, log_mel
from ttscli.audio.f0 import continuous_log_f0, voice_range_f0
from ttscli.fs2.config import AudioConfig, ProsodyStats
from ttscli.lab.corpus.folder import Alignment, read_alignments, require_corpus, wav_path
from ttscli.text.symbols import SYMBOLS
from ttscli.util.atomic import atomic_write, atomic_write_bytes
from ttscli.util.errors import script_exit_code

AUDIO = AudioConfig()
SYMBOL_IDS = {s: i for i, s in enumerate(SYMBOLS)}


def log_f0(wave: np.ndarray, n_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Continuous log-F0 and voiced mask, one value per mel frame, by Praat's tracker in
    the speaker's own range (``ttscli.audio.f0``: WORLD DIO, used before, read this voice an
    octave high)."""
    track = voice_range_f0(wave, AUDIO.sample_rate, AUDIO.hop_length, frames=n_frames)
    return continuous_log_f0(track)


def process(args: tuple[Alignment, Path, Path]) -> str:
    item, corpus, out_dir = args
    target = out_dir / f"{item.id}.npz"
    if target.exists():
        return "skipped"
    wave, rate = sf.read(str(wav_path(corpus, item.id)), dtype="float32")
    if rate != AUDIO.sample_rate:
        return f"bad rate {rate}"
    durations = np.asarray(item.durations, dtype=np.int64)
    n_frames = int(durations.sum())
    wave = np.pad(wave, (0, max(0, n_frames * AUDIO.hop_length - len(wave))))
    wave = wave[: n_frames * AUDIO.hop_length]
    tensor = torch.from_numpy(wave)[None]
    mel = log_mel(tensor, AUDIO)[0].T.numpy()  # (frames, n_mels)
    energy = frame_energy(tensor, AUDIO)[0].numpy()
    if len(mel) != n_frames:
        return f"frame mismatch {len(mel)} != {n_frames}"
    pitch, voiced = log_f0(wave, n_frames)
    ids = np.asarray([SYMBOL_IDS[p] for p in item.phonemes], dtype=np.int64)

    def write(tmp: str) -> None:
        with open(tmp, "wb") as handle:
            np.savez(
                handle,
                phonemes=ids,
                durations=durations,
                mel=mel.astype(np.float16),
                log_f0=pitch,
                voiced=voiced,
                energy=energy.astype(np.float32),
                pitch_shift=np.float32(item.pitch_shift or 1.0),
            )

    atomic_write(target, write)
    return "done"


def compute_stats(out_dir: Path) -> ProsodyStats:
    """Corpus statistics over voiced frames (pitch) and all frames (energy).

    The pitch mean and spread are the voice's own (utterances as spoken); the range that the
    pitch bins span also covers the pitch-shifted copies (``scripts/shift_corpus.py``), so
    that a raised or lowered contour still lands in bins the decoder was trained on.
    """
    natural, every, energies = [], [], []
    for path in sorted(out_dir.glob("*.npz")):
        with np.load(path) as data:
            voiced = data["log_f0"][data["voiced"]]
            every.append(voiced)
            shift = float(data["pitch_shift"]) if "pitch_shift" in data else 1.0
            if shift == 1.0:
                natural.append(voiced)
                energies.append(data["energy"])
    pitch = np.concatenate(natural)
    pitch_range = np.concatenate(every)
    energy = np.concatenate(energies)
    return ProsodyStats(
        log_f0_mean=float(pitch.mean()),
        log_f0_std=float(pitch.std()),
        log_f0_min=float(np.percentile(pitch_range, 0.5)),
        log_f0_max=float(np.percentile(pitch_range, 99.5)),
        energy_mean=float(energy.mean()),
        energy_std=float(energy.std()),
        energy_min=float(energy.min()),
        energy_max=float(np.percentile(energy, 99.9)),
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ttscli.lab preprocess", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--workers", type=int, default=max(1, mp.cpu_count()))
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args(argv)
    return script_exit_code(lambda: preprocess(args))


def preprocess(args: argparse.Namespace) -> int:
    require_corpus(args.corpus)
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    items = read_alignments(args.corpus)[: args.limit]
    started = time.time()
    counts: dict[str, int] = {}
    jobs = [(item, args.corpus, args.out) for item in items]
    with mp.Pool(args.workers) as pool:
        for n, status in enumerate(pool.imap_unordered(process, jobs, chunksize=8), 1):
            key = status if status in ("done", "skipped") else "failed"
            counts[key] = counts.get(key, 0) + 1
            if key == "failed":
                print(f"failed: {status}", flush=True)
            if n % 200 == 0:
                print(f"{n}/{len(jobs)} {counts} {time.time() - started:.0f} s", flush=True)
    stats = compute_stats(args.out)
    text = json.dumps(stats.__dict__, indent=2) + "\n"
    atomic_write_bytes(args.out / "stats.json", text.encode())
    print(f"{counts}; stats: {stats}; {time.time() - started:.0f} s")
    return 0
