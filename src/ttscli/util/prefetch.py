"""Run a chunk producer ahead of its consumer in a background thread.

Synthesis of the next sentence (or the next Mimi frames) then overlaps with playback
of the current one; the bounded queue keeps memory flat when the producer is faster.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
_DONE = object()


def prefetch(items: Iterable[T], depth: int = 4) -> Iterator[T]:
    """Yield ``items`` in order, produced by a daemon thread up to ``depth`` ahead.

    An exception in the producer is re-raised in the consumer at the same position.
    Closing the iterator early (consumer stops or Ctrl-C) tells the producer to stop and
    waits for it to finish the item it is working on.
    """
    buffer: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                buffer.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
        except BaseException as exc:
            put(_Failure(exc))
            return
        put(_DONE)

    thread = threading.Thread(target=produce, name="ttscli-producer", daemon=True)
    thread.start()
    try:
        while True:
            item = buffer.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.exc
            yield item  # type: ignore[misc]
    finally:
        # Wait for the producer to notice: a thread still inside torch or PortAudio
        # when the interpreter exits aborts the process instead of exiting cleanly.
        stop.set()
        thread.join(timeout=30)


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc
