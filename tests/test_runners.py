"""The shared runners (``speak_to``, ``run_batch``) and what they stand on (``prefetch``, the
stdout sink), on the tiny FastSpeech 2 checkpoint and real files, pipes and processes."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import interrupt_after_files
from ttscli.audio.sinks import FileSink
from ttscli.fs2.engine import FS2Engine
from ttscli.fs2.model import Controls
from ttscli.run.batch import BatchLine, run_batch
from ttscli.run.single import speak_to
from ttscli.util.errors import UserError
from ttscli.util.prefetch import prefetch


@pytest.fixture(scope="module")
def engine(tiny_checkpoint: Path) -> FS2Engine:
    return FS2Engine.load(tiny_checkpoint, vocoder="griffin-lim", device="cpu")


# --- prefetch -----------------------------------------------------------------------------


def test_prefetch_keeps_order_and_stays_within_its_depth() -> None:
    produced: list[int] = []

    def numbers() -> Iterator[int]:
        for n in range(20):
            produced.append(n)
            yield n

    stream = prefetch(numbers(), depth=3)
    assert next(stream) == 0
    time.sleep(0.3)  # let the producer run ahead as far as it can (an upper bound follows)
    # one handed out, three queued, one more made and waiting for room
    assert len(produced) <= 1 + 3 + 1
    assert [0, *stream] == list(range(20))


def test_prefetch_reraises_the_producers_error_in_place() -> None:
    def failing() -> Iterator[int]:
        yield 1
        yield 2
        raise UserError("bad sentence")

    received = []
    with pytest.raises(UserError, match="bad sentence"):
        for item in prefetch(failing()):
            received.append(item)
    assert received == [1, 2]


def test_closing_prefetch_early_stops_the_producer() -> None:
    finished = threading.Event()

    def endless() -> Iterator[int]:
        try:
            n = 0
            while True:
                yield n
                n += 1
        finally:
            finished.set()

    stream = prefetch(endless(), depth=2)
    assert next(stream) == 0
    stream.close()  # what a consumer hanging up (or Ctrl-C) does
    assert finished.wait(10), "the producer thread kept running"


# --- speak_to -----------------------------------------------------------------------------


def test_speak_to_writes_the_file_and_returns_what_it_did(
    engine: FS2Engine, tmp_path: Path
) -> None:
    out = tmp_path / "a.wav"
    stats = speak_to(engine, "Hello world. How are you?", FileSink(out, engine.sample_rate))
    info = sf.info(str(out))
    assert info.frames / info.samplerate == pytest.approx(stats.audio_seconds, abs=1e-6)
    assert [s["text"] for s in stats.sentences] == ["Hello world.", "How are you?"]
    assert stats.first_audio_seconds is not None and stats.first_audio_seconds >= 0
    assert stats.compute_seconds > 0 and stats.load_seconds > 0
    assert stats.underruns is None  # a file cannot underrun
    summary = stats.as_json({"engine": "fs2"})
    assert summary["engine"] == "fs2" and len(summary["sentences"]) == 2


def test_speak_to_from_fragments_equals_the_whole_text(engine: FS2Engine, tmp_path: Path) -> None:
    text = "Hello world. How are you? Fine"
    whole = tmp_path / "whole.wav"
    pieces = tmp_path / "pieces.wav"
    speak_to(engine, text, FileSink(whole, engine.sample_rate))
    speak_to(
        engine, iter([text[i : i + 4] for i in range(0, len(text), 4)]), FileSink(pieces, 22050)
    )
    np.testing.assert_array_equal(sf.read(str(whole))[0], sf.read(str(pieces))[0])


def test_a_failure_mid_stream_leaves_no_file(engine: FS2Engine, tmp_path: Path) -> None:
    def source() -> Iterator[str]:
        yield "Hello world. "
        yield "Still fine. "
        raise UserError("standard input broke")

    out = tmp_path / "a.wav"
    out.write_bytes(b"an older file the user kept")
    with pytest.raises(UserError, match="broke"):
        speak_to(engine, source(), FileSink(out, engine.sample_rate))
    assert out.read_bytes() == b"an older file the user kept"
    assert [p.name for p in tmp_path.iterdir()] == ["a.wav"]


def test_options_reach_the_engine(engine: FS2Engine, tmp_path: Path) -> None:
    normal = speak_to(engine, "Hello world.", FileSink(tmp_path / "a.wav", 22050))
    slow = speak_to(
        engine, "Hello world.", FileSink(tmp_path / "b.wav", 22050), Controls(duration=2.0)
    )
    assert slow.audio_seconds == pytest.approx(2 * normal.audio_seconds, rel=0.1)


# --- run_batch resume edge cases ----------------------------------------------------------


def _manifest(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "manifest.jsonl").read_text().splitlines()]


def test_batch_redoes_a_line_whose_text_changed(engine: FS2Engine, tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = [BatchLine(1, "Hello world."), BatchLine(2, "Second line.")]
    assert run_batch(engine, first, out, "wav", quiet=True).written == 2
    kept = (out / "0001.wav").stat().st_mtime_ns
    changed = [BatchLine(1, "Hello world."), BatchLine(2, "A different second line.")]
    summary = run_batch(engine, changed, out, "wav", quiet=True)
    assert (summary.written, summary.skipped) == (1, 1)
    assert (out / "0001.wav").stat().st_mtime_ns == kept
    assert [m["text"] for m in _manifest(out)] == ["Hello world.", "A different second line."]


def test_batch_redoes_a_line_whose_file_is_gone_or_of_another_format(
    engine: FS2Engine, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    lines = [BatchLine(1, "Hello world."), BatchLine(2, "Second line.")]
    run_batch(engine, lines, out, "wav", quiet=True)
    (out / "0002.wav").unlink()
    assert run_batch(engine, lines, out, "wav", quiet=True).written == 1
    summary = run_batch(engine, lines, out, "flac", quiet=True)
    assert summary.written == 2
    assert sorted(m["path"] for m in _manifest(out)) == ["0001.flac", "0002.flac"]


def test_batch_keeps_the_manifest_whole_when_a_line_fails(
    engine: FS2Engine, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    good = [BatchLine(1, "Hello world.")]
    run_batch(engine, good, out, "wav", quiet=True)
    before = (out / "manifest.jsonl").read_bytes()
    with pytest.raises(UserError, match="line 2"):
        run_batch(engine, [*good, BatchLine(2, "{ZZ9 bad}")], out, "wav", quiet=True)
    assert (out / "manifest.jsonl").read_bytes() == before
    assert sorted(p.name for p in out.iterdir()) == ["0001.wav", "manifest.jsonl"]


# --- the stdout sink when the reader goes away --------------------------------------------


RAW = ("--device", "cpu", "--out", "-", "--quiet")


def test_stdout_reader_closing_the_pipe_ends_quietly(tiny_checkpoint: Path) -> None:
    """``ttscli fs2 ... --out - | head -c 100``: no traceback, no error, exit 0."""
    text = "This sentence is one of many. " * 40
    ttscli = subprocess.Popen(
        [sys.executable, "-m", "ttscli", "fs2", text, "--checkpoint", str(tiny_checkpoint), *RAW],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert ttscli.stdout is not None
    head = ttscli.stdout.read(100)
    ttscli.stdout.close()  # the reader goes away, as `head` does
    code = ttscli.wait(timeout=300)
    assert ttscli.stderr is not None
    stderr = ttscli.stderr.read().decode()
    assert len(head) == 100
    assert code == 0 and stderr == "", stderr


# --- the manifest: append-only during a run, sorted and compact between runs ---------------


def test_manifest_survives_a_torn_line_duplicates_and_disorder(
    engine: FS2Engine, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    lines = [BatchLine(n, f"Line number {n}.") for n in range(1, 6)]
    run_batch(engine, lines, out, "wav", quiet=True)
    entries = _manifest(out)
    assert [m["index"] for m in entries] == [1, 2, 3, 4, 5]
    # As a crash and an older writer could leave it: out of order, a duplicate, an entry
    # that points outside the folder, and a torn last line.
    evil = dict(entries[0], path="../escape.wav")
    scrambled = [entries[3], entries[1], entries[1], evil, entries[4], entries[2]]
    text = "".join(json.dumps(m) + "\n" for m in scrambled) + '{"index": 1, "te'
    (out / "manifest.jsonl").write_text(text)
    summary = run_batch(engine, lines, out, "wav", quiet=True)
    assert (summary.written, summary.skipped) == (1, 4)  # only line 1 had no valid entry
    assert [m["index"] for m in _manifest(out)] == [1, 2, 3, 4, 5]
    assert not (tmp_path / "escape.wav").exists()


def test_batch_reads_a_lines_file_as_a_stream(engine: FS2Engine, tmp_path: Path) -> None:
    from ttscli.run.lines import LinesFile

    source = tmp_path / "lines.txt"
    source.write_text("First line.\n\n  \nSecond line.\n", encoding="utf-8")
    lines = LinesFile(source)
    assert len(lines) == 2 and [line.index for line in lines] == [1, 4]
    summary = run_batch(engine, lines, tmp_path / "out", "wav", quiet=True)
    assert summary.written == 2
    assert [m["path"] for m in _manifest(tmp_path / "out")] == ["0001.wav", "0004.wav"]


def test_interrupted_batch_resumes_every_line_exactly_once(
    tiny_checkpoint: Path, tmp_path: Path
) -> None:
    source = tmp_path / "lines.txt"
    source.write_text("".join(f"This is line number {n}.\n" for n in range(1, 41)))
    out = tmp_path / "out"
    args = [sys.executable, "-m", "ttscli", "fs2", "--in", str(source), "--out", str(out)]
    args += ["--checkpoint", str(tiny_checkpoint), "--device", "cpu", "--batch-size", "1"]
    assert interrupt_after_files([*args, "--quiet"], out, 3) == 130
    done_before = len(_manifest(out))
    assert 3 <= done_before < 40
    rerun = subprocess.run([*args, "--json"], capture_output=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr.decode()
    summary = json.loads(rerun.stdout)
    assert summary["skipped"] >= done_before and summary["written"] + summary["skipped"] == 40
    indices = [m["index"] for m in _manifest(out)]
    assert indices == list(range(1, 41))
    assert len(list(out.glob("*.wav"))) == 40 and not list(out.glob(".*.part"))
