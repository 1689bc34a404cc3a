"""What markup asks of a FastSpeech 2 sentence, worked out from its phonemes and the
durations the model chose: the prosody of each phoneme (``<prosody>``, ``<emphasis>``),
the loudness of each frame (``<prosody volume>``), where pauses are cut in, and when each
word and mark is heard. The engine runs the model; this module only does the arithmetic."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ttscli.engines.base import Word
from ttscli.fs2.model import SMOOTH_FRAMES, PhonemeProsody
from ttscli.text.frontend import Utterance


@dataclass
class StreamClock:
    """Where a stream is: seconds of audio so far, sentences spoken, the last one's end."""

    seconds: float = 0.0
    sentences: int = 0
    paragraph_ended: bool = False


@dataclass(frozen=True)
class Timing:
    words: tuple[Word, ...]
    marks: tuple[Word, ...]


@dataclass(frozen=True)
class EmphasisRule:
    """What ``<emphasis>`` does to a word. English marks a prominent word with a wider F0
    movement, a longer and louder stressed syllable (Fry, 1955 and 1958; Beckman, 1986),
    so the rule acts on those three, on the word's stressed vowel above all."""

    widen: float
    """Factor on the word's F0 excursion from the sentence's mean."""
    raise_semitones: float
    """F0 of the stressed vowel, raised (or, reduced, lowered)."""
    lengthen_stressed: float
    lengthen_word: float
    energy: float
    """Factor on the stressed vowel's energy."""


EMPHASIS = {
    "strong": EmphasisRule(1.6, 2.0, 1.35, 1.1, 1.5),
    "moderate": EmphasisRule(1.3, 1.0, 1.2, 1.05, 1.25),
    "reduced": EmphasisRule(0.7, -1.0, 0.9, 0.95, 0.8),
}
FADE_SECONDS = 0.005
"""A cut made for a pause is eased in and out over this long, so it does not click."""


def stressed_vowel(phonemes: Sequence[str], start: int, end: int) -> int | None:
    """The word's primary-stressed vowel, else its secondary, else its first vowel."""
    for digit in ("1", "2", "0"):
        for i in range(start, end):
            if phonemes[i].endswith(digit):
                return i
    return None


def phoneme_starts(durations: Sequence[int]) -> list[int]:
    """Each phoneme's first frame, and the total at the end."""
    starts = [0]
    for frames in durations:
        starts.append(starts[-1] + int(frames))
    return starts


def cut_at(spans: list[tuple[int, int]], at: Sequence[int]) -> list[tuple[int, int]]:
    """``spans`` also cut at the frames ``at``."""
    out = []
    for start, end in spans:
        for frame in at:
            if start < frame < end:
                out.append((start, frame))
                start = frame
        out.append((start, end))
    return out


def faded(audio: np.ndarray, rate: int, fade_in: bool, fade_out: bool) -> np.ndarray:
    if not (fade_in or fade_out) or not len(audio):
        return audio
    audio = audio.copy()
    n = min(len(audio), int(FADE_SECONDS * rate))
    ramp = np.linspace(0.0, 1.0, n, dtype=np.float32)
    if fade_in:
        audio[:n] *= ramp
    if fade_out:
        audio[-n:] *= ramp[::-1]
    return audio


def word_timing(
    utterance: Utterance,
    durations: Sequence[int],
    offset: float,
    frame_seconds: float,
    lead_frames: float = 0.0,
) -> Timing:
    """Word and mark times (seconds from the stream's start) from the phoneme durations
    the model chose, with the pauses cut in before them; ``lead_frames`` earlier where one
    word runs into the next (the voice's sound leads its durations there, see
    ``FS2Config.word_lead_frames``), never at the sentence's start or just after a pause."""
    starts = phoneme_starts(durations)
    lead = lead_frames * frame_seconds
    paused_at = {i for i, seconds in utterance.pauses if seconds > 0}

    def at(index: int, with_pause_there: bool) -> float:
        paused = sum(
            s for i, s in utterance.pauses if i < index or (with_pause_there and i == index)
        )
        time = offset + starts[min(index, len(durations))] * frame_seconds + paused
        if 0 < index < len(durations) and index not in paused_at:
            time = max(offset, time - lead)
        return time

    words = tuple(
        Word(w.text, round(at(w.start, True), 3), round(at(w.end, False), 3))
        for w in utterance.words
    )
    marks = tuple(
        Word(name, time, time) for i, name in utterance.marks for time in [round(at(i, False), 3)]
    )
    return Timing(words, marks)


def phoneme_prosody(
    utterance: Utterance,
    pitch: float,
    limits: tuple[float, float],
    follows_span_pitch: bool,
    device: torch.device,
) -> PhonemeProsody | None:
    """What the utterance's styles ask of each phoneme; None when it is plain. ``pitch`` is
    the run's own ``--pitch``; a span's pitch is kept within the voice's ``limits``."""
    if not utterance.styles:
        return None
    n = len(utterance.phonemes)
    duration = np.ones(n, np.float32)
    shift = np.zeros(n, np.float32)
    widen = np.ones(n, np.float32)
    energy = np.ones(n, np.float32)
    low, high = limits
    for i, style in enumerate(utterance.styles):
        duration[i] = 1.0 / style.rate
        shift[i] = math.log(min(max(pitch * style.pitch, low), high) / pitch)
    for word in utterance.words:
        level = utterance.styles[word.start].emphasis
        if level == "none":
            continue
        rule = EMPHASIS[level]
        stressed = stressed_vowel(utterance.phonemes, word.start, word.end)
        for i in range(word.start, word.end):
            widen[i] = rule.widen
            duration[i] *= rule.lengthen_stressed if i == stressed else rule.lengthen_word
        if stressed is not None:
            shift[stressed] += rule.raise_semitones * math.log(2) / 12
            energy[stressed] *= rule.energy
    if not follows_span_pitch:
        shift[:] = 0.0  # the voice moves pitch by resampling: the warning says so
    return PhonemeProsody(
        *(torch.tensor(a, device=device)[None] for a in (duration, shift, widen, energy))
    )


def frame_gain(utterance: Utterance, durations: Sequence[int], frames: int) -> np.ndarray | None:
    """Per-frame loudness from ``<prosody volume>``: an exact gain on the samples (the
    energy embedding alone moves loudness by about half the asked decibels and changes the
    voice's quality), eased over a few frames; None when the sentence asks for none."""
    if not utterance.styles or all(s.volume_db == 0 for s in utterance.styles):
        return None
    per_phoneme = np.array([10 ** (s.volume_db / 20) for s in utterance.styles], np.float32)
    per_frame = np.repeat(per_phoneme, np.asarray(durations, dtype=np.int64))[:frames]
    half = SMOOTH_FRAMES // 2
    padded = np.pad(per_frame, half, mode="edge")
    return np.convolve(padded, np.full(SMOOTH_FRAMES, 1 / SMOOTH_FRAMES), mode="valid")


def gained(audio: np.ndarray, gain: np.ndarray | None, start_frame: int, hop: int) -> np.ndarray:
    """``audio`` (frames from ``start_frame`` on) with the frames' gain applied."""
    if gain is None:
        return audio
    frames = gain[start_frame : start_frame + -(-len(audio) // hop)]
    per_sample = np.repeat(frames, hop)[: len(audio)]
    return (audio * per_sample).astype(np.float32)
