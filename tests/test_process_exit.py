"""The command line's exit skips torch's C teardown but keeps every promise of a normal exit."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.conftest import run_cli

PROGRAM = textwrap.dedent(
    """
    import atexit, ctypes, sys, threading, time
    import torch
    from ttscli.util.process_exit import exit_process

    def late_worker():
        time.sleep(0.3)
        print("worker finished", flush=True)

    atexit.register(lambda: print("atexit handler ran", flush=True))
    threading.Thread(target=late_worker).start()
    sys.stdout.write("buffered python output\\n")  # no flush: the exit must do it
    ctypes.CDLL(None).printf(b"buffered C output\\n")
    exit_process(sys.argv[1] if sys.argv[1].startswith("error") else int(sys.argv[1]))
    """
)


def run_program(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PROGRAM, code], capture_output=True, text=True, check=False
    )


def test_exit_waits_for_threads_runs_handlers_and_flushes() -> None:
    result = run_program("3")
    assert result.returncode == 3, result.stderr
    lines = result.stdout.splitlines()
    for expected in ("worker finished", "atexit handler ran", "buffered python output"):
        assert expected in lines, result.stdout
    assert "buffered C output" in lines, result.stdout
    assert lines.index("worker finished") < lines.index("atexit handler ran")


def test_a_message_exits_with_status_one_and_is_printed() -> None:
    result = run_program("error: something went wrong")
    assert result.returncode == 1
    assert "error: something went wrong" in result.stderr


def test_lines_read_from_stdin_leave_no_temporary_file(
    tiny_checkpoint: Path, tmp_path: Path
) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    out = tmp_path / "out"
    env = dict(os.environ, TMPDIR=str(scratch))
    result = run_cli(
        "fs2", "--checkpoint", str(tiny_checkpoint), "--device", "cpu", "--in", "-",
        "--out", str(out), "--quiet", env=env, input=b"Hello there.\nGood morning.\n",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr.decode()
    assert len(list(out.glob("*.wav"))) == 2
    assert list(scratch.iterdir()) == []
