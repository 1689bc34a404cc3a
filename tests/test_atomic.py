"""util/atomic.py: an interrupted write leaves neither a half-written file nor a .part."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ttscli.util.atomic import atomic_write, atomic_write_bytes, remove_partials


def test_ctrl_c_while_writing_keeps_the_old_file_and_no_part(tmp_path: Path) -> None:
    target = tmp_path / "a.wav"
    atomic_write_bytes(target, b"old")

    def interrupted(tmp: str) -> None:
        Path(tmp).write_bytes(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, interrupted)
    assert target.read_bytes() == b"old" and sorted(tmp_path.iterdir()) == [target]


def test_ctrl_c_just_after_the_temporary_file_exists_removes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The instant between creating the temporary file and handing it out: Ctrl-C there
    (a signal arrives between any two bytecodes) once left a .part in a batch's folder."""

    def interrupted(fd: int, mode: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fchmod", interrupted)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_bytes(tmp_path / "b.wav", b"data")
    assert list(tmp_path.iterdir()) == []


def test_remove_partials_takes_only_what_atomic_writes_leave(tmp_path: Path) -> None:
    kept = [tmp_path / "0001.wav", tmp_path / "notes.part", tmp_path / ".hidden"]
    for path in [*kept, tmp_path / ".0002.wav.x1y2.part"]:
        path.write_bytes(b"")
    remove_partials(tmp_path)
    assert sorted(tmp_path.iterdir()) == sorted(kept)
