"""scripts/bench_start.py: the first-audio table of short and long texts."""

from __future__ import annotations

import re

import pytest

from ttscli.lab.evaluation import bench_start as bench


def test_first_audio_table_has_every_text_and_its_differences(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert bench.main(["--runs", "1", "--only", "first-audio", "--paragraph-lines", "2"]) == 0
    table = capsys.readouterr().out
    medians = {
        name: (float(inside), float(whole))
        for name, inside, whole in re.findall(
            r"^\| (.+?) \| ([0-9.]+) \| ([0-9.]+) \|$", table, flags=re.M
        )
    }
    texts = ['"Hello."', "the first sentence alone", "the 2-sentence paragraph on stdin",
             "the 2-sentence paragraph as the argument"]  # fmt: skip
    assert list(medians) == texts, table
    assert all(inside > 0 and whole > inside for inside, whole in medians.values()), table
    differences = re.findall(r"^\| (.+?) \| ([-+][0-9.]+) \| ([-+][0-9.]+) \|$", table, flags=re.M)
    assert len(differences) == 3, table
    label, inside, whole = differences[0]
    assert label.startswith("paragraph on stdin minus its first sentence")
    paragraph, first = medians[texts[2]], medians[texts[1]]
    assert float(inside) == pytest.approx(paragraph[0] - first[0], abs=2e-3)
    assert float(whole) == pytest.approx(paragraph[1] - first[1], abs=2e-3)
