"""Our phonemes spoken by the teacher, with the exact frames each one was given.

Each symbol's IPA characters become the voice's ids; the voice reports how many whole
frames it held each id (VITS ``w_ceil``), and those are folded back onto the symbol the
id came from. The durations are therefore the ones the audio was generated with: no
forced aligner, no drift.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ttscli.lab.corpus.ipa import utterance_ipa
from ttscli.lab.corpus.sanity import check_utterance
from ttscli.lab.corpus.teacher import Scales, Teacher
from ttscli.lab.corpus.words import Item

NOISE_PER_ID = 192 * 16
"""The corpus's noise budget: 192 latent channels at 16 frames per id, several times what
an id lasts; changing it would change every stored utterance."""


@dataclass
class Synthesis:
    symbols: list[str]
    durations: list[int]
    audio: np.ndarray
    """int16, exactly ``sum(durations) * hop`` samples."""


def corpus_teacher(seed: int, scales: Scales) -> Teacher:
    return Teacher(seed, scales, NOISE_PER_ID, alignment=True)


def id_owners(
    teacher: Teacher, chars: Sequence[str], owners: Sequence[int], n_symbols: int
) -> list[int]:
    """For each id ``phonemes_to_ids(chars)`` makes, the symbol it belongs to: BOS and its
    PAD to the first symbol, each character's ids and the PAD after them to the character's
    symbol, EOS to the last."""
    from piper.const import BOS, EOS, PAD

    id_map = teacher.config.phoneme_id_map
    missing = sorted({char for char in chars if char not in id_map})
    if missing:  # phonemes_to_ids would silently drop them
        raise RuntimeError(f"characters missing from the voice's id map: {missing}")
    result = [0] * (len(id_map[BOS]) + len(id_map[PAD]))
    for char, owner in zip(chars, owners, strict=True):
        result += [owner] * (len(id_map[char]) + len(id_map[PAD]))
    return result + [n_symbols - 1] * len(id_map[EOS])


def synthesize(teacher: Teacher, line_number: int, items: Sequence[Item]) -> Synthesis:
    """The line's audio and per-symbol durations, checked for plausibility."""
    hop = teacher.hop
    symbols, chars, owners = utterance_ipa(items)
    ids = teacher.voice.phonemes_to_ids(chars)
    id_owner = id_owners(teacher, chars, owners, len(symbols))
    if len(id_owner) != len(ids):
        raise RuntimeError(f"{len(ids)} ids but {len(id_owner)} owners")
    output = teacher.run(line_number, ids)
    if output.frames_per_id is None or len(output.frames_per_id) != len(ids):
        raise RuntimeError("the voice returned no per-id alignment")
    id_samples = (output.frames_per_id * hop).astype(np.int64)
    if np.any(id_samples % hop) or np.any(id_samples < 0):
        raise RuntimeError("per-id sample counts are not whole hops")
    frames = np.bincount(id_owner, weights=id_samples // hop, minlength=len(symbols))
    durations = [int(f) for f in frames]
    n_samples = sum(durations) * hop
    audio = output.audio
    if abs(len(audio) - n_samples) > hop:  # VITS makes exactly n_samples; a gap = bad ids
        raise RuntimeError(f"{len(audio)} samples of audio for {n_samples} aligned")
    audio = np.pad(audio[:n_samples], (0, max(0, n_samples - len(audio))))
    check_utterance(symbols, durations, audio)
    pcm = np.round(np.clip(audio, -1.0, 1.0) * 32767.0).astype(np.int16)
    return Synthesis(symbols, durations, pcm)
