"""The process pool that turns corpus lines into teacher utterances.

One teacher per process: onnxruntime sessions are single-threaded, so the pool's width is
the build's parallelism. Workers are spawned, not forked, so no onnxruntime or OpenMP
state is shared; results come back in completion order.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from ttscli.lab.corpus.distil import corpus_teacher, synthesize
from ttscli.lab.corpus.folder import Alignment, MetadataRow, clean_field
from ttscli.lab.corpus.sanity import SanityError
from ttscli.lab.corpus.settings import Settings
from ttscli.lab.corpus.teacher import Teacher
from ttscli.lab.corpus.words import TextError, line_items


@dataclass(frozen=True)
class Task:
    line_number: int
    id: str
    text: str


@dataclass
class Done:
    alignment: Alignment
    row: MetadataRow
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
        _TEACHER = corpus_teacher(settings.seed, settings.scales)
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
        synthesis = synthesize(_TEACHER, task.line_number, items)
    except (TextError, SanityError) as error:
        return Skipped(task.id, str(error))
    except Exception as error:  # one odd line must not stop a 12,500-line run
        return Skipped(task.id, f"{type(error).__name__}: {error}")
    alignment = Alignment(
        task.id, tuple(synthesis.symbols), tuple(synthesis.durations), len(synthesis.audio)
    )
    row = MetadataRow(task.id, clean_field(task.text), clean_field(normalized))
    return Done(alignment, row, synthesis.audio)


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


def default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1
