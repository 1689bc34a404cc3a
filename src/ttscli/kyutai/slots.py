"""Many Kyutai streams stepped together in one batched model loop, each in its own slot.

A server gets requests at any moment; running them one after another makes the second wait
for the whole of the first. As Kyutai's own server does, a fixed batch of slots is kept
streaming: a new stream takes a free slot (only that row of the model's state is reset),
each step advances every slot that holds enough look-ahead words, and a slot still waiting
for words skips the step (moshi's ``exec_mask`` leaves its state as it was). Each slot
counts its own steps, so the delays, the state machine, the trimming and the word timings
are those of a stream running alone.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ttscli.engines.base import Word
from ttscli.kyutai.generation import _SKIP_FIRST_FRAMES, Generation
from ttscli.kyutai.options import KyutaiOptions, ScriptWriter
from ttscli.text.markup import PLAIN, Markup, Style

if TYPE_CHECKING:
    import torch

    from ttscli.kyutai.engine import KyutaiEngine


class SlotGeneration(Generation):
    """``slots`` streams that start and end independently; stepped by the caller."""

    def __init__(self, engine: KyutaiEngine, slots: int) -> None:
        super().__init__(engine, slots, out_of_sync=True)
        self.occupied = [False] * slots
        self.offsets = [0] * slots  # model steps each slot has taken
        self.returned = [0] * slots  # frames the model has returned for each slot
        self.produced = [0] * slots  # audio frames handed out
        self.emitted = [0] * slots  # words handed out
        self.first_text_at: list[float | None] = [None] * slots
        self._executing = [False] * slots
        self._writers: list[ScriptWriter | None] = [None] * slots
        self._conditioned: list[KyutaiOptions] = list(self.rows)
        """The options whose voices and CFG each slot's rows of the model's state hold."""

    # -- slots ------------------------------------------------------------------------------
    def open(self) -> int | None:
        """A free slot, reset to the start of a new stream; None when all are taken."""
        for slot, used in enumerate(self.occupied):
            if not used:
                self._reset(slot)
                self.occupied[slot] = True
                return slot
        return None

    def release(self, slot: int) -> None:
        self.occupied[slot] = False

    def _reset(self, slot: int) -> None:
        import torch

        mask = torch.zeros(self.batch_size, dtype=torch.bool, device=self.tts.lm.device)
        mask[slot] = True
        self.lm_gen.reset_streaming(mask)
        self.tts.mimi.reset_streaming(mask)
        self.states[slot] = self.tts.machine.new_state([])
        self.entry_bonus[slot], self.word_gain_db[slot], self.marks[slot] = [], [], []
        self.word_speaker[slot] = []
        self.last_speaker[slot] = None
        self._writers[slot] = None
        self.rows[slot] = KyutaiOptions()
        self.last_gain_db[slot] = 0.0
        self.input_closed[slot] = False
        self.offsets[slot] = self.returned[slot] = self.produced[slot] = self.emitted[slot] = 0
        self.first_text_at[slot] = None

    # -- text in ----------------------------------------------------------------------------
    def feed(self, index: int, text: str, style: Style = PLAIN, speaker: int | None = None) -> int:
        added = super().feed(index, text, style, speaker)
        if self.first_text_at[index] is None and self.has_text(index):
            self.first_text_at[index] = time.perf_counter()
        return added

    def feed_text(self, slot: int, text: str, options: KyutaiOptions | None = None) -> None:
        """Whole words of a request's plain text, with its silences as breaks; in a
        dialogue, its turns (``[S1]``/``[S2]`` labels or one a line) as they arrive."""
        self.feed_items(slot, self._writer(slot, options).text(text))

    def close_input(self, index: int) -> None:
        writer = self._writers[index]
        if writer is not None:
            self.feed_items(index, writer.close())  # a dialogue's last, held piece
        super().close_input(index)

    def feed_markup(self, slot: int, markup: Markup, options: KyutaiOptions | None = None) -> None:
        """A piece of a request's markup, as ``KyutaiEngine.stream`` reads it."""
        self.feed_items(slot, self._writer(slot, options).items(markup))

    def _writer(self, slot: int, options: KyutaiOptions | None) -> ScriptWriter:
        """The slot's script writer, which carries its silences from piece to piece."""
        writer = self._writers[slot]
        if writer is None:
            options = options or KyutaiOptions()
            self._condition(slot, options)
            writer = self._writers[slot] = ScriptWriter(options)
        return writer

    def _condition(self, slot: int, options: KyutaiOptions) -> None:
        """Give the slot its request's voices and CFG (its rows of the model's condition
        tensors, and the voice keys every cross-attention layer caches) before its first
        step. Sampling is the batch's: a request that asks for another is refused."""
        self.engine.check_slot_options(options)
        self.rows[slot] = options
        before = self._conditioned[slot]
        if (before.voices, before.cfg_coef) == (options.voices, options.cfg_coef):
            return
        self._conditioned[slot] = options
        self._set_condition_rows(slot, options)

    def _set_condition_rows(self, slot: int, options: KyutaiOptions) -> None:
        import torch
        from moshi.conditioners import dropout_all_conditions
        from moshi.modules.transformer import StreamingMultiheadAttention

        lm = self.tts.lm
        attributes = [self.engine.condition_attributes(options)]
        rows = [slot]
        if self.lm_gen.cfg_coef != 1.0:
            attributes += dropout_all_conditions(attributes)
            rows.append(slot + self.batch_size)
        assert lm.condition_provider is not None and lm.fuser is not None
        state = self.lm_gen._streaming_state
        assert state is not None
        with torch.no_grad():
            conditions = lm.condition_provider.prepare_and_provide(attributes)
            added = lm.fuser.get_sum(conditions)
            cross = lm.fuser.get_cross(conditions)
            if added is not None and state.condition_sum is not None:
                state.condition_sum[rows] = added.to(state.condition_sum)
            if cross is not None and state.condition_cross is not None:
                state.condition_cross[rows] = cross.to(state.condition_cross)
                for module in lm.modules():
                    if (
                        isinstance(module, StreamingMultiheadAttention)
                        and module.cross_attention
                        and module._streaming_state is not None
                    ):
                        module.update_streaming_cross_attention_src(state.condition_cross)

    def runnable(self, slot: int) -> bool:
        """Open, not finished, and holding the words its next step needs."""
        return self.occupied[slot] and not self.slot_done(slot) and self.holds_words(slot)

    def slot_done(self, slot: int) -> bool:
        if self.offsets[slot] >= self.tts.max_gen_length:
            return True
        end = self.states[slot].end_step
        return end is not None and self.offsets[slot] >= end + self.tts.delay_steps + (
            self.tts.final_padding
        )

    # -- hooks called by LMGen inside a step ------------------------------------------------
    def _on_text(self, tokens: torch.Tensor) -> None:
        import torch

        values = tokens.tolist()
        machine = self.tts.machine
        for slot, executing in enumerate(self._executing):
            if executing:
                state = self.states[slot]
                values[slot] = machine.process(self.offsets[slot], state, values[slot])[0]
        tokens[:] = torch.tensor(values, dtype=torch.long, device=tokens.device)

    def _on_audio(self, audio: torch.Tensor) -> None:
        lm = self.tts.lm
        zero = self.tts.machine.token_ids.zero
        for slot, executing in enumerate(self._executing):
            if not executing:
                continue
            for q in range(audio.shape[1]):
                if self.offsets[slot] < lm.delays[q + lm.audio_offset] + self.tts.delay_steps:
                    audio[slot, q] = zero

    # -- audio out --------------------------------------------------------------------------
    def step_slots(self, slots: Sequence[int]) -> dict[int, np.ndarray]:
        """One 80 ms step for ``slots`` (the others keep their state); the audio frame of
        each slot that has one, trimmed at its end of speech."""
        import torch

        chosen = set(slots)
        self._executing = [slot in chosen for slot in range(self.batch_size)]
        device = self.tts.lm.device
        mask = torch.tensor(self._executing, dtype=torch.bool, device=device)
        with self.engine.compile_guard(), torch.no_grad():
            self.lm_gen.set_exec_mask(mask)
            frame = self.lm_gen.step(self._input)
            for slot in chosen:
                self.offsets[slot] += 1
            # moshi returns a slot's first frame once it has taken more steps than the delay
            has_frame = [s for s in sorted(chosen) if self.offsets[s] > self.lm_gen.max_delay]
            for slot in has_frame:
                self.returned[slot] += 1
            decoding = [s for s in has_frame if self.returned[s] > self.tts.delay_steps]
            if not decoding or frame is None:
                return {}
            decode_mask = torch.zeros_like(mask)
            decode_mask[decoding] = True
            tokens = frame[:, 1:, :].clone()
            tokens[~decode_mask] = 0  # any valid code: masked rows leave Mimi's state alone
            self.tts.mimi.set_exec_mask(decode_mask)
            pcm = self.tts.mimi.decode(tokens)
        audio = np.clip(pcm[:, 0].float().cpu().numpy(), -1.0, 1.0)
        out = {}
        for slot in decoding:
            index = self.returned[slot] - 1 - self.tts.delay_steps - _SKIP_FIRST_FRAMES
            if index >= 0 and self.keeps(slot, index):
                out[slot] = self.gained(slot, self.produced[slot], audio[slot])
                self.produced[slot] += 1
        return out

    def new_words(self, slot: int) -> list[Word]:
        """Words of ``slot`` whose timing became final with the audio handed out so far."""
        words = self.final_words(slot, self.produced[slot], self.emitted[slot])
        self.emitted[slot] += len(words)
        return words

    def new_marks(self, slot: int, final: bool = False) -> list[Word]:
        """Marks of ``slot`` before the words handed out so far (all of them when final)."""
        return self.mark_times(slot, self.produced[slot], None if final else self.emitted[slot])

    def last_words(self, slot: int) -> list[Word]:
        """The words still open when the slot's speech ended."""
        words = self.word_timings(slot, self.produced[slot], self.emitted[slot])
        self.emitted[slot] += len(words)
        return words
