"""Kyutai TTS (delayed streams modeling) behind a small, streaming-first API.

Why we drive the model ourselves instead of calling ``TTSModel.generate``: ``generate`` needs
the whole script up front.  Kyutai TTS can read text *while* it speaks (the LLM-piped-into-TTS
case), so we run the same state machine step by step, as Kyutai's streaming script does: words
are appended to the machine's queue when they arrive, and the LM only steps while it holds more
words than its look-ahead stream needs (``second_stream_ahead``).  Batches use the same loop, so
trimming, word timings and latency are measured identically for one voice or sixty-four.

torch.compile policy (``TTSCLI_TORCH_COMPILE=1`` forces it on, ``=0`` off; moshi's own
``NO_TORCH_COMPILE=1`` always wins):

* CPU: off.  moshi already skips compilation inside transformer layers on CPU; compiling what
  is left (norms outside the layers) made the first generation several times slower and the
  second no faster.
* CUDA: off by default too.  moshi CUDA-graphs the LM step and the depformer loop on CUDA,
  which removes the kernel-launch overhead; what is left is the sheer number of small kernels
  per frame, which compile fuses.  On an H100 that cut the compute per frame by a quarter and
  raised batch throughput by a third (docs/benchmarks.md), but it costs seconds of compilation
  in every new process and for every new batch shape.  A CLI process speaks once and exits, so
  first audio matters more.  Long-lived servers or large batch jobs on a GPU should set
  ``TTSCLI_TORCH_COMPILE=1``; ``scripts/bench_speak.py --compile on`` measures the trade-off.

The decision is applied at run time with ``moshi.utils.compile.no_compile()`` around each step,
so it holds even if moshi was imported before this module.
"""

from __future__ import annotations

import itertools
import os
import re
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ttscli.engines.base import (
    Chunk,
    OptionError,
    OptionField,
    PreparedLine,
    VoiceInfo,
    Word,
    check_fields,
)
from ttscli.kyutai.fields import ATTRIBUTION, request_fields
from ttscli.kyutai.generation import Generation
from ttscli.kyutai.integrity import check_files
from ttscli.kyutai.options import FeedItem, KyutaiOptions, ScriptWriter
from ttscli.kyutai.voices import cached_voice_names, folder_licence
from ttscli.kyutai.weights import (
    DEFAULT_VOICE,
    DEFAULT_VOICE_REPO,
    HubRepo,
    repo_path,
    resolve_checkpoint,
    resolve_voice,
)
from ttscli.text.dialogue import Dialogue, parse_dialogue
from ttscli.text.feed import WordFeed
from ttscli.text.markup import Markup, MarkupStream
from ttscli.text.ssml import looks_like_ssml, parse_ssml
from ttscli.util.errors import UserError
from ttscli.util.faults import is_out_of_memory, out_of_memory
from ttscli.util.torch_device import resolve_device

if TYPE_CHECKING:
    import torch
    from moshi.conditioners import ConditionAttributes
    from moshi.models.loaders import CheckpointInfo
    from moshi.models.tts import TTSModel

    from ttscli.kyutai.slots import SlotGeneration

COMPILE_ENV = "TTSCLI_TORCH_COMPILE"
SSML_IN_DIALOGUE = "a dialogue is read as text: SSML is for one voice"


_TRUE = {"1", "on", "yes", "true"}
_FALSE = {"0", "off", "no", "false"}


def compile_enabled(device: str) -> bool:
    """See the module docstring: off unless ``TTSCLI_TORCH_COMPILE`` says otherwise."""
    value = os.environ.get(COMPILE_ENV, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE or value == "":
        return False
    raise UserError(f"{COMPILE_ENV}={value!r}: expected 1 or 0")


def default_dtype(device: str) -> torch.dtype:
    """bf16 on GPUs that have it (the checkpoint's own precision), float32 on CPU.

    CPUs without bf16 matrix units run bf16 matmuls through slow conversion paths; at the tiny
    test size float32 is about as fast, and at full size the 1.6B weights (6.4 GB in float32)
    still fit a normal machine.
    """
    import torch

    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


class KyutaiEngine:
    """Kyutai TTS with one fixed voice: streaming (text in and audio out) and batched synthesis.

    Implements ``ttscli.engines.base.Engine[KyutaiOptions]`` and ``StepsManyStreams``
    (a server's requests as slots of one batch). Sampling is set at load. Build with
    ``KyutaiEngine.load``. Not thread-safe; one generation at a time.
    """

    name = "kyutai"
    chunks_ahead = 32  # Mimi frames
    reads_words = True
    voice_name = DEFAULT_VOICE
    """The voice it speaks with, as ``--voice`` named it (set by ``load``)."""
    sample_rate: int
    load_seconds: float

    def __init__(
        self,
        model: TTSModel,
        attributes: ConditionAttributes,
        *,
        device: str,
        seed: int | None,
        compile: bool,
    ) -> None:
        self.model = model
        self.device = device
        self.seed = seed
        self.compile = compile
        self._attributes = attributes
        self.sample_rate = int(model.mimi.sample_rate)
        self.frame_rate = float(model.mimi.frame_rate)
        self.load_seconds = 0.0
        self._busy = False
        self.respellings: dict[str, str] = {}
        self._respell: re.Pattern[str] | None = None
        self.sampling: dict[str, Any] = {"n_q": model.n_q, "seed": seed}
        """What it was loaded with: the defaults of a request (which may not change n_q)."""
        self.voice_path: Path | None = None
        """The embedding of the voice it was loaded with."""
        self.voice_repo: str | None = None
        self.voice_suffix = ""
        self._voice_files: dict[str, Path] = {}
        self._conditions: dict[tuple[tuple[str, ...], float], ConditionAttributes] = {}
        self._unshared = itertools.count()

    # -- construction -----------------------------------------------------------------------
    @classmethod
    def load(
        cls,
        *,
        voice: str | None,
        hf_repo: str | None = None,
        voice_repo: str | None = None,
        model_dir: Path | None = None,
        device: str = "auto",
        n_q: int | None = None,
        temp: float = 0.6,
        cfg_coef: float = 2.0,
        seed: int | None = None,
    ) -> KyutaiEngine:
        """Resolve files (fast failure with a one-line UserError), then build the model.

        ``n_q`` defaults to every codebook the model generates (32 for tts-1.6b-en_fr).
        """
        start = time.perf_counter()
        _check_sampling(n_q, temp)
        resolved_device = resolve_device(device)
        checkpoint = resolve_checkpoint(hf_repo, Path(model_dir) if model_dir else None)
        max_q = model_codebooks(checkpoint.info)
        if n_q is None:
            n_q = max_q
        if n_q > max_q:
            raise UserError(f"--n-q {n_q}: this model generates at most {max_q} codebooks")
        voice_path = resolve_voice(voice, voice_repo, checkpoint.voice_suffix)
        info = checkpoint.info
        model_files = [p for p in (info.moshi_weights, info.mimi_weights, info.tokenizer) if p]
        check_files([(Path(p), Path(p).name) for p in model_files], checkpoint.source)
        check_files([(voice_path, repo_path(voice_path))], voice_repo or DEFAULT_VOICE_REPO)
        try:
            engine = cls.from_checkpoint_info(
                info,
                voice_path=voice_path,
                device=resolved_device,
                n_q=n_q,
                temp=temp,
                cfg_coef=cfg_coef,
                seed=seed,
            )
        except Exception as exc:
            if not is_out_of_memory(exc):
                raise
            # Weights stored in bf16 take twice their size as float32 on a CPU.
            factor = 1.0 if resolved_device.startswith("cuda") else 2.0
            files = [Path(p) for p in model_files]
            raise out_of_memory(f"Kyutai TTS ({checkpoint.source})", files, factor) from None
        engine.voice_name = voice or DEFAULT_VOICE
        engine.voice_repo = voice_repo
        engine.voice_suffix = checkpoint.voice_suffix
        engine.load_seconds = time.perf_counter() - start
        return engine

    @classmethod
    def from_checkpoint_info(
        cls,
        info: CheckpointInfo,
        *,
        voice_path: Path | None,
        device: str = "cpu",
        n_q: int | None = None,
        temp: float = 0.6,
        cfg_coef: float = 2.0,
        seed: int | None = None,
        dtype: torch.dtype | None = None,
        warmup: bool | None = None,
    ) -> KyutaiEngine:
        """Build from a ``CheckpointInfo`` (weights, or random ones when its paths are None).

        ``warmup`` (default: on CUDA only) runs a few frames so that CUDA/cuBLAS initialisation
        is paid during loading, typically while the text source is still producing its first
        words, rather than in the time to first audio.
        """
        from moshi.models.tts import TTSModel

        _check_sampling(n_q, temp)
        if n_q is None:
            n_q = model_codebooks(info)
        start = time.perf_counter()
        if seed is not None:
            _seed_everything(seed)
        model = TTSModel.from_checkpoint_info(
            info, n_q=n_q, temp=temp, device=device, dtype=dtype or default_dtype(device)
        )
        attributes = _condition_attributes(model, voice_path, cfg_coef)
        engine = cls(model, attributes, device=device, seed=seed, compile=compile_enabled(device))
        engine.sampling.update(temp=temp, cfg_coef=cfg_coef)
        engine.voice_path = voice_path
        if warmup if warmup is not None else device.startswith("cuda"):
            engine.warmup()
        engine.load_seconds = time.perf_counter() - start
        return engine

    # -- helpers used by Generation -----------------------------------------------------------
    def condition_attributes(self, options: KyutaiOptions | None = None) -> ConditionAttributes:
        """The conditions of a request's voices and CFG (the loaded ones by default), as a
        fresh copy: moshi's CFG dropout edits attributes in place."""
        voices = options.voices if options is not None else ()
        cfg = self._cfg_of(options)
        if not voices and cfg == self.sampling["cfg_coef"]:
            return self._attributes.copy()
        key = (voices, cfg)
        if key not in self._conditions:
            paths = [self.voice_file(v) for v in voices] or [self.voice_path]
            distilled = bool(self.model.valid_cfg_conditionings)
            self._conditions[key] = self.model.make_condition_attributes(
                [p for p in paths if p is not None], cfg_coef=cfg if distilled else None
            )
        return self._conditions[key].copy()

    def _cfg_of(self, options: KyutaiOptions | None) -> float:
        if options is None or options.cfg_coef is None:
            return float(self.sampling["cfg_coef"])
        return float(options.cfg_coef)

    def real_cfg(self, options: KyutaiOptions | None) -> float:
        """The CFG a generation applies itself: none (1.0) for a model trained with CFG
        distillation, which takes it as a condition, row by row."""
        if self.model.valid_cfg_conditionings:
            return float(self.model.cfg_coef)
        return self._cfg_of(options)

    def voice_file(self, name: str) -> Path:
        """The embedding a request's voice names, checked once."""
        if name not in self._voice_files:
            path = resolve_voice(name, self.voice_repo, self.voice_suffix)
            _check_voice_file(self.model, path)
            self._voice_files[name] = path
        return self._voice_files[name]

    def batch_key(self, options: KyutaiOptions) -> tuple[float, float, int]:
        """What rows of one mini-batch must share: moshi samples a batch at one temperature
        (and applies real CFG at one strength). A line with its own seed runs alone, so it
        gives what ``speak --seed`` gives, whatever lines it is batched with."""
        temp = self.model.temp if options.temp is None else options.temp
        alone = next(self._unshared) if options.seed is not None else -1
        return (float(temp), self.real_cfg(options), alone)

    def compile_guard(self) -> AbstractContextManager[Any]:
        if self.compile:
            return nullcontext()
        from moshi.utils.compile import no_compile

        return no_compile()

    def generation(
        self,
        batch_size: int,
        keep_frames: bool = False,
        rows: Sequence[KyutaiOptions] | None = None,
    ) -> Generation:
        """Low-level access for benchmarks and tests: a stepped run over ``batch_size``
        utterances (with ``rows``, each with its own options)."""
        return Generation(self, batch_size, keep_frames, rows=rows)

    def warmup(self) -> None:
        """Generate until the first audio frame once, then discard everything."""
        with self.generation(1) as gen:
            gen.feed(0, "Warming up the speech model now.")
            gen.close_input(0)
            while not gen.done() and gen.step() is None:
                pass

    def _claim(self) -> None:
        """The model holds streaming state, so a second run must wait for the first to end."""
        if self._busy:
            raise RuntimeError("a previous stream() is still open: exhaust or close() it first")
        self._busy = True

    def _reseed(self, options: KyutaiOptions | None = None) -> None:
        seed = options.seed if options is not None and options.seed is not None else self.seed
        if seed is not None:
            _seed_everything(seed)

    # -- the engine interface ---------------------------------------------------------------
    def describe(self) -> str:
        return f"kyutai ({self.device}, {self.model.n_q} codebooks)"

    def facts(self) -> dict[str, Any]:
        return {"device": str(self.device), "n_q": self.model.n_q}

    def voice(self) -> VoiceInfo:
        return self._voice_info(self.voice_name)

    @staticmethod
    def _voice_info(name: str) -> VoiceInfo:
        licence = folder_licence(name.split("/", 1)[0])
        return VoiceInfo(
            name=name,
            licence=licence.name,
            attribution=ATTRIBUTION,
            commercial_use=licence.commercial,
            languages=("en", "fr"),
        )

    def offered_voices(self) -> tuple[VoiceInfo, ...]:
        """The voices of its voice repo cached on this machine for its model (the hub is
        not asked: a listing must not wait on the network), but its own."""
        if not self.voice_suffix:  # built in memory, not loaded: no repo of its own
            return ()
        repo = HubRepo(self.voice_repo or DEFAULT_VOICE_REPO)
        names = cached_voice_names(repo.repo_id, self.voice_suffix, repo.settings)
        return tuple(self._voice_info(name) for name in sorted(names - {self.voice_name}))

    def fields(self) -> tuple[OptionField, ...]:
        """The sampling settings it loaded with (a request may repeat, not change them)."""
        return request_fields()

    def options(self, fields: Mapping[str, Any]) -> KyutaiOptions:
        """A request's options; its voices are looked up now, so a wrong one fails before
        any audio (and a second voice, a dialogue, needs a model that takes two)."""
        values = check_fields(self.fields(), fields)
        if values["speed"] != 1.0:
            raise OptionError("speed", values["speed"], "Kyutai speaks at its own pace: only 1")
        loaded = self.sampling["n_q"]
        if fields.get("n_q") is not None and values["n_q"] != loaded:
            raise OptionError(
                "n_q", values["n_q"], f"this engine runs with n_q={loaded} (set when it started)"
            )
        voices = self._voices(values)
        cfg = values["cfg_coef"] if fields.get("cfg_coef") is not None else None
        valid = self.model.valid_cfg_conditionings
        if cfg is not None and valid and float(cfg) not in valid:
            accepted = ", ".join(f"{v:g}" for v in sorted(valid))
            raise OptionError("cfg_coef", cfg, f"this model accepts {accepted}")
        if cfg is not None and not valid and cfg <= 0:
            raise OptionError("cfg_coef", cfg, "must be positive")
        return KyutaiOptions(
            values["sentence_silence"],
            values["paragraph_silence"],
            voices=voices,
            padding_bonus=values["padding_bonus"],
            padding_between=values["padding_between"],
            temp=values["temp"] if fields.get("temp") is not None else None,
            cfg_coef=cfg,
            seed=values["seed"],
        )

    def _voices(self, values: Mapping[str, Any]) -> tuple[str, ...]:
        voices: tuple[str, ...] = values["voices"] or ()
        if len(voices) == 2 and not self.model.multi_speaker:
            raise OptionError("voices", list(voices), "this model speaks one voice: no dialogues")
        for name in voices:
            try:
                self.voice_file(name)
            except UserError as exc:
                raise OptionError("voices", name, str(exc)) from None
        return voices

    def markup_warnings(self, markup: Markup, options: KyutaiOptions | None = None) -> list[str]:
        """Kyutai reads text and breaks, and a span's rate (its padding bonus), volume (a gain
        on its words) and marks (at word starts) are followed; pitch, emphasis and phonemes
        are not (``say-as`` and ``sub`` are, as the text they become)."""
        unhonoured = markup.unhonoured_by_text(followed=("rate", "volume", "mark"))
        return list(dict.fromkeys([*markup.warnings, *unhonoured]))

    def respelled(self, text: str) -> str:
        """``text`` with the lexicon's words replaced by their respellings (never inside a
        ``<break>`` tag)."""
        if self._respell is None:
            return text
        return self._respell.sub(
            lambda m: m.group() if m[1] else self.respellings[m.group().lower()], text
        )

    def use_respellings(self, respellings: Mapping[str, str]) -> None:
        self.respellings = {word.lower(): said for word, said in respellings.items()}
        words = sorted(self.respellings, key=len, reverse=True)
        self._respell = (
            re.compile(
                r"(<[^>]*>)|(?<![\w'])(?:" + "|".join(map(re.escape, words)) + r")(?![\w'])",
                re.I,
            )
            if words
            else None
        )

    def check_slot_options(self, options: KyutaiOptions) -> None:
        """Slots step together: they share the sampling (and a real CFG) set at load."""
        for name in ("temp", "seed"):
            asked = getattr(options, name)
            loaded = self.sampling[name]
            if asked is not None and asked != loaded:
                raise OptionError(
                    name, asked, f"this engine runs with {name}={loaded} (set when it started)"
                )
        if self.real_cfg(options) != self.real_cfg(None):
            raise OptionError("cfg_coef", options.cfg_coef, "this model applies one CFG to all")

    def open_slots(self, count: int) -> SlotGeneration:
        from ttscli.kyutai.slots import SlotGeneration

        return SlotGeneration(self, count)

    def stream(
        self,
        text: str | Iterable[str] | Markup | MarkupStream,
        options: KyutaiOptions | None = None,
    ) -> Iterator[Chunk]:
        """One chunk per decoded Mimi frame (1920 samples), as soon as it is decoded.

        ``text`` may be a string, fragments arriving over time, ``Markup``, or markup
        arriving a piece at a time (``markup_warnings`` says what is not followed); words
        are fed to the model as they arrive, so audio starts before the input runs out.
        Each chunk carries the words (and marks) whose timing became final with it; a last,
        empty chunk the rest.
        """
        options = options or KyutaiOptions()
        self._claim()
        try:
            self._reseed(options)
            with Generation(self, 1, rows=[options]) as gen:
                out = _SingleOutput(gen, self.sample_rate)
                for items in _script(text, options):
                    gen.feed_items(0, items)
                    while gen.can_step():
                        yield from out.step()
                gen.close_input(0)
                if not gen.has_text(0):
                    return
                while not gen.done():
                    yield from out.step()
                yield from out.finish()
        finally:
            self._busy = False

    def synthesize(self, text: str) -> np.ndarray:
        """Whole utterance as one array (convenience over ``stream``)."""
        chunks = [chunk.audio for chunk in self.stream(text)]
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)

    def prepare_line(
        self, text: str | Markup | Dialogue, options: KyutaiOptions | None = None
    ) -> PreparedLine:
        """A line that is an SSML document is parsed here (a bad one fails before any
        audio) and read as markup; with two voices, text is a dialogue's turns."""
        options = options or KyutaiOptions()
        content: str | Markup | Dialogue = text
        if isinstance(text, str) and looks_like_ssml(text):
            content = parse_ssml(text)
        elif isinstance(text, str) and options.dialogue:
            content = parse_dialogue(text)
        if isinstance(content, Markup) and options.dialogue:
            raise UserError(SSML_IN_DIALOGUE)
        if isinstance(content, Dialogue) and not options.dialogue:
            raise UserError("turns are a dialogue: give two voices")
        said = text if isinstance(text, str) else content.text
        return PreparedLine(said, content, None, len(said), options, self.batch_key(options))

    def synthesize_batch(
        self, lines: Sequence[PreparedLine | str], options: KyutaiOptions | None = None
    ) -> list[Chunk]:
        """All lines in one model batch, each row conditioned on its own voices and paced by
        its own options; each is trimmed to its own end of speech and carries its own word
        timings. Blank lines give empty chunks without taking a batch slot."""
        rows = [
            (line.options if isinstance(line, PreparedLine) else None) or options or KyutaiOptions()
            for line in lines
        ]
        scripts = [
            _whole_script(line if isinstance(line, str) else line.payload, row)
            for line, row in zip(lines, rows, strict=True)
        ]
        self._claim()
        try:
            return self._synthesize_batch(scripts, rows)
        finally:
            self._busy = False

    def _synthesize_batch(
        self, scripts: list[list[FeedItem]], rows: list[KyutaiOptions]
    ) -> list[Chunk]:
        self._reseed(rows[0] if rows else None)
        results = [np.zeros(0, dtype=np.float32) for _ in scripts]
        timings: list[list[Word]] = [[] for _ in scripts]
        marks: list[list[Word]] = [[] for _ in scripts]
        active = [i for i, items in enumerate(scripts) if any(it.text.strip() for it in items)]
        if active:
            chunks: list[list[np.ndarray]] = [[] for _ in active]
            with Generation(self, len(active), rows=[rows[i] for i in active]) as gen:
                for slot, i in enumerate(active):
                    gen.feed_items(slot, scripts[i])
                    gen.close_input(slot)
                while not gen.done():
                    audio = gen.step()
                    if audio is None:
                        continue
                    for slot in range(len(active)):
                        if gen.keeps(slot, gen.last_index):
                            chunks[slot].append(gen.gained(slot, len(chunks[slot]), audio[slot]))
                for slot, i in enumerate(active):
                    if chunks[slot]:
                        results[i] = np.concatenate(chunks[slot])
                    timings[i] = gen.word_timings(slot, len(chunks[slot]))
                    marks[i] = gen.mark_times(slot, len(chunks[slot]), None)
        return [
            Chunk(audio, self.sample_rate, words=tuple(words), marks=tuple(found))
            for audio, words, found in zip(results, timings, marks, strict=True)
        ]


def _script(
    text: str | Iterable[str] | Markup | MarkupStream | Dialogue, options: KyutaiOptions
) -> Iterator[list[FeedItem]]:
    """What to feed as the input arrives: whole words of plain text (with the options'
    silences as breaks), each piece of markup once it is here, or a dialogue's turns."""
    writer = ScriptWriter(options)
    if isinstance(text, Dialogue):
        for turn in text.turns:
            yield writer.plain(turn.text + " ", turn.speaker)
        return
    if isinstance(text, (Markup, MarkupStream)):
        if options.dialogue:
            raise UserError(SSML_IN_DIALOGUE)
        for piece in [text] if isinstance(text, Markup) else text:
            yield writer.items(piece)
        return
    feed = WordFeed()
    for fragment in [text] if isinstance(text, str) else text:
        ready = feed.push(fragment)
        yield writer.text(ready) if ready else []
    yield writer.text(feed.flush()) + writer.close()


def _whole_script(line: object, options: KyutaiOptions) -> list[FeedItem]:
    """A batch line's script: its text (SSML's markup, a dialogue's turns) all at once."""
    text = line if isinstance(line, (str, Markup, Dialogue)) else str(line)
    return [item for items in _script(text, options) for item in items]


class _SingleOutput:
    """Turns the steps of a one-item generation into chunks with their final words."""

    def __init__(self, gen: Generation, sample_rate: int) -> None:
        self.gen = gen
        self.sample_rate = sample_rate
        self.produced = 0
        self.emitted = 0

    def step(self) -> Iterator[Chunk]:
        audio = self.gen.step()
        if audio is None or not self.gen.keeps(0, self.gen.last_index):
            return
        samples = self.gen.gained(0, self.produced, audio[0])
        self.produced += 1
        words = self.gen.final_words(0, self.produced, self.emitted)
        marks = self.gen.mark_times(0, self.produced, self.emitted + len(words))
        yield self._chunk(samples, words, marks)

    def finish(self) -> Iterator[Chunk]:
        """The words (and marks) still open at the end, in an empty chunk."""
        rest = self.gen.word_timings(0, self.produced, self.emitted)
        marks = self.gen.mark_times(0, self.produced, None)
        if rest or marks:
            yield self._chunk(np.zeros(0, dtype=np.float32), rest, marks)

    def _chunk(self, audio: np.ndarray, words: list[Word], marks: list[Word]) -> Chunk:
        self.emitted += len(words)
        return Chunk(
            audio,
            self.sample_rate,
            words=tuple(words),
            marks=tuple(marks),
            text_ready_at=self.gen.t_first_text,
        )


def model_codebooks(info: CheckpointInfo) -> int:
    """How many audio codebooks the model generates (what ``--n-q`` defaults to)."""
    lm_config = info.lm_config or {}
    return int(lm_config.get("dep_q", lm_config.get("n_q", 32)))


def _check_sampling(n_q: int | None, temp: float) -> None:
    if n_q is not None and (not isinstance(n_q, int) or n_q < 1):
        raise UserError(f"--n-q {n_q}: expected a whole number of codebooks, 1 to 32")
    if temp < 0:
        raise UserError(f"--temp {temp}: temperature cannot be negative (0 = greedy)")


def _seed_everything(seed: int) -> None:
    import torch

    torch.manual_seed(seed)  # also seeds every CUDA device
    np.random.seed(seed % 2**32)


def _condition_attributes(
    model: TTSModel, voice_path: Path | None, cfg_coef: float
) -> ConditionAttributes:
    """Voice + CFG conditioning, with user-facing errors for a wrong voice or CFG value.

    Models trained with CFG distillation (tts-1.6b) take the coefficient as a condition and
    accept only a fixed set of values; others apply real CFG at a doubled batch.
    """
    valid = model.valid_cfg_conditionings
    if valid:
        if float(cfg_coef) not in valid:
            values = ", ".join(f"{v:g}" for v in sorted(valid))
            raise UserError(f"--cfg-coef {cfg_coef:g}: this model accepts {values}")
        cfg: float | None = float(cfg_coef)
    else:
        if cfg_coef <= 0:
            raise UserError(f"--cfg-coef {cfg_coef:g}: must be positive")
        model.cfg_coef = float(cfg_coef)
        cfg = None
    voices: list[Path] = []
    if model.multi_speaker:
        if voice_path is None:
            raise UserError("this model needs a voice; pass --voice (see `ttscli voices`)")
        _check_voice_file(model, voice_path)
        voices = [voice_path]
    return model.make_condition_attributes(voices, cfg_coef=cfg)


def _check_voice_file(model: TTSModel, path: Path) -> None:
    """Catch embeddings made for another model before they fail deep inside attention."""
    from safetensors import safe_open

    if path.suffix != ".safetensors":
        raise UserError(f"voice {path} is not a .safetensors embedding")
    try:
        with safe_open(str(path), framework="pt") as handle:
            if "speaker_wavs" not in handle.keys():  # noqa: SIM118 (safe_open is not a dict)
                raise UserError(f"voice {path} has no 'speaker_wavs' tensor")
            shape = tuple(handle.get_slice("speaker_wavs").get_shape())
    except UserError:
        raise
    except Exception as exc:  # safetensors raises its own error types for corrupt files
        raise UserError(f"voice {path} is not a readable safetensors file ({exc})") from exc
    provider = model.lm.condition_provider
    expected = provider.conditioners["speaker_wavs"].dim if provider is not None else None
    if len(shape) != 3 or (expected is not None and shape[1] != expected):
        raise UserError(
            f"voice {path} has shape {list(shape)}, but this model expects [1, {expected}, T]: "
            "it was made for another model"
        )
