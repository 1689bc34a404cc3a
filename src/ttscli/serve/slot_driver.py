"""The engine thread for an engine that steps many streams together (Kyutai): every active
request in one batched model loop.

Each request takes a slot of the engine's ``StreamSlots`` (``--max-streams`` of them). A step
advances every slot that holds enough look-ahead words and whose client has read its last
chunks; the others skip that step with their state untouched, so a request whose words
come slowly, or whose client reads slowly, costs the others nothing but its row of the
batch. Words are taken from the requests without ever blocking the loop.
"""

from __future__ import annotations

import queue
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ttscli.engines.base import Chunk, StepsManyStreams, StreamSlots, Word
from ttscli.serve.scheduler import DONE, Job, failure_of
from ttscli.text.feed import WordFeed
from ttscli.text.markup import Markup

if TYPE_CHECKING:
    from ttscli.serve.scheduler import Scheduler

IDLE_WAIT = 0.05
"""Seconds the loop sleeps when no slot can step (new words or reads wake it sooner)."""


@dataclass
class _Stream:
    slot: int
    feed: WordFeed = field(default_factory=WordFeed)


class SlotDriver:
    """Runs a Scheduler's jobs as slots of one batched generation."""

    def __init__(self, engine: StepsManyStreams, slots: int, sample_rate: int) -> None:
        self.engine = engine
        self.slots = slots
        self.sample_rate = sample_rate

    def __call__(self, scheduler: Scheduler) -> None:
        with self.engine.open_slots(self.slots) as gen:
            streams: dict[Job, _Stream] = {}
            while True:
                with scheduler.cond:
                    if scheduler.stopping:
                        return
                    jobs = list(scheduler.active)
                    if not jobs:
                        scheduler.cond.wait(timeout=1.0)
                        continue
                self._admit(gen, jobs, streams)
                for job, stream in list(streams.items()):
                    if job.cancelled:
                        self._end(scheduler, gen, streams, job, None)
                    else:
                        self._take_text(gen, job, stream)
                        if gen.input_closed[stream.slot] and not gen.has_text(stream.slot):
                            self._end(scheduler, gen, streams, job, DONE)  # nothing to say
                run = [
                    stream.slot
                    for job, stream in streams.items()
                    if job.pending < job.buffer and gen.runnable(stream.slot)
                ]
                if not run:
                    with scheduler.cond:
                        scheduler.cond.wait(timeout=IDLE_WAIT)
                    continue
                try:
                    audio = gen.step_slots(run)
                except Exception as exc:  # an engine failure must not take the server down
                    failed = failure_of(exc)
                    for job in list(streams):
                        self._end(scheduler, gen, streams, job, failed)
                    continue
                for job, stream in list(streams.items()):
                    slot = stream.slot
                    if slot in audio:
                        words = gen.new_words(slot)
                        marks = gen.new_marks(slot)
                        self._send(scheduler, job, audio[slot], words, marks, gen, slot)
                    if gen.slot_done(slot):
                        words = gen.last_words(slot)
                        marks = gen.new_marks(slot, final=True)
                        if words or marks:
                            silence = np.zeros(0, np.float32)
                            self._send(scheduler, job, silence, words, marks, gen, slot)
                        self._end(scheduler, gen, streams, job, DONE)

    def _admit(self, gen: StreamSlots, jobs: list[Job], streams: dict[Job, _Stream]) -> None:
        for job in jobs:
            if job in streams or job.cancelled or job.finished:
                continue
            slot = gen.open()
            if slot is None:  # the scheduler admits no more jobs than slots; defensive
                return
            streams[job] = _Stream(slot)

    @staticmethod
    def _take_text(gen: StreamSlots, job: Job, stream: _Stream) -> None:
        """Whatever fragments arrived, without waiting; whole words (or a document's
        markup) go to the model."""
        while not gen.input_closed[stream.slot]:
            try:
                fragment = job.fragments.get_nowait()
            except queue.Empty:
                return
            if fragment is None or isinstance(fragment, Markup):
                rest = stream.feed.flush()
                if rest.strip():
                    gen.feed_text(stream.slot, rest, job.options)
                if fragment is None:  # end of input
                    gen.close_input(stream.slot)
                    return
                gen.feed_markup(stream.slot, fragment, job.options)
                continue
            ready = stream.feed.push(fragment)
            if ready:
                gen.feed_text(stream.slot, ready, job.options)

    def _send(
        self,
        scheduler: Scheduler,
        job: Job,
        audio: np.ndarray,
        words: list[Word],
        marks: list[Word],
        gen: StreamSlots,
        slot: int,
    ) -> None:
        chunk = Chunk(
            audio,
            self.sample_rate,
            words=tuple(words),
            marks=tuple(marks),
            text_ready_at=gen.first_text_at[slot],
        )
        scheduler.send(job, chunk)

    @staticmethod
    def _end(
        scheduler: Scheduler,
        gen: StreamSlots,
        streams: dict[Job, _Stream],
        job: Job,
        item: object | None,
    ) -> None:
        gen.release(streams.pop(job).slot)
        scheduler.finish(job, item)
