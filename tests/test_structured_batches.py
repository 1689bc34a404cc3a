"""Batches from JSON Lines and pipe-separated files: ids that name the files, per-line
voices and options in shared mini-batches, resuming on id + text + options, and hostile
input refused in one line before any model loads."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import interrupt_after_files, run_cli
from tests.kyutai_fixture import TinyKyutai
from tests.test_cli_fs2 import ok, one_line_error
from tests.test_cli_speak import speak_args, speak_env
from ttscli.kyutai.synthetic import OTHER_VOICES

SENTENCES = [
    "Hello world.",
    "The quick brown fox jumps over the lazy dog.",
    "A third line, a little longer than the first two lines.",
    "Short one.",
    "Numbers like 42 are read as words.",
    "What time is it?",
]


def _fs2(checkpoint: Path, *args: str) -> list[str]:
    return ["fs2", *args, "--checkpoint", str(checkpoint), "--vocoder", "griffin-lim"]


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def _manifest(folder: Path) -> list[dict]:
    return [json.loads(x) for x in (folder / "manifest.jsonl").read_text().splitlines()]


def _mixed_rows(count: int) -> list[dict]:
    rows = []
    for n in range(count):
        row: dict = {"id": f"clip-{n:03d}", "text": SENTENCES[n % len(SENTENCES)]}
        if n % 3 == 1:
            row["pitch"] = 1.25
        if n % 4 == 2:
            row["energy"] = 0.7
        if n % 5 == 3:
            row["duration"] = 1.3
        rows.append(row)
    return rows


def test_jsonl_lines_sound_as_a_single_run_with_their_options(tmp_path: Path) -> None:
    """Mixed scales in shared mini-batches: each file has the samples of that line alone
    with its options (the bundled voice, in this process, as the reference)."""
    from ttscli.fs2.engine import FS2Engine

    rows = _mixed_rows(12)
    source = _write_jsonl(tmp_path / "lines.jsonl", rows)
    out = tmp_path / "clips"
    # float32: a line's padding in its mini-batch moves float rounding, which bfloat16's
    # coarser rounding would magnify past this comparison (test_inference_shapes bounds it)
    batch = ("--batch-size", "4", "--precision", "float32", "--json")
    result = run_cli("fs2", "--in", str(source), "--out", str(out), *batch)
    ok(result)
    assert json.loads(result.stdout)["written"] == 12
    entries = {entry["id"]: entry for entry in _manifest(out)}
    assert sorted(entries) == [row["id"] for row in rows]
    engine = FS2Engine.load(device="cpu", precision="float32")
    for row in rows:
        options = {k: v for k, v in row.items() if k not in ("id", "text")}
        entry = entries[row["id"]]
        assert entry["path"] == f"{row['id']}.wav" and entry["text"] == row["text"]
        assert entry.get("options", {}) == options
        alone = engine.synthesize_batch([engine.prepare_line(row["text"], engine.options(options))])
        audio, rate = sf.read(str(out / entry["path"]), dtype="float32")
        assert rate == engine.sample_rate and len(audio) == len(alone[0].audio)
        np.testing.assert_allclose(audio, alone[0].audio, atol=2e-3)


def test_jsonl_lines_choose_their_model(tmp_path: Path) -> None:
    """A line's own ``model`` (fs2 or fs2s): each file is what a single run with that model
    and the line's options makes, each model is loaded once, and changing a line's model
    remakes that line only."""
    from ttscli.fs2.engine import FS2Engine

    rows = [
        {"id": "plain", "text": SENTENCES[0]},
        {"id": "wave", "text": SENTENCES[1], "model": "fs2s"},
        {"id": "mel", "text": SENTENCES[2], "model": "fs2", "pitch": 1.2},
        {"id": "wave-low", "text": SENTENCES[4], "model": "fs2s", "pitch": 0.9},
        {"id": "wave-slow", "text": SENTENCES[5], "model": "fs2s", "duration": 1.2},
    ]
    source = _write_jsonl(tmp_path / "lines.jsonl", rows)
    out = tmp_path / "clips"
    batch = ("fs2", "--in", str(source), "--out", str(out), "--batch-size", "2", "--json",
             "--precision", "float32")  # fmt: skip
    result = run_cli(*batch)
    ok(result)
    assert json.loads(result.stdout)["written"] == len(rows)
    entries = {entry["id"]: entry for entry in _manifest(out)}
    engines = {
        kind: FS2Engine.load(kind=kind, device="cpu", precision="float32")
        for kind in ("fs2", "fs2s")
    }
    for row in rows:
        options = {k: v for k, v in row.items() if k not in ("id", "text", "model")}
        assert entries[row["id"]].get("options", {}) == {k: v for k, v in row.items()
                                                         if k not in ("id", "text")}  # fmt: skip
        engine = engines[row.get("model", "fs2s")]  # the run's --model auto: FS2s here
        alone = engine.synthesize_batch([engine.prepare_line(row["text"], engine.options(options))])
        audio, rate = sf.read(str(out / f"{row['id']}.wav"), dtype="float32")
        assert rate == engine.sample_rate and len(audio) == len(alone[0].audio), row["id"]
        np.testing.assert_allclose(audio, alone[0].audio, atol=2e-3, err_msg=row["id"])

    before = {p.name: p.stat().st_mtime_ns for p in out.glob("*.wav")}
    rows[0]["model"] = "fs2"  # the other decoder than the run's auto picks: a changed line
    rows[1]["model"] = "fs2"
    _write_jsonl(source, rows)
    again = run_cli(*batch)
    ok(again)
    assert json.loads(again.stdout)["written"] == 2
    after = {p.name: p.stat().st_mtime_ns for p in out.glob("*.wav")}
    assert {name for name in after if after[name] != before[name]} == {"plain.wav", "wave.wav"}
    wave, _ = sf.read(str(out / "wave.wav"), dtype="float32")
    mel = engines["fs2"].synthesize_batch([engines["fs2"].prepare_line(SENTENCES[1])])[0].audio
    np.testing.assert_allclose(wave, mel, atol=2e-3)


def test_a_model_a_checkpoint_lacks_fails_before_any_audio(tmp_path: Path) -> None:
    """A line asks for fs2s of a checkpoint without a waveform decoder: one line that names
    it, in the check of every line, so no file is made."""
    from tests.fs2_fixture import make_tiny_model
    from ttscli.fs2.checkpoint import save_checkpoint

    checkpoint = tmp_path / "mel-only"
    save_checkpoint(make_tiny_model(wave_decoder=False), checkpoint)
    rows = [{"id": "a", "text": "A good line."}, {"id": "b", "text": "Hi.", "model": "fs2s"}]
    source = _write_jsonl(tmp_path / "lines.jsonl", rows)
    out = tmp_path / "clips"
    result = run_cli(*_fs2(checkpoint, "--in", str(source), "--out", str(out)))
    one_line_error(result, "line 2", "model fs2s", "no FastSpeech 2s waveform decoder")
    assert not list(out.glob("*.wav"))


def test_resume_after_ctrl_c_and_after_editing_three_lines(
    tiny_checkpoint: Path, tmp_path: Path
) -> None:
    rows = _mixed_rows(40)
    source = _write_jsonl(tmp_path / "lines.jsonl", rows)
    out = tmp_path / "clips"
    batch = ("--in", str(source), "--out", str(out), "--batch-size", "2")
    args = [sys.executable, "-m", "ttscli", *_fs2(tiny_checkpoint, *batch)]
    code = interrupt_after_files(args, out, 6)
    assert code != 0
    done = {entry["id"] for entry in _manifest(out)}
    assert 0 < len(done) < 40
    result = run_cli(*args[3:], "--json")
    ok(result)
    summary = json.loads(result.stdout)
    assert summary["skipped"] == len(done) and summary["written"] == 40 - len(done)
    ids = [entry["id"] for entry in _manifest(out)]
    assert sorted(ids) == sorted(row["id"] for row in rows)  # every id exactly once

    before = {p.name: p.stat().st_mtime_ns for p in out.glob("*.wav")}
    rows[3]["text"] = "An edited line of text."
    rows[10]["pitch"] = 0.9
    rows[20] = {"id": rows[20]["id"], "ssml": "<speak>Now <break time='300ms'/> marked up.</speak>"}
    rows.insert(0, rows.pop(30))  # a line that only moved is not made again
    _write_jsonl(source, rows)
    again = run_cli(*args[3:], "--json")
    ok(again)
    assert json.loads(again.stdout)["written"] == 3
    after = {p.name: p.stat().st_mtime_ns for p in out.glob("*.wav")}
    changed = {name for name in after if after[name] != before[name]}
    assert changed == {f"{rows_id}.wav" for rows_id in ("clip-003", "clip-010", "clip-020")}
    entries = _manifest(out)
    assert sorted(e["id"] for e in entries) == sorted(row["id"] for row in rows)
    by_id = {e["id"]: e for e in entries}
    assert by_id["clip-003"]["text"] == "An edited line of text."
    assert by_id["clip-010"]["options"]["pitch"] == 0.9
    assert by_id["clip-020"]["ssml"] is True


HOSTILE = [
    ({"id": "../escape", "text": "Hi."}, "path separators"),
    ({"id": "/etc/x", "text": "Hi."}, "path separators"),
    ({"id": "nul\u0000byte", "text": "Hi."}, "control characters"),
    ({"id": "..", "text": "Hi."}, "dot"),
    ({"id": "CON", "text": "Hi."}, "reserved"),
    ({"id": "x" * 201, "text": "Hi."}, "200 bytes"),
    ({"id": 7, "text": "Hi."}, "id: expected a string"),
    ({"text": "Hi."}, 'no "id"'),
    ({"id": "a"}, 'one of "text"'),
    ({"id": "a", "text": "   "}, "text: empty"),
    ({"id": "a", "text": "Hi.", "pitch": "high"}, "pitch: expected a number"),
    ({"id": "a", "text": "Hi.", "pitch": 99}, "pitch: must be between"),
    ({"id": "a", "text": "Hi.", "volume": 2}, 'unknown field "volume"'),
    ({"id": "a", "text": "Hi.", "model": "fs3"}, "model: one of auto, fs2, fs2s"),
    ({"id": "a", "text": "Hi.", "vocoder": "griffin-lim"}, 'unknown field "vocoder"'),
    ({"id": "a", "text": "Hi.", "voice": "vctk/p225"}, 'unknown field "voices"'),
    ({"id": "a", "turns": ["Hi.", "Hello."]}, "two voices"),
    ({"id": "a", "ssml": "<speak>Hi"}, "SSML"),
]


@pytest.mark.parametrize(("row", "message"), HOSTILE)
def test_hostile_lines_fail_before_any_model_loads(
    tiny_checkpoint: Path, tmp_path: Path, row: dict, message: str
) -> None:
    """``--device cuda`` would fail the model's load (there is no GPU here): the line's
    error comes first, and nothing is written."""
    rows = [{"id": "fine", "text": "A good line."}, row]
    source = tmp_path / "in" / "lines.jsonl"
    source.parent.mkdir()
    _write_jsonl(source, rows)
    out = tmp_path / "out" / "clips"
    result = run_cli(*_fs2(tiny_checkpoint, "--in", str(source), "--out", str(out)),
                     "--device", "cuda")  # fmt: skip
    line = one_line_error(result, "line 2", message)
    assert "cuda" not in line.lower()
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["lines.jsonl"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"id": "a", "text": "Hi."}\n{"id": "A", "text": "Again."}\n', "used twice"),
        (b'{"id": "a", "text": "Hi."}\n{"id": "b", "text": "\xff\xfe"}\n', "not UTF-8"),
        (b'{"id": "a", "text": "Hi."}\n{"id": "b", "text": "' + b"x" * 10_000_000 + b'"}\n',
         "longer than 1 MB"),
        (b'{"id": "a", "text": "Hi."}\n[1, 2]\n', "not a JSON object"),
        (b'{"id": "a", "text": "Hi."}\n{"id": "b", "text": \n', "not a JSON object"),
    ],
)  # fmt: skip
def test_hostile_files_are_one_line_errors(
    tiny_checkpoint: Path, tmp_path: Path, content: bytes, message: str
) -> None:
    source = tmp_path / "lines.jsonl"
    source.write_bytes(content)
    out = tmp_path / "clips"
    result = run_cli(*_fs2(tiny_checkpoint, "--in", str(source), "--out", str(out)))
    one_line_error(result, "line 2", message)
    assert not out.exists() or not any(out.iterdir())


def test_a_hundred_thousand_lines_are_checked_in_full_first(
    tiny_checkpoint: Path, tmp_path: Path
) -> None:
    """A bad last line of a long file fails the run before the first line is spoken."""
    source = tmp_path / "lines.jsonl"
    with source.open("w", encoding="utf-8") as handle:
        for n in range(1, 100_000):
            handle.write(json.dumps({"id": f"line-{n}", "text": "Hello there."}) + "\n")
        handle.write(json.dumps({"id": "line-1", "text": "A repeated id."}) + "\n")
    out = tmp_path / "clips"
    result = run_cli(*_fs2(tiny_checkpoint, "--in", str(source), "--out", str(out)))
    one_line_error(result, "line 100000", "used twice")
    assert not out.exists() or not any(out.iterdir())


def test_pipe_separated_files_name_outputs_by_id(tiny_checkpoint: Path, tmp_path: Path) -> None:
    source = tmp_path / "metadata.csv"
    source.write_text("LJ001-0001|Hello world.\nLJ001-0002|A line with | a bar in it.\n")
    out = tmp_path / "wavs"
    ok(run_cli(*_fs2(tiny_checkpoint, "--in", str(source), "--out", str(out))))
    entries = _manifest(out)
    assert [e["path"] for e in entries] == ["LJ001-0001.wav", "LJ001-0002.wav"]
    assert entries[1]["text"] == "A line with | a bar in it."
    three = tmp_path / "voices.psv"
    three.write_text("a|vctk/p225|Hello.\n")
    result = run_cli(*_fs2(tiny_checkpoint, "--in", str(three), "--out", str(out)))
    one_line_error(result, "line 1", "voice column", "one voice")


def test_speak_jsonl_mixes_voices_and_dialogues(tiny_kyutai: TinyKyutai, tmp_path: Path) -> None:
    voice = tiny_kyutai.voice_name
    rows = [
        {"id": "first", "text": "Hello world.", "voice": OTHER_VOICES[0]},
        {"id": "second", "text": "Hello world."},
        {"id": "talk", "turns": ["Hello there.", "Hi, how are you?"],
         "voices": [voice, OTHER_VOICES[1]], "padding_between": 2},
        {"id": "paced", "text": "Hello world.", "padding_bonus": 2.0},
    ]  # fmt: skip
    source = _write_jsonl(tmp_path / "lines.jsonl", rows)
    out = tmp_path / "clips"
    args = speak_args(tiny_kyutai, "--in", str(source), "--out", str(out), "--n-q", "8",
                      "--temp", "0", "--timestamps", "vtt")  # fmt: skip
    ok(run_cli(*args, env=speak_env(tiny_kyutai)))
    audio = {e["id"]: sf.read(str(out / e["path"]), dtype="float32")[0] for e in _manifest(out)}
    n = min(len(audio["first"]), len(audio["second"]))
    assert np.abs(audio["first"][:n] - audio["second"][:n]).max() > 1e-3  # another voice
    vtt = (out / "talk.vtt").read_text()
    assert "<v S1>Hello" in vtt and "<v S2>Hi," in vtt
    pipes = tmp_path / "voices.psv"
    pipes.write_text(f"first|{OTHER_VOICES[0]}|Hello world.\n")
    again = tmp_path / "again"
    ok(run_cli(*speak_args(tiny_kyutai, "--in", str(pipes), "--out", str(again), "--n-q", "8",
                           "--temp", "0"), env=speak_env(tiny_kyutai)))  # fmt: skip
    same, _ = sf.read(str(again / "first.wav"), dtype="float32")
    np.testing.assert_allclose(same, audio["first"], atol=1e-4)  # batched with others


def test_speak_dialogue_on_the_command_line(tiny_kyutai: TinyKyutai, tmp_path: Path) -> None:
    env = speak_env(tiny_kyutai)
    text = "[S1] Hello there. [S2] Hi, how are you?"
    base = ["--voice", OTHER_VOICES[0], "--n-q", "8", "--temp", "0"]
    whole = tmp_path / "whole.wav"
    ok(run_cli(*speak_args(tiny_kyutai, text, *base, "--out", str(whole),
                           "--timestamps", str(tmp_path / "t.json")), env=env))  # fmt: skip
    words = json.loads((tmp_path / "t.json").read_text())["words"]
    assert [(w["word"], w["speaker"]) for w in words] == [
        ("Hello", 1), ("there.", 1), ("Hi,", 2), ("how", 2), ("are", 2), ("you?", 2)
    ]  # fmt: skip
    piped = run_cli(*speak_args(tiny_kyutai, "-", *base, "--out", "-"), env=env,
                    input=b"Hello there.\nHi, how are you?\n")  # fmt: skip
    ok(piped)
    reference, _ = sf.read(str(whole), dtype="int16")
    assert np.frombuffer(piped.stdout, dtype="<i2").tolist() == reference.tolist()
    three = run_cli(*speak_args(tiny_kyutai, text, *base, "--voice", OTHER_VOICES[1]), env=env)
    one_line_error(three, "--voice given 3 times")
    bad = run_cli(*speak_args(tiny_kyutai, "[S1] Hi. [S3] Who?", *base, "--out", str(whole)),
                  env=env)  # fmt: skip
    one_line_error(bad, "[S1] and [S2]")


def test_padding_knobs_are_checked(tiny_kyutai: TinyKyutai) -> None:
    env = speak_env(tiny_kyutai)
    result = run_cli(*speak_args(tiny_kyutai, "Hi.", "--padding-bonus", "9"), env=env)
    one_line_error(result, "padding-bonus", "between -6 and 6")
    result = run_cli(*speak_args(tiny_kyutai, "Hi.", "--padding-between", "-1"), env=env)
    one_line_error(result, "padding-between")


def test_fs2_takes_no_voice(tiny_checkpoint: Path) -> None:
    for voices in (["--voice", "a"], ["--voice", "a", "--voice", "b"]):
        result = run_cli(*_fs2(tiny_checkpoint, "Hello.", *voices))
        one_line_error(result, "--voice", "ttscli speak")
