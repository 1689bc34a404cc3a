"""The corpus folder format (ttscli.lab.corpus.folder): what every lab step reads and writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ttscli.audio.dsp import MelSpec
from ttscli.lab.corpus import folder
from ttscli.lab.corpus.folder import Alignment, CorpusFormatError, MetadataRow

HOP = MelSpec().hop_length


def alignment(utt_id: str, shift: float | None = None) -> Alignment:
    return Alignment(utt_id, ("HH", "AH0", "L", "OW1", "."), (3, 2, 4, 6, 0), 15 * HOP, shift)


def test_alignments_and_metadata_round_trip(tmp_path: Path) -> None:
    items = [alignment("a_1"), alignment("a_1_p1200", 1.2)]
    rows = [MetadataRow("a_1", "Hello!", "hello!"), MetadataRow("a_1_p1200", "Hello!", "hello!")]
    folder.write_alignments(tmp_path, items)
    folder.write_metadata(tmp_path, rows)
    assert folder.read_alignments(tmp_path) == items
    assert folder.read_metadata(tmp_path) == rows
    lines = (tmp_path / folder.ALIGNMENTS).read_text().splitlines()
    assert set(json.loads(lines[0])) == {"id", "phonemes", "durations", "samples"}
    assert json.loads(lines[1])["pitch_shift"] == 1.2
    assert (tmp_path / folder.METADATA).read_text().splitlines()[0] == "a_1|Hello!|hello!"


def test_metadata_fields_cannot_break_the_format(tmp_path: Path) -> None:
    folder.write_metadata(tmp_path, [MetadataRow("x", "a | b\nc", "a b c")])
    assert folder.read_metadata(tmp_path) == [MetadataRow("x", "a b c", "a b c")]


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("{not json", "not JSON"),
        ('{"id": "x", "phonemes": ["A"], "durations": [1]}', "no samples"),
        ('{"id": "x", "phonemes": ["A", "B"], "durations": [1], "samples": 256}', "durations"),
        ('{"id": "x", "phonemes": ["A"], "durations": [-1], "samples": -256}', "whole frame"),
        ('{"id": "x", "phonemes": ["A"], "durations": [2], "samples": 500}', "times hop"),
    ],
)
def test_a_bad_line_is_named_by_file_and_line(tmp_path: Path, line: str, problem: str) -> None:
    good = alignment("a_1").to_line()
    (tmp_path / folder.ALIGNMENTS).write_text(good + "\n" + line + "\n")
    with pytest.raises(CorpusFormatError) as error:
        folder.read_alignments(tmp_path)
    message = str(error.value)
    assert message.startswith(f"{tmp_path / folder.ALIGNMENTS}:3: ")
    assert problem in message
    # The corpus builder's repair reads the same file leniently: good lines kept, bad counted.
    items, errors = folder.parse_lines(
        tmp_path / folder.ALIGNMENTS, Alignment.from_line, strict=False
    )
    assert items == [alignment("a_1")] and len(errors) == 1


def test_a_missing_file_says_which(tmp_path: Path) -> None:
    with pytest.raises(CorpusFormatError, match=r"metadata\.csv"):
        folder.read_metadata(tmp_path)
    with pytest.raises(CorpusFormatError, match="build-corpus"):
        folder.require_corpus(tmp_path)


def test_a_failed_write_leaves_the_old_file_whole(tmp_path: Path) -> None:
    folder.write_alignments(tmp_path, [alignment("a_1")])
    before = (tmp_path / folder.ALIGNMENTS).read_bytes()

    def lines():
        yield alignment("a_2").to_line()
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        folder.write_lines(tmp_path / folder.ALIGNMENTS, lines())
    assert (tmp_path / folder.ALIGNMENTS).read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [folder.ALIGNMENTS]  # no temporary left


def test_skipped_and_settings_round_trip(tmp_path: Path) -> None:
    folder.write_skipped(tmp_path, {"b": "too\tlong  pause", "a": "no words"})
    assert folder.read_skipped(tmp_path) == {"a": "no words", "b": "too long pause"}
    assert folder.read_settings(tmp_path) is None
    folder.write_settings(tmp_path, {"settings": {"seed": 1}})
    assert folder.read_settings(tmp_path) == {"settings": {"seed": 1}}
