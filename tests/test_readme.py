"""The README's two commands for a newcomer: the first one speaks offline, CI runs the second."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import soundfile as sf

from tests.loopback_hub import dropping_hub

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text(encoding="utf-8")


def _first_block_after(heading: str) -> list[str]:
    section = README.split(f"\n{heading}", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, flags=re.S)
    assert block is not None, heading
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_first_command_installs_and_speaks_offline(tmp_path: Path) -> None:
    """Its ttscli part runs with no model hub (a dropped connection would fail it), no GPU,
    no sound card, in an empty folder, and writes audio with the bundled voice."""
    (command,) = _first_block_after("## Install and speak (fresh machine)")
    steps = [shlex.split(step) for step in command.split("&&")]
    assert steps[0][:3] == ["python3", "-m", "venv"] and steps[1][0] == ".venv/bin/pip"
    run = steps[-1]
    assert run[0] == ".venv/bin/ttscli", command
    with dropping_hub() as hub:
        env = dict(
            os.environ,
            HF_HOME=str(tmp_path / "hf"),
            HF_ENDPOINT=hub.url,
            HOME=str(tmp_path),
            CUDA_VISIBLE_DEVICES="",
        )
        result = subprocess.run(
            [sys.executable, "-m", "ttscli", *run[1:]],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            timeout=600,
            check=False,
        )
    assert result.returncode == 0, result.stderr.decode()
    assert hub.connections == []
    written = [arg for arg in run if arg.endswith(".wav")]
    assert written, "the first command should leave a file a newcomer can play"
    info = sf.info(str(tmp_path / written[0]))
    assert info.frames > info.samplerate // 2  # at least half a second of speech


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    lines = _first_block_after("## Install and run the tests")
    test_command = lines[-1]
    assert "pytest" in test_command
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert test_command in ci.splitlines()
    for package in shlex.split(lines[0].split("install", 1)[1]):
        if not package.startswith("-"):
            assert package in ci, package
