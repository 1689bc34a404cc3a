"""One stepped run of Kyutai's LM over a batch of utterances: the state machine that lets
text arrive between steps, which the engine (one stream) and the slots (many) both drive."""

from __future__ import annotations

import math
import time
from bisect import bisect_right
from contextlib import ExitStack
from typing import TYPE_CHECKING

import numpy as np

from ttscli.engines.base import Word
from ttscli.text.markup import PLAIN, Style

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from ttscli.kyutai.options import FeedItem, KyutaiOptions

if TYPE_CHECKING:
    import torch

    from ttscli.kyutai.engine import KyutaiEngine

# Kyutai drops the first two decoded codec frames (a click at the start); so do we.
_SKIP_FIRST_FRAMES = 2
# How much a span's padding bonus moves per halving of its ``<prosody rate>``. Kyutai's
# bonus adds to the logit of the pad token, so the odds of waiting one more step before the
# next word scale by exp(bonus). Untested on the real weights (they cannot be downloaded
# where this was built): the mapping is monotonic and bounded, not calibrated.
BONUS_PER_HALVING = 2.0
MAX_RATE_BONUS = 6.0
# Gain changes between words are ramped over this long, so a louder span starts without a click.
GAIN_RAMP_SECONDS = 0.01


def rate_bonus(rate: float) -> float:
    """The padding bonus that slows a span to ``rate`` (below 1) or hurries it (above 1)."""
    bonus = BONUS_PER_HALVING * math.log2(1.0 / rate)
    return max(-MAX_RATE_BONUS, min(MAX_RATE_BONUS, bonus))


class Generation:
    """One run of the LM over ``batch_size`` utterances, stepped by the caller.

    Mirrors ``TTSModel.generate`` (same hooks, same skipped depformer during the audio delay,
    same trimming) but lets text be added between steps.  Use as a context manager; the model
    is in streaming mode inside it, so only one Generation per engine may be open at a time.
    """

    def __init__(
        self,
        engine: KyutaiEngine,
        batch_size: int,
        keep_frames: bool = False,
        out_of_sync: bool = False,
        rows: Sequence[KyutaiOptions] | None = None,
    ) -> None:
        """``rows``: each item's options (its voices, pacing and CFG); they share the
        sampling temperature, the first row's (``KyutaiEngine.batch_key`` groups rows so)."""
        import torch
        from moshi.conditioners import dropout_all_conditions
        from moshi.models.lm import LMGen

        from ttscli.kyutai.options import KyutaiOptions

        self.engine = engine
        tts = engine.model
        self.tts = tts
        self.batch_size = batch_size
        self.rows = list(rows) if rows is not None else [KyutaiOptions()] * batch_size
        self.states = [tts.machine.new_state([]) for _ in range(batch_size)]
        self.input_closed = [False] * batch_size
        self.last_speaker: list[int | None] = [None] * batch_size
        """The speaker whose token each item's text stream last carried (None: no word
        has been fed to it yet)."""
        self.word_speaker: list[list[int | None]] = [[] for _ in range(batch_size)]
        """In a dialogue, who says each word fed to each item."""
        self.entry_bonus: list[list[float]] = [[] for _ in range(batch_size)]
        """The padding bonus of each entry fed to each item, from its span's rate."""
        self.word_gain_db: list[list[float]] = [[] for _ in range(batch_size)]
        """The gain of each word fed to each item (in transcript order), from its volume."""
        self.marks: list[list[tuple[int, str]]] = [[] for _ in range(batch_size)]
        """SSML marks of each item: (how many words come before it, its name)."""
        self.last_gain_db = [0.0] * batch_size
        """The gain of each item's last frame (``gained`` ramps from it)."""
        self.offset = 0  # LM steps taken
        self.frames = 0  # frames returned by the LM (it returns none for the first max_delay)
        self.t_first_text: float | None = None
        self.kept_frames: list[torch.Tensor] | None = [] if keep_frames else None
        """With ``keep_frames``: every token frame ``[B, 1 + Q, 1]`` the LM returned, as
        ``TTSModel.generate`` returns them (what the golden test compares)."""
        self._stack = ExitStack()

        attributes = [engine.condition_attributes(row) for row in self.rows]
        cfg_coef = engine.real_cfg(self.rows[0])
        if cfg_coef != 1.0:
            attributes += dropout_all_conditions(attributes)
        assert tts.lm.condition_provider is not None
        with torch.no_grad():
            conditions = tts.lm.condition_provider.prepare_and_provide(attributes)
        tts.lm.dep_q = tts.n_q
        temp = tts.temp if self.rows[0].temp is None else self.rows[0].temp
        self.lm_gen = LMGen(
            tts.lm,
            temp=temp,
            temp_text=temp,
            cfg_coef=cfg_coef,
            condition_tensors=conditions,
            on_text_logits_hook=self._on_text_logits,
            on_text_hook=self._on_text,
            on_audio_hook=self._on_audio,
            cfg_is_masked_until=None,
            cfg_is_no_text=True,
            support_out_of_sync=out_of_sync,
        )
        zero = tts.machine.token_ids.zero
        device = tts.lm.device
        missing = tts.lm.n_q - tts.lm.dep_q
        self._input = torch.full((batch_size, missing, 1), zero, dtype=torch.long, device=device)
        self._silent = torch.full(
            (batch_size, tts.lm.dep_q, 1), zero, dtype=torch.long, device=device
        )

    # -- hooks called by LMGen inside a step ------------------------------------------------
    def _on_text_logits(self, logits: torch.Tensor) -> None:
        pad = self.tts.machine.token_ids.pad
        for index in range(self.batch_size):
            bonus = self.tts.padding_bonus + self.rows[index].padding_bonus
            bonus += self.current_bonus(index)
            if bonus:
                logits[index, ..., pad] += bonus

    def current_bonus(self, index: int) -> float:
        """The span bonus of the entry item ``index`` last started: it decides whether
        that word lasts another step."""
        started = len(self.states[index].consumption_times)
        bonuses = self.entry_bonus[index]
        return bonuses[started - 1] if 0 < started <= len(bonuses) else 0.0

    def _on_text(self, tokens: torch.Tensor) -> None:
        import torch

        out = [
            self.tts.machine.process(self.offset, state, token)[0]
            for state, token in zip(self.states, tokens.tolist(), strict=True)
        ]
        tokens[:] = torch.tensor(out, dtype=torch.long, device=tokens.device)

    def _on_audio(self, audio: torch.Tensor) -> None:
        # Before the audio delay has elapsed, codebooks are forced to "no token", as in generate.
        lm = self.tts.lm
        for q in range(audio.shape[1]):
            if self.offset < lm.delays[q + lm.audio_offset] + self.tts.delay_steps:
                audio[:, q] = self.tts.machine.token_ids.zero

    # -- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> Generation:
        self._stack.enter_context(self.lm_gen.streaming(self.batch_size))
        self._stack.enter_context(self.tts.mimi.streaming(self.batch_size))
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    # -- text in ----------------------------------------------------------------------------
    def feed(self, index: int, text: str, style: Style = PLAIN, speaker: int | None = None) -> int:
        """Queue ``text`` (whole words, respelled by the engine's lexicon) for item
        ``index``, spoken at ``style``'s rate and volume, by ``speaker`` in a dialogue;
        returns how many entries (words and breaks) it added."""
        from moshi.models.tts import script_to_entries

        tts = self.tts
        turn = speaker or 1
        # A speaker token opens the first word of a turn whose speaker differs from the
        # last one's, as ``prepare_script`` puts it before each turn: moshi picks the token
        # by the turn's place in its list, so an empty turn stands before the other's.
        changes = tts.multi_speaker and self.last_speaker[index] != turn
        entries = script_to_entries(
            tts.tokenizer,
            tts.machine.token_ids,
            tts.mimi.frame_rate,
            [""] * (turn - 1) + [self.engine.respelled(text)],
            multi_speaker=changes,
            padding_between=self.rows[index].padding_between,
        )
        if any(entry.tokens for entry in entries):
            self.last_speaker[index] = turn
            if self.t_first_text is None:
                self.t_first_text = time.perf_counter()
        bonus = rate_bonus(style.rate) if style.rate != 1.0 else 0.0
        self.entry_bonus[index].extend(bonus for _ in entries)
        self.word_gain_db[index].extend(style.volume_db for entry in entries if entry.tokens)
        self.word_speaker[index].extend(speaker for entry in entries if entry.tokens)
        self.states[index].entries.extend(entries)
        return len(entries)

    def feed_items(self, index: int, items: Iterable[FeedItem]) -> None:
        """A script's items (``kyutai.options.ScriptWriter``) for item ``index``."""
        for item in items:
            if item.mark is not None:
                self.mark(index, item.mark)
            elif item.text.strip():
                self.feed(index, item.text, item.style, item.speaker)

    def mark(self, index: int, name: str) -> None:
        """An SSML mark at this point of item ``index``'s text: reported at the start of
        the next word (at the end of speech if none follows)."""
        self.marks[index].append((len(self.word_gain_db[index]), name))

    def gain_db(self, index: int, frame: int) -> float:
        """The gain of output frame ``frame`` of item ``index``: that of the word spoken then
        (the pause after a word is the word's)."""
        transcript = self.states[index].transcript
        word = bisect_right(transcript, frame, key=lambda entry: entry[1]) - 1
        gains = self.word_gain_db[index]
        return gains[word] if 0 <= word < len(gains) else 0.0

    def gained(self, index: int, frame: int, audio: np.ndarray) -> np.ndarray:
        """``audio`` (frame ``frame`` of item ``index``, frames taken in order) at its word's
        gain, ramped from the previous frame's. Unchanged when neither has any."""
        db = self.gain_db(index, frame)
        before_db, self.last_gain_db[index] = self.last_gain_db[index], db
        if db == 0.0 and before_db == 0.0:
            return audio
        target = 10 ** (db / 20)
        gain = np.full(len(audio), target, dtype=np.float32)
        if db != before_db:
            ramp = min(len(audio), round(GAIN_RAMP_SECONDS * self.engine.sample_rate))
            gain[:ramp] = np.linspace(10 ** (before_db / 20), target, ramp, dtype=np.float32)
        return np.clip(audio * gain, -1.0, 1.0)

    def close_input(self, index: int) -> None:
        self.input_closed[index] = True

    def has_text(self, index: int) -> bool:
        return self.last_speaker[index] is not None

    def can_step(self) -> bool:
        """True when every open item holds more words than the look-ahead stream consumes.

        Stepping with fewer would let the model run out of words and end the utterance, or
        speak a word without the look-ahead it was trained with.
        """
        return all(self.holds_words(index) for index in range(self.batch_size))

    def holds_words(self, index: int) -> bool:
        """Item ``index`` may step: its input is closed, or it holds more words than the
        look-ahead stream consumes."""
        ahead = self.tts.machine.second_stream_ahead
        return self.input_closed[index] or len(self.states[index].entries) > ahead

    # -- audio out --------------------------------------------------------------------------
    def done(self) -> bool:
        if self.offset >= self.tts.max_gen_length:
            return True
        ends = [state.end_step for state in self.states]
        if any(end is None for end in ends):
            return False
        last = max(end for end in ends if end is not None)
        return self.offset >= last + self.tts.delay_steps + self.tts.final_padding

    @property
    def last_index(self) -> int:
        """Output frame index of the audio returned by the latest ``step`` (trimming unit)."""
        return self.frames - 1 - self.tts.delay_steps - _SKIP_FIRST_FRAMES

    def keeps(self, index: int, frame_index: int) -> bool:
        """Whether output frame ``frame_index`` of item ``index`` is before its end of speech."""
        end = self.states[index].end_step
        return end is None or frame_index < end

    def step(self) -> np.ndarray | None:
        """Advance one 80 ms frame; returns [batch, samples] float32 audio once it flows."""
        import torch

        replace = self._silent if self.offset < self.tts.delay_steps else None
        with self.engine.compile_guard(), torch.no_grad():
            frame = self.lm_gen.step(self._input, depformer_replace_tokens=replace)
            self.offset += 1
            if frame is None:
                return None
            if self.kept_frames is not None:
                self.kept_frames.append(frame.clone())
            self.frames += 1
            if self.frames <= self.tts.delay_steps:
                return None
            pcm = self.tts.mimi.decode(frame[:, 1:, :])
        if self.last_index < 0:
            return None
        audio = np.clip(pcm[:, 0].float().cpu().numpy(), -1.0, 1.0)
        return audio

    def word_timings(
        self, index: int, n_frames: int, first: int = 0, last: int | None = None
    ) -> list[Word]:
        """Words ``first:last`` with their start and end in seconds of the returned audio,
        from the machine's transcript (a stream asks for the few it has not sent yet).

        Kyutai's convention: a word consumed at step s starts at s / frame_rate; it ends where
        the next word starts (the last one at the end of speech).
        """
        rate = self.tts.mimi.frame_rate
        state = self.states[index]
        total = n_frames / rate
        transcript = state.transcript
        end_step = state.end_step if state.end_step is not None else n_frames
        last = len(transcript) if last is None else last

        def start(i: int) -> float:
            return min((transcript[i][1] if i < len(transcript) else end_step) / rate, total)

        speakers = self.word_speaker[index]
        return [
            Word(
                transcript[i][0],
                start(i),
                start(i + 1),
                speakers[i] if i < len(speakers) else None,
            )
            for i in range(first, last)
        ]

    def mark_times(self, index: int, n_frames: int, words: int | None) -> list[Word]:
        """The marks before word ``words`` (all of them when None: the speech has ended),
        each at the start of the word after it, taken off the list."""
        rate = self.tts.mimi.frame_rate
        state = self.states[index]
        transcript = state.transcript
        end_step = state.end_step if state.end_step is not None else n_frames
        due = 0
        for at, _ in self.marks[index]:
            if words is not None and (at > words or at >= len(transcript)):
                break
            due += 1
        out = []
        for at, name in self.marks[index][:due]:
            step = transcript[at][1] if at < len(transcript) else end_step
            seconds = min(step / rate, n_frames / rate)
            out.append(Word(name, seconds, seconds))
        del self.marks[index][:due]
        return out

    def final_words(self, index: int, n_frames: int, emitted: int) -> list[Word]:
        """Words after the first ``emitted`` whose timing can no longer change: the next
        word has started, inside the audio returned so far."""
        transcript = self.states[index].transcript
        done = emitted
        while done + 1 < len(transcript) and transcript[done + 1][1] <= n_frames:
            done += 1
        return self.word_timings(index, n_frames, emitted, done)
