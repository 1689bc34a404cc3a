"""Shared fixtures: a tiny FS2 checkpoint and an ALSA sound card that writes to a file."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tests.fs2_fixture import make_tiny_checkpoint
from tests.kyutai_fixture import tiny_kyutai  # noqa: F401 (a pytest fixture)

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_checkpoint(tmp_path_factory.mktemp("fs2") / "tiny")


@dataclass
class AlsaCapture:
    """An ALSA configuration whose devices write what PortAudio plays into raw files."""

    home: Path
    default_raw: Path
    second_raw: Path

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["HOME"] = str(self.home)
        env.pop("ALSA_CONFIG_PATH", None)
        return env

    @staticmethod
    def read(raw: Path) -> np.ndarray:
        """Samples as float in [-1, 1] (the capture devices store S16_LE mono)."""
        return np.frombuffer(raw.read_bytes(), dtype="<i2").astype(np.float32) / 32768.0


@pytest.fixture
def alsa_capture(tmp_path: Path) -> AlsaCapture:
    home = tmp_path / "home"
    home.mkdir()
    default_raw = tmp_path / "default.raw"
    second_raw = tmp_path / "second.raw"

    def device(raw: Path, extra_slave: str = "", extra: str = "") -> str:
        file_pcm = f'{{ type file; slave.pcm "null"; file "{raw}"; format "raw" }}'
        slave = f"{{ pcm {file_pcm} format S16_LE; channels 1; {extra_slave} }}"
        return f"{{ type plug; slave {slave} {extra} }}"

    hint = 'hint { show on; description "ttscli test second device" }'
    (home / ".asoundrc").write_text(
        f"pcm.!default {device(default_raw)}\n"
        f"pcm.ttscli_second {device(second_raw, 'rate 44100;', hint)}\n"
    )
    return AlsaCapture(home, default_raw, second_raw)


def run_cli(
    *args: str,
    env: dict[str, str] | None = None,
    input: bytes | None = None,
    timeout: float = 600,
) -> subprocess.CompletedProcess[bytes]:
    """Run the real ``ttscli`` entry point in a fresh process, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "ttscli", *args],
        env=env if env is not None else dict(os.environ),
        input=input,
        capture_output=True,
        timeout=timeout,
        check=False,
    )


def interrupt_while_playing(
    args: list[str], env: dict[str, str], raw: Path
) -> tuple[int, str, int]:
    """Start ``ttscli ARGS`` playing into the ALSA capture file, press Ctrl-C once audio
    is flowing, and return (exit code, stderr, samples played after Ctrl-C).

    "Stops promptly" is measured in audio, not in wall time: what still plays after the
    key press is bounded by the queues, whatever the machine's speed or load."""
    import signal
    import time

    process = subprocess.Popen(
        [sys.executable, "-m", "ttscli", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        # Ctrl-C reaches a program in a terminal with SIGINT at its default. A test run that
        # a non-interactive shell started in the background has it ignored, and a child
        # inherits that across exec (Python then installs no KeyboardInterrupt handler).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if raw.exists() and raw.stat().st_size > 48000:
            break
        time.sleep(0.1)
    assert process.poll() is None, "finished before it could be interrupted"
    played_before = raw.stat().st_size
    process.send_signal(signal.SIGINT)
    try:
        code = process.wait(timeout=120)
    finally:
        process.kill()
    assert process.stderr is not None
    return code, process.stderr.read().decode(), (raw.stat().st_size - played_before) // 2


def interrupt_after_files(args: list[str], folder: Path, files: int) -> int:
    """Run ``args`` (a whole command line), press Ctrl-C once ``folder`` holds ``files``
    audio files, and return the exit code."""
    import signal
    import time

    process = subprocess.Popen(
        args,
        stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 300  # a ceiling for a hang, not a speed target
    while time.monotonic() < deadline and process.poll() is None:
        if len(list(folder.glob("*.wav"))) >= files:
            break
        time.sleep(0.05)
    assert process.poll() is None, "finished before it could be interrupted"
    process.send_signal(signal.SIGINT)
    return process.wait(timeout=120)
