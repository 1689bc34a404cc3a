"""scripts/bench_fs2.py: the stage-by-stage speed table of the bundled voice."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ttscli.lab.evaluation import bench_fs2 as bench


def test_stage_table_adds_up(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sentences = tmp_path / "lines.txt"
    sentences.write_text("The cat sat on the mat.\nIs it wet, or dry?\n", encoding="utf-8")
    assert bench.main(["--sentences", str(sentences), "--limit", "2", "--no-references"]) == 0
    table = capsys.readouterr().out
    rows = dict(re.findall(r"^\| ([a-z -]+) \| ([0-9.]+) \|", table, flags=re.M))
    stages = ["front-end", "acoustic model", "vocoder adapter", "generator"]
    # A fast machine may print a stage as 0.000: its row must exist, not be above zero.
    assert all(float(rows[name]) >= 0 for name in stages), table
    assert float(rows["all stages"]) == pytest.approx(
        sum(float(rows[name]) for name in stages), abs=0.02
    )
    end_to_end = dict(re.findall(r"^\| (ttscli-fs2s?) \| ([0-9.]+) \|", table, flags=re.M))
    assert set(end_to_end) == {"ttscli-fs2", "ttscli-fs2s"} and float(end_to_end["ttscli-fs2"]) > 0


def test_batch_tables_cover_each_size_and_kind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sentences = tmp_path / "lines.txt"
    sentences.write_text("The cat sat on the mat.\nIs it wet, or dry?\n", encoding="utf-8")
    argv = ["--sentences", str(sentences), "--limit", "2", "--no-references"]
    assert bench.main([*argv, "--batches", "1,3", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    first = re.findall(r"^(fs2s?) on cpu .*first audio (\d+) ms", out, flags=re.M)
    assert [kind for kind, _ in first] == ["fs2", "fs2s"] and all(int(ms) > 0 for _, ms in first)
    speeds = re.findall(r"^\| (\d+) \| ([0-9.]+) \|$", out, flags=re.M)
    assert [size for size, _ in speeds] == ["1", "3", "1", "3"], out
    assert all(float(speed) > 0 for _, speed in speeds)


def test_batch_sizes_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exited:
        bench.main(["--no-references", "--batches", "0"])
    assert exited.value.code == 2
