"""The runner of every single-output run: a text source through an engine into a sink.

The CLI, and later the server, call ``speak_to`` whatever the engine and the sink; the
batch runner lives in ``ttscli.run.batch``. Synthesis runs ahead of the sink in a producer
thread (bounded by the engine's ``chunks_ahead``), so the next sentence or frame is being
computed while the current one plays.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from ttscli.audio.sinks import Sink
from ttscli.engines.base import Chunk, Engine, RunStats
from ttscli.text.markup import Markup, MarkupStream
from ttscli.util.prefetch import prefetch

T = TypeVar("T")


def speak_to(
    engine: Engine,
    source: str | Iterable[str] | Markup | MarkupStream,
    sink: Sink,
    options: Any = None,
    *,
    keep_chunks: bool = False,
    on_chunk: Callable[[Chunk], None] | None = None,
) -> RunStats:
    """Play or write everything ``engine`` says for ``source``; return what the run did.

    On any failure or Ctrl-C the sink is aborted, so a file target is never left
    half-written; the sink is closed (played out, renamed into place) only on success.
    """
    stats = RunStats(load_seconds=engine.load_seconds)
    busy, waiting = [0.0], [0.0]
    if isinstance(source, MarkupStream):
        source = MarkupStream(_timed(iter(source), waiting))
    elif not isinstance(source, (str, Markup)):
        source = _timed(iter(source), waiting)
    started = time.perf_counter()
    try:
        chunks = _timed(engine.stream(source, options), busy)
        for chunk in prefetch(chunks, engine.chunks_ahead):
            if len(chunk.audio):
                if stats.first_audio_seconds is None and chunk.text_ready_at is not None:
                    stats.first_audio_seconds = max(0.0, time.perf_counter() - chunk.text_ready_at)
                sink.write(chunk.audio)
                stats.audio_seconds += chunk.seconds
            stats.words.extend(chunk.words)
            stats.marks.extend(chunk.marks)
            if chunk.text is not None:
                stats.sentences.append(
                    {
                        "text": chunk.text,
                        "phonemes": " ".join(chunk.phonemes),
                        "seconds": round(chunk.sentence_seconds or chunk.seconds, 3),
                    }
                )
            if keep_chunks:
                stats.chunks.append(chunk)
            if on_chunk is not None:
                on_chunk(chunk)
    except BaseException:
        sink.abort()
        raise
    sink.close()
    stats.wall_seconds = time.perf_counter() - started
    stats.compute_seconds = max(0.0, busy[0] - waiting[0])
    stats.underruns = sink.underruns
    return stats


def _timed(items: Iterator[T], total: list[float]) -> Iterator[T]:
    """The items, adding the time spent producing each one to ``total[0]``.

    Wrapped around the engine it measures the engine's time; wrapped around a text source
    the time spent waiting for input, which the engine's time includes and which is then
    taken off it."""
    while True:
        started = time.perf_counter()
        try:
            item = next(items)
        except StopIteration:
            total[0] += time.perf_counter() - started
            return
        total[0] += time.perf_counter() - started
        yield item
