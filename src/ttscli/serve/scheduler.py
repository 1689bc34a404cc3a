"""The engine thread: every request's synthesis, advanced a chunk at a time, in turn.

Engines are synchronous and own one device, so one thread drives them. Active jobs take
turns (round robin), so a long text never delays the first sentence of a short one; a
job whose client has not read its last ``buffer`` chunks is skipped until it does, so a
slow or stalled client costs memory for a few chunks and no engine time at all. Jobs
beyond ``max_active`` wait in a bounded queue; beyond that, ``submit`` refuses them and
the server answers 503.

Text that arrives over time (a WebSocket) never blocks the thread for sentence engines:
complete sentences are queued on the job by the event loop, and a job with none is not
ready. An engine that reads words while it speaks (Kyutai) takes fragments from the job's
queue in a driver of its own that steps all active jobs in one batch (``slot_driver.py``).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ttscli.engines.base import Chunk
from ttscli.text.markup import Markup
from ttscli.util.errors import UserError
from ttscli.util.faults import is_out_of_memory
from ttscli.util.memory import trim

log = logging.getLogger("ttscli.serve")


@dataclass(frozen=True)
class Failed:
    """A job ended with an error the client should see, and the HTTP status it gets when
    no audio has been sent yet: 400 for what the request asked, 5xx for the server's own
    failure."""

    message: str
    status: int = 400


def failure_of(exc: Exception) -> Failed:
    """What the client hears of an exception on the engine thread. Running out of memory is
    a fault of the machine (503: retry later), logged in one line; anything else is a bug,
    logged with its traceback."""
    if isinstance(exc, UserError):
        return Failed(str(exc))
    if is_out_of_memory(exc):
        log.error("synthesis failed: out of memory")
        return Failed("the server is out of memory; retry later", 503)
    log.exception("synthesis failed")
    return Failed("internal error while synthesising", 500)


DONE = object()
"""Delivered after a job's last chunk."""


class Job:
    """One request: text in (now or over time), chunks out to an asyncio queue.

    ``passages`` mode (sentence engines): ``make_chunks(passage)`` is called per queued
    passage, never blocking. ``fragments`` mode (word engines): fragments are queued as
    they come, for the slot driver to take (``make_chunks`` is not used).
    """

    def __init__(
        self,
        make_chunks: Callable[..., Iterator[Chunk]],
        loop: asyncio.AbstractEventLoop,
        *,
        mode: str = "passages",
        buffer: int = 8,
        options: Any = None,
    ) -> None:
        self.make_chunks = make_chunks
        self.options = options
        """The request's engine options (the slot driver hands them to the slots)."""
        self.mode = mode
        self.buffer = buffer
        self.loop = loop
        self.out: asyncio.Queue[object] = asyncio.Queue()
        self.pending = 0  # chunks delivered but not yet taken by the client side
        self.cancelled = False
        self.finished = False
        self._passages: deque[str | Markup] = deque()
        self.fragments: queue.Queue[str | Markup | None] = queue.Queue()
        self._input_closed = False
        self._current: Iterator[Chunk] | None = None
        self._scheduler: Scheduler | None = None

    # -- text in (event loop side) ---------------------------------------------------------
    def add_text(self, text: str | Markup) -> None:
        """A complete passage (passages mode: text or a whole document's ``Markup``) or any
        fragment (fragments mode)."""
        if isinstance(text, Markup):
            if self.mode != "passages":
                self.fragments.put(text)
            else:
                self._with_lock(lambda: self._passages.append(text))
            self._wake()
            return
        if self.mode == "passages":
            if text.strip():
                self._with_lock(lambda: self._passages.append(text))
        else:
            self.fragments.put(text)
        self._wake()

    def close_input(self) -> None:
        def close() -> None:
            self._input_closed = True

        self._with_lock(close)
        self.fragments.put(None)
        self._wake()

    # -- chunks out (event loop side) ------------------------------------------------------
    async def next_item(self) -> object:
        """The next Chunk, ``DONE`` or a ``Failed``."""
        item = await self.out.get()
        if isinstance(item, Chunk) and self._scheduler is not None:
            self._scheduler.taken(self)
        return item

    def cancel(self) -> None:
        """The client has gone or was dropped: stop spending engine time on it."""
        self.cancelled = True
        self.fragments.put(None)
        self._wake()

    # -- engine thread side ----------------------------------------------------------------
    def ready(self) -> bool:
        if self.cancelled or self.finished:
            return True  # to be removed
        if self.pending >= self.buffer:
            return False
        if self._current is not None:
            return True
        return bool(self._passages) or self._input_closed

    def step(self) -> object | None:
        """One unit of work: a Chunk, DONE, or None when a passage just ended."""
        if self._current is None:
            if not self._passages:
                return DONE  # input closed and nothing left
            self._current = self.make_chunks(self._passages.popleft())
        try:
            return next(self._current)
        except StopIteration:
            self._current = None
            return None

    def close_engine_side(self) -> None:
        if self._current is not None:
            self._current.close()
            self._current = None

    def _with_lock(self, action: Callable[[], None]) -> None:
        if self._scheduler is None:
            action()
            return
        with self._scheduler.cond:
            action()

    def _wake(self) -> None:
        if self._scheduler is not None:
            self._scheduler.wake()

    def deliver(self, item: object) -> None:
        self.loop.call_soon_threadsafe(self.out.put_nowait, item)


class Scheduler:
    """Runs jobs on one engine thread, in turn; bounded in active and waiting jobs."""

    def __init__(
        self,
        max_active: int,
        max_queued: int,
        driver: Callable[[Scheduler], None] | None = None,
    ) -> None:
        """``driver`` replaces the round-robin loop for engines that step all active jobs
        at once (``slot_driver.SlotDriver``); it runs on the engine thread until stop()."""
        self.max_active = max_active
        self.max_queued = max_queued
        self.cond = threading.Condition()
        self.active: deque[Job] = deque()
        self.waiting: deque[Job] = deque()
        self.stopping = False
        target = self._run if driver is None else (lambda: driver(self))
        self._thread = threading.Thread(target=target, name="ttscli-engine", daemon=True)
        self._thread.start()

    @property
    def counts(self) -> tuple[int, int]:
        with self.cond:
            return len(self.active), len(self.waiting)

    def submit(self, job: Job) -> bool:
        """Take the job, or refuse it (False) when active and waiting slots are all full."""
        with self.cond:
            if len(self.active) < self.max_active:
                self.active.append(job)
            elif len(self.waiting) < self.max_queued:
                self.waiting.append(job)
            else:
                return False
            job._scheduler = self
            self.cond.notify_all()
        return True

    def taken(self, job: Job) -> None:
        with self.cond:
            job.pending -= 1
            self.cond.notify_all()

    def wake(self) -> None:
        with self.cond:
            self.cond.notify_all()

    def stop(self) -> None:
        with self.cond:
            self.stopping = True
            for job in [*self.active, *self.waiting]:
                job.cancelled = True
            self.cond.notify_all()
        self._thread.join(timeout=30)

    def _next_ready(self) -> Job | None:
        """Round robin over active jobs; finished and cancelled ones leave, waiting ones
        take their place. Called with the lock held."""
        for _ in range(len(self.active)):
            job = self.active[0]
            self.active.rotate(-1)
            if job.ready():
                return job
        return None

    def _retire(self, job: Job) -> None:
        with self.cond:
            if job in self.active:
                self.active.remove(job)
            while self.waiting and len(self.active) < self.max_active:
                waiting = self.waiting.popleft()
                if waiting.cancelled:
                    continue
                self.active.append(waiting)
            idle = not self.active
            self.cond.notify_all()
        if idle:  # between bursts of requests: hand the heap's free pages back
            trim()

    def _run(self) -> None:
        while True:
            with self.cond:
                while not self.stopping:
                    self.waiting = deque(j for j in self.waiting if not j.cancelled)
                    job = self._next_ready()
                    if job is not None:
                        break
                    self.cond.wait(timeout=1.0)
                if self.stopping:
                    return
            if job.cancelled or job.finished:
                job.close_engine_side()
                self._retire(job)
                continue
            try:
                item = job.step()
            except Exception as exc:  # an engine failure must not take the server down
                item = failure_of(exc)
            if item is None:
                continue
            if isinstance(item, Chunk):
                self.send(job, item)
            else:
                self.finish(job, item)

    # -- what an engine loop (this one or a driver) reports --------------------------------
    def send(self, job: Job, chunk: Chunk) -> None:
        """A chunk for the client, counted until the client side takes it."""
        with self.cond:
            job.pending += 1
        job.deliver(chunk)

    def finish(self, job: Job, item: object | None) -> None:
        """The job is over: ``DONE``, a ``Failed`` or, for a client that left, nothing."""
        job.finished = True
        job.close_engine_side()
        if item is not None:
            job.deliver(item)
        self._retire(job)
