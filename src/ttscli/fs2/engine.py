"""FastSpeech 2 engine: text in, audio chunks out, on the CPU or CUDA.

Streaming (sentence by sentence) and batch synthesis are one code path: ``stream``
calls ``synthesize`` with one sentence at a time, each as soon as the text feed has it,
so the first sentence plays while later ones are still arriving or being computed.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ttscli.audio.dsp import SILENT_LOG_MEL
from ttscli.audio.pitch_shift import resample_track, shift_pitch_of_slowed
from ttscli.engines.base import (
    Chunk,
    OptionField,
    PreparedLine,
    Prosody,
    VoiceInfo,
    check_fields,
)
from ttscli.fs2.checkpoint import CONFIG_FILE, load_checkpoint
from ttscli.fs2.conv_layout import convs_channels_last, helps_on
from ttscli.fs2.harmonic_source import cycles_before, has_harmonic_source
from ttscli.fs2.kinds import ModelKind, Precision, resolve_kind
from ttscli.fs2.limits import ASSETS_DIR, pitch_limits_of, scale_fields
from ttscli.fs2.markup import (
    StreamClock,
    Timing,
    cut_at,
    faded,
    frame_gain,
    gained,
    phoneme_prosody,
    phoneme_starts,
    word_timing,
)
from ttscli.fs2.model import (
    Controls,
    FastSpeech2,
    FS2Output,
    LatentWaveDecoder,
    PhonemeProsody,
)
from ttscli.fs2.modules import frame_mean
from ttscli.fs2.precision import vocoder_dtype
from ttscli.fs2.shape_buckets import padded_length
from ttscli.fs2.vocoders import (
    NeuralVocoder,
    Vocoder,
    bundled_vocoder_has_source,
    resolve_vocoder,
)
from ttscli.text.dialogue import Dialogue
from ttscli.text.feed import paragraphs_as_they_arrive
from ttscli.text.frontend import (
    Utterance,
    line_utterance,
    speakable_utterances,
    text_to_utterances,
    utterances_one_by_one,
)
from ttscli.text.g2p import get_phonemizer
from ttscli.text.lexicon import read_phonetic
from ttscli.text.markup import Boundary, Mark, Markup, MarkupStream, Say
from ttscli.text.ssml import looks_like_ssml, parse_ssml
from ttscli.util.errors import UserError
from ttscli.util.faults import is_out_of_memory, out_of_memory
from ttscli.util.torch_device import resolve_device

DEFAULT_CONTROLS = Controls()
BUNDLED_ATTRIBUTION = (
    "ttscli's voice joe-fs2, trained by the ttscli project on audio of Piper's en_US-joe-medium "
    "(MIT, Michael Hansen); see its model card"
)
FIRST_WINDOW_FRAMES = 48
"""Frames (about half a second) vocoded first, so a sentence starts playing that soon."""
WINDOW_FRAMES = 512
"""The longest stretch (about six seconds) vocoded in one call: the generator's buffers,
and so the memory, are bounded by it whatever the length of a line."""
CONTEXT_FRAMES = 24
"""Frames of mel on each side of a window: the generator's reach, so that windows joined
together match one pass over the whole sentence (fewer frames leave audible seams)."""


@dataclass
class Synthesis:
    """One synthesised utterance, with the prosody that produced it."""

    phonemes: tuple[str, ...]
    audio: np.ndarray  # float32 mono in [-1, 1]
    mel: np.ndarray  # (frames, n_mels) log-mel
    pitch_hz: np.ndarray  # (frames,)
    energy: np.ndarray  # (frames,) STFT-frame L2 norm
    sample_rate: int
    durations: tuple[int, ...] = ()
    """Frames of each phoneme, as the model chose them."""

    @property
    def seconds(self) -> float:
        return len(self.audio) / self.sample_rate


@dataclass
class Acoustic:
    """The acoustic model's output and the input the vocoder takes from it."""

    output: FS2Output
    mel: torch.Tensor
    """(batch, frames, n_mels): the widened, padding-silenced mel for a vocoder; the
    model's own mel for FS2s."""
    log_f0: torch.Tensor | None


def voice_needs_f0_renderer(model: FastSpeech2, directory: Path | None = None) -> bool:
    """Whether this voice's pitch reaches the audio through a generator's harmonic source:
    one whose FS2s decoder, or whose own mel vocoder in ``directory``, has a source was
    trained beside a generator that is handed F0, and its mels show a new pitch only in
    part (measured in the model card). With a renderer that has no source (Griffin-Lim, a
    HiFi-GAN file) such a voice takes the resampling route."""
    if model.config.variance.pitch_control != "embedding":
        return False
    decoder = model.wave_decoder
    if decoder is not None and has_harmonic_source(decoder):
        return True
    return directory is not None and bundled_vocoder_has_source(directory)


def bundled_checkpoint() -> Path:
    """The voice shipped inside the package, or a clear error when this build has none."""
    if not (ASSETS_DIR / CONFIG_FILE).is_file():
        raise UserError("no bundled FastSpeech 2 voice in this install; pass --checkpoint DIR")
    return ASSETS_DIR


class FS2Engine:
    """A loaded FastSpeech 2 / 2s model with its vocoder, on one device.

    Implements ``ttscli.engines.base.Engine[Controls]``.
    """

    name = "fs2"
    chunks_ahead = 4  # sentences
    reads_words = False

    def __init__(
        self,
        model: FastSpeech2,
        vocoder: Vocoder | None,
        device: torch.device,
        kind: ModelKind,
        directory: Path | None = None,
        precision: Precision = Precision.auto,
    ) -> None:
        """``directory``: the checkpoint's folder, whose own vocoder tells whether the voice
        needs an F0 renderer (``voice_needs_f0_renderer``); ``precision``: the vocoder's
        arithmetic (``ttscli.fs2.precision``)."""
        self.model = model.to(device)
        self.vocoder = vocoder
        generator = model.wave_decoder if vocoder is None else None
        if isinstance(vocoder, NeuralVocoder):
            generator = vocoder.module.to(device)
        # Inference-only speed-ups whose output is the same (see each module's docstring).
        model.variance_adaptor.round_frames = padded_length
        if helps_on(device):
            convs_channels_last(model)
            if isinstance(vocoder, NeuralVocoder):
                convs_channels_last(vocoder.module)
        self.vocoder_dtype = torch.float32
        if generator is not None:  # Griffin-Lim has no network
            waveform_decoder = vocoder is None
            self.vocoder_dtype = vocoder_dtype(Precision(precision), device, waveform_decoder)
            generator.to(self.vocoder_dtype)
        self.device = device
        self.kind = kind
        self.config = model.config
        self.sample_rate = model.config.audio.sample_rate
        self.directory = directory
        self._symbol_ids = {s: i for i, s in enumerate(model.config.symbols)}
        self.load_seconds = 0.0
        # A generator with a harmonic source renders the F0 it is handed; a window cut from a
        # longer utterance must then continue the source's phase.
        self._generator_has_source = generator is not None and has_harmonic_source(generator)
        self._pitch_by_resampling = model.config.variance.pitch_control == "resample" or (
            # Asked only without a source: it may read the folder's vocoder.json again.
            not self._generator_has_source and voice_needs_f0_renderer(model, directory)
        )

    @classmethod
    def load(
        cls,
        checkpoint: Path | None = None,
        kind: ModelKind | str = ModelKind.auto,
        vocoder: str = "auto",
        device: str = "auto",
        lexicon: Path | None = None,
        precision: Precision | str = Precision.auto,
    ) -> FS2Engine:
        """``lexicon``: a user's pronunciations (``text.lexicon``), which win over CMUdict
        for everything this process says from now on; ``precision``: the vocoder's
        arithmetic (``ttscli.fs2.precision``)."""
        started = time.perf_counter()
        kind = ModelKind(kind)
        if lexicon is not None:
            get_phonemizer().use_lexicon(read_phonetic(Path(lexicon)))
        directory = checkpoint if checkpoint is not None else bundled_checkpoint()
        torch_device = torch.device(resolve_device(device))
        try:
            engine = cls._load(directory, kind, vocoder, torch_device, Precision(precision))
        except Exception as exc:
            if not is_out_of_memory(exc):
                raise
            # Weights stored as float16 take twice their size once loaded as float32.
            weights = sorted(directory.glob("*.safetensors"))
            raise out_of_memory(f"the FastSpeech 2 voice in {directory}", weights, 2.0) from None
        engine.load_seconds = time.perf_counter() - started
        return engine

    @classmethod
    def _load(
        cls,
        directory: Path,
        kind: ModelKind,
        vocoder: str,
        torch_device: torch.device,
        precision: Precision,
    ) -> FS2Engine:
        model = load_checkpoint(directory)
        kind = resolve_kind(kind, model.wave_decoder is not None, vocoder)
        if kind is ModelKind.fs2s:
            if model.wave_decoder is None:
                raise UserError(
                    f"checkpoint {directory}: has no FastSpeech 2s waveform decoder "
                    "(use --model fs2)"
                )
            engine = cls(model, None, torch_device, kind, directory, precision)
        else:
            engine = cls(
                model,
                resolve_vocoder(vocoder, directory, model.config.audio),
                torch_device,
                kind,
                directory,
                precision,
            )
        return engine

    def describe(self) -> str:
        return f"fs2 ({self.kind.value}, {self.vocoder_name}, {self.device}, {self.precision_name})"

    @property
    def precision_name(self) -> str:
        """The vocoder's dtype as ``--precision`` names it (``float32``, ``bfloat16``)."""
        return str(self.vocoder_dtype).removeprefix("torch.")

    @property
    def frame_seconds(self) -> float:
        return self.config.audio.hop_length / self.sample_rate

    @property
    def vocoder_name(self) -> str:
        return "fs2s waveform decoder" if self.vocoder is None else self.vocoder.name

    def phoneme_ids(self, phonemes: Sequence[str]) -> list[int]:
        try:
            return [self._symbol_ids[p] for p in phonemes]
        except KeyError as exc:
            raise UserError(f"phoneme {exc.args[0]} is not in this checkpoint's symbols") from None

    def facts(self) -> dict[str, Any]:
        return {
            "device": str(self.device),
            "model": self.kind.value,
            "vocoder": self.vocoder_name,
            "precision": self.precision_name,
        }

    def voice(self) -> VoiceInfo:
        """Named after its folder, with its model card's first paragraph."""
        folder = self.directory or ASSETS_DIR
        card = folder / "MODEL_CARD.md"
        summary = ""
        if card.is_file():
            paragraphs = [p.strip() for p in card.read_text(encoding="utf-8").split("\n\n")]
            summary = next((p for p in paragraphs if p and not p.startswith("#")), "")[:600]
        if folder != ASSETS_DIR:
            return VoiceInfo(name=folder.name, summary=summary)
        return VoiceInfo(
            name="bundled",
            licence="MIT",
            attribution=BUNDLED_ATTRIBUTION,
            commercial_use=True,
            summary=summary,
        )

    def fields(self) -> tuple[OptionField, ...]:
        """--pitch within what this voice follows; the other scales' general limits."""
        variance = self.config.variance
        as_json = {
            "variance": {
                "pitch_control": variance.pitch_control,
                "pitch_range": variance.pitch_range,
            }
        }
        where = "this voice" if self.directory != ASSETS_DIR else "the bundled voice"
        return scale_fields(pitch_limits_of(as_json), where)

    def options(self, fields: Mapping[str, Any]) -> Controls:
        values = check_fields(self.fields(), fields)
        return Controls(
            pitch=values["pitch"],
            energy=values["energy"],
            duration=values["duration"] / values["speed"],
            sentence_silence=values["sentence_silence"],
            paragraph_silence=values["paragraph_silence"],
        )

    def check_controls(self, controls: Controls) -> None:
        """Controls made in code (not from fields) meet the same limits."""
        self.options(
            {"pitch": controls.pitch, "energy": controls.energy, "duration": controls.duration}
        )

    @torch.inference_mode()
    def synthesize(
        self, utterances: Sequence[Sequence[str]], controls: Controls = DEFAULT_CONTROLS
    ) -> list[Synthesis]:
        """Synthesise a mini-batch of phoneme sequences in one pass on the device."""
        self.check_controls(controls)
        if self._resamples(controls):
            return self._synthesize_resampled(utterances, controls)
        return self._run_model(utterances, controls)

    def synthesize_rows(
        self, utterances: Sequence[Sequence[str]], rows: Sequence[Controls]
    ) -> list[Synthesis]:
        """A mini-batch whose rows have their own scales, in one pass where the voice
        follows pitch through its model (rows that share theirs take the same path as
        ``synthesize``); a voice that resamples for pitch runs each set of scales apart."""
        distinct = list(dict.fromkeys(rows))
        if len(distinct) == 1:
            return self.synthesize(utterances, distinct[0])
        if any(self._resamples(controls) for controls in distinct):
            out: list[Synthesis | None] = [None] * len(rows)
            for controls in distinct:
                chosen = [i for i, row in enumerate(rows) if row == controls]
                made = self.synthesize([utterances[i] for i in chosen], controls)
                for i, synthesis in zip(chosen, made, strict=True):
                    out[i] = synthesis
            return [synthesis for synthesis in out if synthesis is not None]
        for controls in distinct:
            self.check_controls(controls)
        with torch.inference_mode():
            return self._run_model(utterances, DEFAULT_CONTROLS, rows)

    def _run_model(
        self,
        utterances: Sequence[Sequence[str]],
        controls: Controls,
        rows: Sequence[Controls] | None = None,
    ) -> list[Synthesis]:
        """The model and vocoder on controls already checked (or derived from checked ones);
        ``rows``: each utterance's own scales, over ``controls``."""
        acoustic = self.run_acoustic(utterances, controls, rows=rows)
        waves = self.run_vocoder(acoustic)
        hop = self.config.audio.hop_length
        results = []
        for row, phonemes in enumerate(utterances):
            frames = int(acoustic.output.frame_lengths[row])
            results.append(self._synthesis(acoustic, row, phonemes, waves[row, : frames * hop]))
        return results

    def _synthesis(
        self, acoustic: Acoustic, row: int, phonemes: Sequence[str], wave: torch.Tensor
    ) -> Synthesis:
        out, stats = acoustic.output, self.model.variance_adaptor.stats
        frames = int(out.frame_lengths[row])
        pitch = out.pitch[row, :frames].float() * stats.log_f0_std + stats.log_f0_mean
        energy = out.energy[row, :frames].float() * stats.energy_std + stats.energy_mean
        return Synthesis(
            phonemes=tuple(phonemes),
            audio=_samples(wave),
            mel=acoustic.mel[row, :frames].float().cpu().numpy(),
            pitch_hz=torch.exp(pitch).cpu().numpy(),
            energy=energy.clamp(min=0).cpu().numpy(),
            sample_rate=self.sample_rate,
            durations=tuple(out.durations[row, : len(phonemes)].tolist()),
        )

    def run_acoustic(
        self,
        utterances: Sequence[Sequence[str]],
        controls: Controls,
        prosody: Sequence[PhonemeProsody] | None = None,
        rows: Sequence[Controls] | None = None,
    ) -> Acoustic:
        """Stage one: phonemes -> the model's output and what the vocoder will hear.
        ``prosody``: one row's markup (a single utterance); ``rows``: each utterance's own
        scales (as per-row offsets and factors; ``controls`` then holds ones)."""
        ids = [self.phoneme_ids(u) for u in utterances]
        lengths = torch.tensor([len(i) for i in ids], device=self.device)
        width = int(lengths.max())
        if prosody is None:  # markup's per-phoneme tensors are as long as its phonemes
            width = padded_length(width)
        batch = torch.zeros(len(ids), width, dtype=torch.long, device=self.device)
        for row, seq in enumerate(ids):
            batch[row, : len(seq)] = torch.tensor(seq, device=self.device)
        asked = None
        if prosody is not None:
            if len(prosody) != 1 or len(utterances) != 1:
                raise ValueError("markup prosody is given for one utterance at a time")
            asked = prosody[0]
        scales: dict[str, torch.Tensor] = {}
        if rows is not None:
            std = self.model.variance_adaptor.stats.log_f0_std

            def column(values: list[float]) -> torch.Tensor:
                return torch.tensor(values, dtype=torch.float32, device=self.device)

            scales = {
                "pitch_offset": column(
                    [float(torch.log(torch.tensor(r.pitch)) / std) for r in rows]
                ),
                "energy_scale": column([r.energy for r in rows]),
                "duration_scale": column([r.duration for r in rows]),
            }
        return self.vocoder_input(self.model(batch, lengths, controls, prosody=asked, **scales))

    def vocoder_input(self, out: FS2Output) -> Acoustic:
        """The model's output with what the vocoder will hear: F0 in log Hz and, for a mel
        vocoder, the widened mel (Griffin-Lim and FS2s take the mel as predicted)."""
        stats = self.model.variance_adaptor.stats
        log_f0 = out.pitch * stats.log_f0_std + stats.log_f0_mean
        if self.vocoder is None:
            return Acoustic(out, out.mel, log_f0)
        return Acoustic(out, self.widen_mel(out.mel, out.frame_mask), log_f0)

    def run_vocoder(self, acoustic: Acoustic) -> torch.Tensor:
        """Stage two: (batch, samples) waveforms, by the FS2s decoder or the vocoder.

        Each row of a batch is vocoded on its own frames: a generator's convolutions would
        otherwise hear the padding after a shorter row, so a line would sound a little
        different in each mini-batch it happened to land in (and padding is wasted work).
        A long row is vocoded in windows (``WINDOW_FRAMES``), joined seamlessly.
        """
        lengths = [int(n) for n in acoustic.output.frame_lengths]
        split = self._vocodes_in_windows
        if len(set(lengths)) == 1 and (lengths[0] <= WINDOW_FRAMES or not split):
            return self._vocode(acoustic, slice(None), 0, lengths[0])
        hop = self.config.audio.hop_length
        waves = acoustic.mel.new_zeros(len(lengths), max(lengths) * hop)
        for row, frames in enumerate(lengths):
            for start, end in windows(frames, first=None) if split else [(0, frames)]:
                waves[row, start * hop : end * hop] = self._vocode_span(acoustic, row, start, end)
        return waves

    def _vocode_span(self, acoustic: Acoustic, row: int, start: int, end: int) -> torch.Tensor:
        """Row ``row``'s samples for frames ``start:end``, vocoded with ``CONTEXT_FRAMES``
        of its own frames on each side so that the spans join as one pass would."""
        frames = int(acoustic.output.frame_lengths[row])
        left, right = max(0, start - CONTEXT_FRAMES), min(frames, end + CONTEXT_FRAMES)
        hop = self.config.audio.hop_length
        wave = self._vocode(acoustic, slice(row, row + 1), left, right)[0]
        return wave[(start - left) * hop : (end - left) * hop]

    def _vocode(self, acoustic: Acoustic, rows: slice, start: int, end: int) -> torch.Tensor:
        """``rows``' waveforms for frames ``start:end`` on their own frames (what a row or a
        window hears: no other row's padding).

        A convolutional vocoder is handed a few frames more, up to a length from
        ``padded_length``: the row's own next frames where it has them, else its last frame
        held, which at a line's end is the silence it ends in. The extra samples are cut.
        """
        if not self._vocodes_in_windows:
            return self._vocoder_pass(acoustic, rows, start, end)
        stop = start + padded_length(end - start)
        own = int(acoustic.output.frame_lengths[rows].min())
        wave = self._vocoder_pass(acoustic, rows, start, stop, held_from=own)
        return wave[:, : (end - start) * self.config.audio.hop_length]

    def _vocoder_pass(
        self, acoustic: Acoustic, rows: slice, start: int, end: int, held_from: int | None = None
    ) -> torch.Tensor:
        """One vocoder run over frames ``start:end``; frames from ``held_from`` on repeat
        the one before it."""

        def frames(track: torch.Tensor) -> torch.Tensor:
            span = track[rows, start : end if held_from is None else min(end, held_from)]
            missing = end - start - span.shape[1]
            if missing <= 0:
                return span
            held = span[:, -1:].expand(-1, missing, *span.shape[2:])
            return torch.cat([span, held], dim=1)

        log_f0 = None if acoustic.log_f0 is None else frames(acoustic.log_f0)
        start_cycles = None
        if self._generator_has_source and acoustic.log_f0 is not None and start > 0:
            hop, rate = self.config.audio.hop_length, self.config.audio.sample_rate
            start_cycles = cycles_before(acoustic.log_f0[rows], start, hop, rate)
        dtype = self.vocoder_dtype  # F0 stays float32: the harmonic source's phase needs it
        if self.vocoder is None:
            assert self.model.wave_decoder is not None
            hidden = frames(acoustic.output.decoder_hidden).to(dtype)
            if isinstance(self.model.wave_decoder, LatentWaveDecoder):
                return self.model.wave_decoder(hidden, log_f0, start_cycles).float()
            return self.model.wave_decoder(hidden).float()
        mel = frames(acoustic.mel).transpose(1, 2).to(dtype)
        return self.vocoder(mel, log_f0, start_cycles).float()

    def widen_mel(self, mel: torch.Tensor, frame_mask: torch.Tensor) -> torch.Tensor:
        """The mel the vocoder hears: padding silenced and each bin widened by the
        checkpoint's ``mel_variance_scale`` (``widened_mel``)."""
        mel = widened_mel(mel, self.config.mel_variance_scale, frame_mask)
        return mel.masked_fill(frame_mask.unsqueeze(-1), SILENT_LOG_MEL)

    def _synthesize_resampled(
        self, utterances: Sequence[Sequence[str]], controls: Controls
    ) -> list[Synthesis]:
        """``--pitch`` for a ``resample`` voice: speak slower, play faster, keep formants."""
        ratio = controls.pitch
        slowed = replace(controls, pitch=1.0, duration=controls.duration * ratio)
        hop = self.config.audio.hop_length
        results = []
        # Only the user's own scales are range-checked: --duration 6 --pitch 2 is fine.
        for synthesis in self._run_model(utterances, slowed):
            audio = shift_pitch_of_slowed(synthesis.audio, ratio, self.sample_rate)
            frames = max(1, len(audio) // hop)
            results.append(
                replace(
                    synthesis,
                    audio=audio,
                    mel=resample_track(synthesis.mel, frames),
                    pitch_hz=resample_track(synthesis.pitch_hz, frames) * np.float32(ratio),
                    energy=resample_track(synthesis.energy, frames),
                )
            )
        return results

    def stream(
        self,
        text: str | Iterable[str] | Markup | MarkupStream,
        options: Controls | None = None,
    ) -> Iterator[Chunk]:
        """Audio as soon as it exists: a sentence's first window is out after the acoustic
        model and one short stretch of vocoding, the rest of it follows in one piece.

        ``text`` is a string, fragments still arriving (``text.feed.PAUSE`` releases a
        sentence without a period), or ``Markup`` (SSML's spans, whole or a piece at a time).
        Pieces with nothing to say
        are skipped. The first chunk of each sentence carries its text, phonemes, length,
        and the timings of its words and marks.
        """
        controls = options or DEFAULT_CONTROLS
        self.check_controls(controls)
        clock = StreamClock()
        if isinstance(text, (Markup, MarkupStream)):
            for piece in [text] if isinstance(text, Markup) else text:
                ready = time.perf_counter()
                if clock.sentences and _opens_paragraph(piece):
                    clock.paragraph_ended = True
                for utterance in speakable_utterances(piece):
                    yield from self._spoken(utterance, controls, ready, clock)
            return
        fragments = [text] if isinstance(text, str) else text
        for passage, paragraph in paragraphs_as_they_arrive(fragments):
            ready = time.perf_counter()
            for utterance in utterances_one_by_one(passage, paragraph):
                yield from self._spoken(utterance, controls, ready, clock)

    def markup_warnings(self, markup: Markup, options: Controls | None = None) -> list[str]:
        """What this voice cannot do of what ``markup`` asks (it does all but pitch beyond
        its trained range, and span pitch on a voice that resamples for pitch)."""
        controls = options or DEFAULT_CONTROLS
        warnings = list(markup.warnings)
        low, high = self._pitch_limits()
        for span in markup.spans:
            if not isinstance(span, Say) or span.style.pitch == 1.0:
                continue
            if self._pitch_by_resampling:
                warnings.append("this voice moves pitch by resampling the whole sentence: "
                                "<prosody pitch> on part of it is not followed")  # fmt: skip
                break
            asked = controls.pitch * span.style.pitch
            if not low <= asked <= high:
                warnings.append(
                    f"<prosody pitch> asks for x{asked:.2f}, beyond what this voice follows "
                    f"({low:g}-{high:g}): spoken at x{min(max(asked, low), high):.2f}"
                )
        return list(dict.fromkeys(warnings))

    def _pitch_limits(self) -> tuple[float, float]:
        pitch = next(f for f in self.fields() if f.name == "pitch")
        assert pitch.minimum is not None and pitch.maximum is not None
        return pitch.minimum, pitch.maximum

    def _spoken(
        self, utterance: Utterance, controls: Controls, ready: float, clock: StreamClock
    ) -> Iterator[Chunk]:
        """One sentence, after the silence the options put between sentences."""
        if clock.sentences:
            gap = controls.paragraph_silence if clock.paragraph_ended else controls.sentence_silence
            if gap > 0:
                yield self._silence(gap)
                clock.seconds += gap
        for chunk in self._sentence_chunks(utterance, controls, ready, clock.seconds):
            clock.seconds += chunk.seconds
            yield chunk
        if utterance.pause_after > 0:
            yield self._silence(utterance.pause_after)
            clock.seconds += utterance.pause_after
        clock.sentences += 1
        clock.paragraph_ended = utterance.paragraph_end

    def _silence(self, seconds: float) -> Chunk:
        return Chunk(np.zeros(round(seconds * self.sample_rate), np.float32), self.sample_rate)

    @torch.inference_mode()
    def _sentence_chunks(
        self, utterance: Utterance, controls: Controls, ready: float, offset: float
    ) -> Iterator[Chunk]:
        phonemes, text = utterance.phonemes, utterance.text
        prosody = self._phoneme_prosody(utterance, controls)
        whole_signal = not self._vocodes_in_windows or self._resamples(controls)
        if whole_signal and prosody is None and not utterance.pauses:
            synthesis = self.synthesize([phonemes], controls)[0]
            chunk = self._chunk(synthesis, text, ready)
            speed = controls.pitch if self._resamples(controls) else 1.0
            timing = word_timing(
                utterance, synthesis.durations, offset, self.frame_seconds / speed, self._lead
            )
            yield replace(chunk, words=timing.words, marks=timing.marks, stream_seconds=offset)
            return
        if whole_signal:
            yield from self._whole_marked_up(utterance, controls, prosody, ready, offset)
            return
        acoustic = self.run_acoustic([phonemes], controls, prosody and [prosody])
        frames = int(acoustic.output.frame_lengths[0])
        hop = self.config.audio.hop_length
        durations = acoustic.output.durations[0, : len(phonemes)].tolist()
        head = self._prosody(self._synthesis(acoustic, 0, phonemes, acoustic.mel.new_zeros(0)))
        timing = word_timing(utterance, durations, offset, self.frame_seconds, self._lead)
        gain = frame_gain(utterance, durations, frames)
        starts = phoneme_starts(durations)
        pause_at: dict[int, float] = {}
        for index, seconds in utterance.pauses:
            frame = starts[min(index, len(durations))]
            pause_at[frame] = pause_at.get(frame, 0.0) + seconds
        inner = sorted(frame for frame in pause_at if 0 < frame < frames)
        sentence = frames * hop / self.sample_rate + sum(pause_at.values())
        pieces: list[Chunk] = []
        if 0 in pause_at:
            pieces.append(self._silence(pause_at[0]))
        for start, end in cut_at(windows(frames, first=FIRST_WINDOW_FRAMES), inner):
            audio = gained(_samples(self._vocode_span(acoustic, 0, start, end)), gain, start, hop)
            audio = faded(audio, self.sample_rate, fade_in=start in inner, fade_out=end in inner)
            pieces.append(Chunk(audio, self.sample_rate))
            if end in inner:
                pieces.append(self._silence(pause_at[end]))
        if frames in pause_at:
            pieces.append(self._silence(pause_at[frames]))
        for n, piece in enumerate(pieces):
            yield self._head(piece, n == 0, utterance, sentence, ready, head, timing, offset)

    def _head(
        self,
        chunk: Chunk,
        first: bool,
        utterance: Utterance,
        seconds: float,
        ready: float,
        prosody: Prosody,
        timing: Timing,
        offset: float,
    ) -> Chunk:
        """The first chunk of a sentence carries what is known of the whole sentence."""
        if not first:
            return replace(chunk, text_ready_at=ready)
        return replace(
            chunk,
            text=utterance.text,
            phonemes=tuple(utterance.phonemes),
            sentence_seconds=seconds,
            text_ready_at=ready,
            prosody=prosody,
            words=timing.words,
            marks=timing.marks,
            stream_seconds=offset,
        )

    def _whole_marked_up(
        self,
        utterance: Utterance,
        controls: Controls,
        prosody: PhonemeProsody | None,
        ready: float,
        offset: float,
    ) -> Iterator[Chunk]:
        """Markup on a vocoder that needs the whole signal: one chunk for the sentence,
        pauses cut in where they belong."""
        acoustic = self.run_acoustic([utterance.phonemes], controls, prosody and [prosody])
        frames = int(acoustic.output.frame_lengths[0])
        hop = self.config.audio.hop_length
        wave = _samples(self.run_vocoder(acoustic)[0, : frames * hop])
        durations = acoustic.output.durations[0, : len(utterance.phonemes)].tolist()
        wave = gained(wave, frame_gain(utterance, durations, frames), 0, hop)
        starts = phoneme_starts(durations)
        pieces, done = [], 0
        for index, seconds in utterance.pauses:
            at = starts[index] * hop
            pieces += [wave[done:at], np.zeros(round(seconds * self.sample_rate), np.float32)]
            done = at
        audio = np.concatenate([*pieces, wave[done:]])
        synthesis = self._synthesis(acoustic, 0, utterance.phonemes, acoustic.mel.new_zeros(0))
        timing = word_timing(utterance, durations, offset, self.frame_seconds, self._lead)
        yield Chunk(
            audio, self.sample_rate, text=utterance.text, phonemes=tuple(utterance.phonemes),
            sentence_seconds=len(audio) / self.sample_rate, text_ready_at=ready,
            prosody=self._prosody(synthesis), words=timing.words, marks=timing.marks,
            stream_seconds=offset,
        )  # fmt: skip

    def _phoneme_prosody(self, utterance: Utterance, controls: Controls) -> PhonemeProsody | None:
        return phoneme_prosody(
            utterance,
            controls.pitch,
            self._pitch_limits(),
            not self._pitch_by_resampling,
            self.device,
        )

    @property
    def _vocodes_in_windows(self) -> bool:
        """Convolutional generators reach a few frames; Griffin-Lim needs the whole signal."""
        return isinstance(self.vocoder, NeuralVocoder) or self.vocoder is None

    @property
    def _lead(self) -> float:
        return self.config.word_lead_frames

    def _resamples(self, controls: Controls) -> bool:
        return self._pitch_by_resampling and controls.pitch != 1.0

    def prepare_line(
        self, text: str | Markup | Dialogue, options: Controls | None = None
    ) -> PreparedLine:
        """The whole line as one phoneme sequence (sentence ends kept as pauses); a line
        that is an SSML document (or markup) keeps its markup."""
        if isinstance(text, Dialogue):
            raise UserError("turns are a dialogue: ttscli speak reads them (fs2 has one voice)")
        said = text if isinstance(text, str) else text.text
        if isinstance(text, Markup) or looks_like_ssml(text):
            markup = text if isinstance(text, Markup) else parse_ssml(text)
            phonemes = [p for u in text_to_utterances(markup) for p in u.phonemes]
            return PreparedLine(said, markup, " ".join(phonemes), len(phonemes), options)
        utterance = line_utterance(text)
        phonemes = utterance.phonemes
        return PreparedLine(text, utterance, " ".join(phonemes), len(phonemes), options)

    def synthesize_batch(
        self, lines: Sequence[PreparedLine], options: Controls | None = None
    ) -> list[Chunk]:
        """Plain lines in one pass; SSML lines (their pauses, spans and gains) each through
        ``stream``, whose audio is the same as a single run's. Each chunk carries its
        line's word timings (and marks)."""
        rows = [line.options or options or DEFAULT_CONTROLS for line in lines]
        chunks: list[Chunk | None] = [None] * len(lines)
        plain = [i for i, line in enumerate(lines) if isinstance(line.payload, Utterance)]
        if plain:
            utterances: list[Utterance] = [lines[i].payload for i in plain]  # type: ignore[misc]
            syntheses = self.synthesize_rows(
                [u.phonemes for u in utterances], [rows[i] for i in plain]
            )
            for i, utterance, synthesis in zip(plain, utterances, syntheses, strict=True):
                speed = rows[i].pitch if self._resamples(rows[i]) else 1.0
                frame = self.frame_seconds / speed
                timing = word_timing(utterance, synthesis.durations, 0.0, frame, self._lead)
                chunks[i] = replace(self._chunk(synthesis, lines[i].text, None), words=timing.words)
        for i, line in enumerate(lines):
            if isinstance(line.payload, Markup):
                parts = list(self.stream(line.payload, rows[i]))
                audio = [c.audio for c in parts]
                joined = np.concatenate(audio) if audio else np.zeros(0, np.float32)
                chunks[i] = Chunk(joined, self.sample_rate, text=line.text,
                                  sentence_seconds=len(joined) / self.sample_rate,
                                  words=tuple(w for c in parts for w in c.words),
                                  marks=tuple(m for c in parts for m in c.marks))  # fmt: skip
        return [chunk for chunk in chunks if chunk is not None]

    def _chunk(self, synthesis: Synthesis, text: str, ready: float | None) -> Chunk:
        return Chunk(
            audio=synthesis.audio,
            sample_rate=self.sample_rate,
            text=text,
            phonemes=synthesis.phonemes,
            sentence_seconds=synthesis.seconds,
            text_ready_at=ready,
            prosody=self._prosody(synthesis),
        )

    def _prosody(self, synthesis: Synthesis) -> Prosody:
        return Prosody(synthesis.mel, synthesis.pitch_hz, synthesis.energy, self.frame_seconds)


def _opens_paragraph(piece: Markup) -> bool:
    """Whether a piece of markup ends a paragraph before it says anything (the ``</p>``
    or ``<p>`` of markup that arrives a piece at a time)."""
    for span in piece.spans:
        if isinstance(span, Boundary):
            if span.paragraph:
                return True
        elif not isinstance(span, Mark):
            return False
    return False


def widened_mel(
    mel: torch.Tensor, scale: Sequence[float] | None, frame_mask: torch.Tensor | None = None
) -> torch.Tensor:
    """(batch, frames, bins) mel with each bin widened by ``scale`` around its utterance
    mean (over the frames ``frame_mask`` does not mark as padding), because a model trained
    with an L1 loss predicts flatter mels than speech has. No scale: the mel unchanged."""
    if not scale:
        return mel
    factor = torch.tensor(scale, dtype=mel.dtype, device=mel.device)
    mean = mel.mean(dim=1, keepdim=True) if frame_mask is None else frame_mean(mel, frame_mask)
    return mean + factor * (mel - mean)


def windows(frames: int, first: int | None) -> list[tuple[int, int]]:
    """(start, end) frame spans covering ``frames``: a short ``first`` one when the
    sentence is long enough for it to help (so audio starts early), then spans of at most
    ``WINDOW_FRAMES``, the last never a sliver."""
    spans, start = [], 0
    if first is not None and frames >= 2 * first:
        spans.append((0, first))
        start = first
    while start < frames:
        end = frames if frames - start <= WINDOW_FRAMES * 5 // 4 else start + WINDOW_FRAMES
        spans.append((start, end))
        start = end
    return spans


def _samples(wave: torch.Tensor) -> np.ndarray:
    """float32 samples in [-1, 1], on the CPU."""
    return np.ascontiguousarray(wave.float().clamp(-1, 1).cpu().numpy(), dtype=np.float32)
