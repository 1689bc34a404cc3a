"""What SSML does to the bundled voice, measured: one table of the markup issue's targets.

On held-out ``lj_val`` sentences (plain words, no digits, eight words or more), each run
with a three-word phrase a third of the way in marked up, and once plain: F0 by Praat (the
``--pitch`` judge), durations and word times from the engine, loudness as RMS. The break
row compares lengths; the emphasis rows mark one word and add WER (pocketsphinx) and DNSMOS
OVRL over all sentences; the timing rows compare the engine's word starts with a forced
alignment of the same audio by pocketsphinx.

    python -m ttscli.lab check-ssml --count 20
"""

from __future__ import annotations

import argparse
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ttscli.audio.f0 import speech_f0
from ttscli.audio.resample import resample
from ttscli.engines.base import Chunk
from ttscli.fs2.engine import FS2Engine
from ttscli.lab.data import VALIDATION_SENTENCES, bundled_text
from ttscli.lab.evaluation.evaluate import (
    JUDGE_RATE,
    DnsmosJudge,
    SphinxJudge,
    corpus_wer,
    machine_description,
    rms_db,
)
from ttscli.text.ssml import parse_ssml

SPAN = 3


@dataclass
class Spoken:
    audio: np.ndarray
    words: list[tuple[str, float, float]]


def speak(engine: FS2Engine, ssml: str) -> Spoken:
    chunks: list[Chunk] = list(engine.stream(parse_ssml(ssml)))
    audio = np.concatenate([c.audio for c in chunks])
    return Spoken(audio, [(w.text, w.start, w.end) for c in chunks for w in c.words])


def usable(sentence: str) -> bool:
    tokens = sentence.split()
    return len(tokens) >= 8 and not re.search(r"\d", sentence) and "&" not in sentence


def wrapped(tokens: list[str], start: int, end: int, open_tag: str, close_tag: str) -> str:
    inner = " ".join(tokens[start:end])
    return (
        "<speak>"
        + " ".join([*tokens[:start], open_tag + inner + close_tag, *tokens[end:]])
        + "</speak>"
    )


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def window(spoken: Spoken, first: int, last: int, rate: int) -> np.ndarray:
    start, end = spoken.words[first][1], spoken.words[last][2]
    return spoken.audio[int(start * rate) : int(end * rate)]


def voiced_f0(audio: np.ndarray, rate: int) -> np.ndarray:
    """Praat's F0 of a word or phrase; none for one too short for its analysis window."""
    if len(audio) < 0.1 * rate:
        return np.zeros(0)
    return speech_f0(audio, rate)


def median_f0(audio: np.ndarray, rate: int) -> float:
    voiced = voiced_f0(audio, rate)
    return float(np.median(voiced)) if len(voiced) > 10 else float("nan")


def f0_range_semitones(audio: np.ndarray, rate: int) -> float:
    voiced = voiced_f0(audio, rate)
    if len(voiced) < 5:
        return float("nan")
    high, low = np.percentile(voiced, 90), np.percentile(voiced, 10)
    return float(12 * np.log2(high / low))


def aligned_starts(
    judge: SphinxJudge, audio: np.ndarray, rate: int, words: Sequence[str]
) -> list[float] | None:
    """Word starts (s) of a forced alignment of ``audio`` to ``words`` by pocketsphinx."""
    decoder = judge.decoder
    pcm = np.round(np.clip(resample(audio, rate, JUDGE_RATE), -1, 1) * 32767).astype("<i2")
    try:
        decoder.set_align_text(" ".join(w.lower() for w in words))
        decoder.start_utt()
        decoder.process_raw(pcm.tobytes(), no_search=False, full_utt=True)
        decoder.end_utt()
        segments = [s for s in decoder.seg() if s.word not in ("<s>", "</s>", "<sil>", "[NOISE]")]
    except (RuntimeError, ValueError):
        return None
    if len(segments) != len(words):
        return None
    return [s.start_frame * 0.01 for s in segments]


TARGETS = {
    "pitch +50%: span F0 ratio": "1.50 +- 5 %",
    "pitch +50%: rest F0 ratio": "1.00 +- 3 %",
    "pitch -20%: span F0 ratio": "0.80 +- 5 %",
    "pitch -20%: rest F0 ratio": "1.00 +- 3 %",
    "rate 50%: span duration ratio": "2.00 +- 5 %",
    "rate 50%: rest duration ratio": "1.00 +- 3 %",
    "rate 150%: span duration ratio": "0.667 +- 5 %",
    "rate 150%: rest duration ratio": "1.00 +- 3 %",
    "volume +6dB: span dB": "+6 +- 1.5",
    "volume +6dB: rest dB": "0 +- 0.5",
    "break 700ms: added (ms)": "700 +- 20",
    "emphasis: word duration ratio": "up",
    "emphasis: word F0 range added (st)": "up",
    "emphasis: word dB added": "up",
}


class Measures:
    """One sentence's plain rendering, and the measures of its marked-up ones against it."""

    def __init__(self, engine: FS2Engine, sentence: str) -> None:
        self.engine = engine
        self.rate = engine.sample_rate
        self.tokens = escape(sentence).split()
        self.plain = speak(engine, "<speak>" + escape(sentence) + "</speak>")
        self.start = len(self.tokens) // 3
        self.end = self.start + SPAN
        self.last = len(self.tokens) - 1

    @property
    def usable(self) -> bool:
        return len(self.plain.words) == len(self.tokens) and self.end < self.last

    def marked(self, open_tag: str, close_tag: str, start: int, end: int) -> Spoken:
        return speak(self.engine, wrapped(self.tokens, start, end, open_tag, close_tag))

    def f0_ratio(self, marked: Spoken, first: int, last: int) -> float:
        return median_f0(window(marked, first, last, self.rate), self.rate) / median_f0(
            window(self.plain, first, last, self.rate), self.rate
        )

    def duration_ratio(self, marked: Spoken, first: int, last: int) -> float:
        def seconds(spoken: Spoken) -> float:
            return spoken.words[last][2] - spoken.words[first][1]

        return seconds(marked) / seconds(self.plain)

    def db_added(self, marked: Spoken, first: int, last: int) -> float:
        return rms_db(window(marked, first, last, self.rate)) - rms_db(
            window(self.plain, first, last, self.rate)
        )

    def range_added(self, marked: Spoken, word: int) -> float:
        def semitones(spoken: Spoken) -> float:
            return f0_range_semitones(window(spoken, word, word, self.rate), self.rate)

        return semitones(marked) - semitones(self.plain)

    def all(self) -> tuple[dict[str, float], Spoken]:
        """Every row's value for this sentence, and its emphasised rendering."""
        span, rest = (self.start, self.end - 1), (self.end, self.last)
        values: dict[str, float] = {}
        for label, ratio in (("+50%", "+50%"), ("-20%", "-20%")):
            marked = self.marked(f'<prosody pitch="{ratio}">', "</prosody>", self.start, self.end)
            values[f"pitch {label}: span F0 ratio"] = self.f0_ratio(marked, *span)
            values[f"pitch {label}: rest F0 ratio"] = self.f0_ratio(marked, *rest)
        for label in ("50%", "150%"):
            marked = self.marked(f'<prosody rate="{label}">', "</prosody>", self.start, self.end)
            values[f"rate {label}: span duration ratio"] = self.duration_ratio(marked, *span)
            values[f"rate {label}: rest duration ratio"] = self.duration_ratio(marked, *rest)
        loud = self.marked('<prosody volume="+6dB">', "</prosody>", self.start, self.end)
        values["volume +6dB: span dB"] = self.db_added(loud, *span)
        values["volume +6dB: rest dB"] = self.db_added(loud, *rest)
        pause = [*self.tokens[: self.end], '<break time="700ms"/>', *self.tokens[self.end :]]
        broken = speak(self.engine, "<speak>" + " ".join(pause) + "</speak>")
        added = (len(broken.audio) - len(self.plain.audio)) / self.rate
        values["break 700ms: added (ms)"] = added * 1000
        word = self.start + 1
        stressed = self.marked('<emphasis level="strong">', "</emphasis>", word, word + 1)
        values["emphasis: word duration ratio"] = self.duration_ratio(stressed, word, word)
        values["emphasis: word F0 range added (st)"] = self.range_added(stressed, word)
        values["emphasis: word dB added"] = self.db_added(stressed, word, word)
        return values, stressed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sentences", type=Path, default=bundled_text(VALIDATION_SENTENCES))
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument(
        "--judges",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="WER, DNSMOS and the forced alignment (pocketsphinx, speechmos)",
    )
    args = parser.parse_args(argv)
    lines = [s.strip() for s in args.sentences.read_text(encoding="utf-8").splitlines()]
    engine = FS2Engine.load(device="cpu")
    rate = engine.sample_rate
    rows: dict[str, list[float]] = {}
    plain_audio, emphasis_audio, texts = [], [], []
    aligner = SphinxJudge() if args.judges else None  # its own decoder, left in align mode
    boundary_errors: list[float] = []
    for sentence in (s for s in lines if usable(s)):
        if len(texts) == args.count:
            break
        measures = Measures(engine, sentence)
        if not measures.usable:
            continue  # a token read as two words: the spans would not line up
        values, stressed = measures.all()
        for name, value in values.items():
            if np.isfinite(value):
                rows.setdefault(name, []).append(value)
        plain_audio.append(measures.plain.audio)
        emphasis_audio.append(stressed.audio)
        texts.append(sentence)
        if aligner is not None:
            words = measures.plain.words
            starts = aligned_starts(aligner, measures.plain.audio, rate, [w for w, _, _ in words])
            if starts is not None:
                errors = [(a - w[1]) * 1000 for a, w in zip(starts, words, strict=True)]
                boundary_errors += errors[1:]  # the first word starts after leading silence

    machine = machine_description()["cpu_model"]
    print(f"machine: {machine}; {len(texts)} lj_val sentences; the bundled voice")
    print("| measure | target | median | min | max |")
    print("|---|---|---:|---:|---:|")
    for name, target in TARGETS.items():
        values = rows.get(name, [])
        if values:
            low, high, middle = min(values), max(values), statistics.median(values)
            print(f"| {name} | {target} | {middle:.3f} | {low:.3f} | {high:.3f} |")
    if args.judges and texts:
        print_judges(texts, plain_audio, emphasis_audio, rate, boundary_errors)
    return 0


def print_judges(
    texts: list[str],
    plain: list[np.ndarray],
    stressed: list[np.ndarray],
    rate: int,
    boundary_errors: list[float],
) -> None:
    sphinx, mos = SphinxJudge(), DnsmosJudge()
    print()
    print("| emphasis on one word a sentence | WER | DNSMOS OVRL |")
    print("|---|---:|---:|")
    for label, audios in (("plain", plain), ("emphasis", stressed)):
        hypotheses = [sphinx.transcribe(resample(a, rate, JUDGE_RATE)) for a in audios]
        ovrl = statistics.fmean(mos.ovrl_at(a, rate) for a in audios)
        print(f"| {label} | {corpus_wer(texts, hypotheses):.3f} | {ovrl:.2f} |")
    if boundary_errors:
        print()
        print("| word starts against pocketsphinx's forced alignment | median (ms) | 95th (ms) "
              "| signed median (ms) |")  # fmt: skip
        print("|---|---:|---:|---:|")
        absolute = np.abs(boundary_errors)
        median, p95 = float(np.median(absolute)), float(np.percentile(absolute, 95))
        signed = statistics.median(boundary_errors)
        print(f"| fs2 word timings ({len(boundary_errors)} words) | {median:.0f} | {p95:.0f} "
              f"| {signed:+.0f} |")  # fmt: skip
