"""`ttscli fs2` end to end, in real processes, with the tiny checkpoint."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import AlsaCapture, interrupt_while_playing, run_cli
from tests.fs2_fixture import FRAMES_PER_PHONEME, make_tiny_model
from ttscli.fs2.checkpoint import save_checkpoint

HOP = 256


def fs2(checkpoint: Path, *args: str, **kwargs):
    return run_cli("fs2", "--checkpoint", str(checkpoint), "--device", "cpu", *args, **kwargs)


def ok(result) -> None:
    assert result.returncode == 0, result.stderr.decode()


def one_line_error(result, *fragments: str) -> str:
    """A user error: non-zero exit, one line on stderr, no traceback; the line."""
    assert result.returncode != 0
    stderr = result.stderr.decode()
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("ext", ["wav", "flac", "ogg"])
def test_writes_audio_files(tiny_checkpoint: Path, tmp_path: Path, ext: str) -> None:
    out = tmp_path / f"hello.{ext}"
    ok(fs2(tiny_checkpoint, "Hello world.", "--out", str(out)))
    info = sf.info(str(out))
    assert info.samplerate == 22050 and info.channels == 1
    # "Hello world." -> HH AH0 L OW1 W ER1 L D . : 9 symbols of 5 frames
    assert info.frames == pytest.approx(9 * FRAMES_PER_PHONEME * HOP, rel=0.01)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]


def test_stdout_streams_pcm16_matching_the_file(tiny_checkpoint: Path, tmp_path: Path) -> None:
    wav = tmp_path / "a.wav"
    ok(fs2(tiny_checkpoint, "Hello world.", "--out", str(wav), "--quiet"))
    result = fs2(tiny_checkpoint, "Hello world.", "--out", "-", "--quiet")
    ok(result)
    pcm = np.frombuffer(result.stdout, dtype="<i2")
    reference, _ = sf.read(str(wav), dtype="int16")
    assert len(pcm) == len(reference)
    # Same samples; libsndfile's float -> int16 rounding differs from ours by a few LSB.
    assert np.abs(pcm.astype(int) - reference.astype(int)).max() <= 3


def test_duration_flag_doubles_length(tiny_checkpoint: Path, tmp_path: Path) -> None:
    ok(fs2(tiny_checkpoint, "Hello world.", "--out", str(tmp_path / "a.wav")))
    ok(fs2(tiny_checkpoint, "Hello world.", "--duration", "2", "--out", str(tmp_path / "b.wav")))
    ratio = sf.info(str(tmp_path / "b.wav")).frames / sf.info(str(tmp_path / "a.wav")).frames
    assert ratio == pytest.approx(2.0, rel=0.1)


def test_reads_piped_stdin_and_dash(tiny_checkpoint: Path, tmp_path: Path) -> None:
    ok(fs2(tiny_checkpoint, "--out", str(tmp_path / "a.wav"), input=b"Hello world.\n"))
    ok(fs2(tiny_checkpoint, "-", "--out", str(tmp_path / "b.wav"), input=b"Hello world.\n"))
    assert sf.info(str(tmp_path / "a.wav")).frames == sf.info(str(tmp_path / "b.wav")).frames


def test_long_text_is_spoken_sentence_by_sentence(tiny_checkpoint: Path, tmp_path: Path) -> None:
    result = fs2(
        tiny_checkpoint,
        "Hello world. How are you? Fine!",
        "--out",
        str(tmp_path / "a.wav"),
        "--json",
        "--phonemes",
    )
    ok(result)
    lines = result.stdout.decode().splitlines()
    summary = json.loads(lines[-1])
    assert [s["phonemes"].split()[-1] for s in summary["sentences"]] == [".", "?", "!"]
    assert lines[0] == "HH AH0 L OW1 W ER1 L D ."
    total = sum(s["seconds"] for s in summary["sentences"])
    assert sf.info(str(tmp_path / "a.wav")).duration == pytest.approx(total, abs=0.01)


def test_plot_writes_a_png(tiny_checkpoint: Path, tmp_path: Path) -> None:
    plot = tmp_path / "prosody.png"
    ok(fs2(tiny_checkpoint, "Hello world.", "--out", str(tmp_path / "a.wav"), "--plot", str(plot)))
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_fs2s_writes_audio(tiny_checkpoint: Path, tmp_path: Path) -> None:
    ok(fs2(tiny_checkpoint, "Hello world.", "--model", "fs2s", "--out", str(tmp_path / "s.wav")))
    assert sf.info(str(tmp_path / "s.wav")).frames == 9 * FRAMES_PER_PHONEME * HOP


@pytest.mark.parametrize(
    ("wave_decoder", "extra", "used"),
    [
        (True, [], "fs2s"),  # the default: the waveform decoder, where the voice has one
        (True, ["--vocoder", "griffin-lim"], "fs2"),  # a named vocoder means the mel path
        (True, ["--model", "fs2"], "fs2"),
        (False, [], "fs2"),  # a mel-only checkpoint speaks through its vocoder
    ],
)
def test_model_auto_picks_the_decoder(
    tmp_path: Path, wave_decoder: bool, extra: list[str], used: str
) -> None:
    folder = tmp_path / "voice"
    save_checkpoint(make_tiny_model(wave_decoder=wave_decoder), folder)
    result = fs2(folder, "Hello world.", *extra, "--out", str(tmp_path / "a.wav"), "--json")
    ok(result)
    assert json.loads(result.stdout.decode().splitlines()[-1])["model"] == used


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_precision_names_the_vocoder_arithmetic(
    tiny_checkpoint: Path, tmp_path: Path, precision: str
) -> None:
    out = tmp_path / "a.wav"
    result = fs2(
        tiny_checkpoint, "Hello world.", "--precision", precision, "--out", str(out), "--json"
    )
    ok(result)
    assert json.loads(result.stdout.decode().splitlines()[-1])["precision"] == precision
    assert sf.info(str(out)).frames == 9 * FRAMES_PER_PHONEME * HOP  # durations stay float32


def test_fs2s_on_a_mel_only_checkpoint_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "voice"
    save_checkpoint(make_tiny_model(wave_decoder=False), folder)
    result = fs2(folder, "Hello.", "--model", "fs2s", "--out", str(tmp_path / "a.wav"))
    one_line_error(result, "no FastSpeech 2s waveform decoder")


def test_batch_writes_files_and_manifest_then_resumes(
    tiny_checkpoint: Path, tmp_path: Path
) -> None:
    lines = tmp_path / "lines.txt"
    lines.write_text("Hello world.\n\nA much longer line, with more words in it.\nHi.\n")
    out = tmp_path / "out"
    result = fs2(tiny_checkpoint, "--in", str(lines), "--out", str(out), "--json")
    ok(result)
    assert json.loads(result.stdout)["written"] == 3
    manifest = [json.loads(x) for x in (out / "manifest.jsonl").read_text().splitlines()]
    assert [m["index"] for m in manifest] == [1, 3, 4]
    for entry in manifest:
        assert set(entry) == {"index", "text", "phonemes", "seconds", "path"}
        info = sf.info(str(out / entry["path"]))
        assert info.duration == pytest.approx(entry["seconds"], abs=0.002)
    assert manifest[0]["phonemes"] == "HH AH0 L OW1 W ER1 L D ."
    first = out / manifest[0]["path"]
    before = first.stat().st_mtime_ns

    # A crash left a half-written file and lost one entry: the rerun redoes only that.
    (out / ".0004.wav.abc.part").write_bytes(b"RIFF")
    kept = [m for m in manifest if m["index"] != 4]
    (out / "manifest.jsonl").write_text("".join(json.dumps(m) + "\n" for m in kept) + '{"ind')
    result = fs2(tiny_checkpoint, "--in", str(lines), "--out", str(out), "--json")
    ok(result)
    assert json.loads(result.stdout) | {"seconds": 0} == {
        "written": 1,
        "skipped": 2,
        "seconds": 0,
        "manifest": str(out / "manifest.jsonl"),
    }
    assert first.stat().st_mtime_ns == before
    assert not list(out.glob("*.part")) and not list(out.glob(".*.part"))
    assert len((out / "manifest.jsonl").read_text().splitlines()) == 3


def test_in_file_with_one_output_file_speaks_the_whole_file(
    tiny_checkpoint: Path, tmp_path: Path
) -> None:
    lines = tmp_path / "chapter.txt"
    lines.write_text("Hello world.\nHello world.\n")
    ok(fs2(tiny_checkpoint, "--in", str(lines), "--out", str(tmp_path / "c.wav")))
    assert sf.info(str(tmp_path / "c.wav")).frames == 2 * 9 * FRAMES_PER_PHONEME * HOP


def test_plays_on_the_default_sound_card(
    tiny_checkpoint: Path, tmp_path: Path, alsa_capture: AlsaCapture
) -> None:
    wav = tmp_path / "ref.wav"
    ok(fs2(tiny_checkpoint, "Hello world.", "--out", str(wav)))
    ok(fs2(tiny_checkpoint, "Hello world.", env=alsa_capture.env()))
    played = AlsaCapture.read(alsa_capture.default_raw)
    reference, _ = sf.read(str(wav), dtype="float32")
    # Everything was played (PortAudio may pad the last period with silence).
    assert len(played) >= len(reference)
    assert np.abs(played[len(reference) :]).max(initial=0) < 1e-3
    np.testing.assert_allclose(played[: len(reference)], reference, atol=2e-3)


def test_output_device_selects_another_card(
    tiny_checkpoint: Path, alsa_capture: AlsaCapture
) -> None:
    listed = run_cli("devices", env=alsa_capture.env())
    ok(listed)
    assert "ttscli_second" in listed.stdout.decode()
    ok(
        fs2(
            tiny_checkpoint,
            "Hello world.",
            "--output-device",
            "ttscli_second",
            env=alsa_capture.env(),
        )
    )
    played = AlsaCapture.read(alsa_capture.second_raw)
    # The second device runs at 44.1 kHz: ALSA's plug converts our 22.05 kHz stream.
    assert len(played) >= 2 * 9 * FRAMES_PER_PHONEME * HOP * 0.99
    assert np.abs(played).max() > 0.01
    assert not alsa_capture.default_raw.exists() or alsa_capture.default_raw.stat().st_size == 0


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["", "--out", "{tmp}/a.wav"], ["nothing to say"]),
        (["   ", "--out", "{tmp}/a.wav"], ["nothing to say"]),
        (["...", "--out", "{tmp}/a.wav"], ["nothing to say"]),
        (["Hi.", "--out", "{tmp}/a.mp3"], ["unknown audio format .mp3"]),
        (["Hi.", "--out", "{tmp}/missing/a.wav"], ["does not exist"]),
        (["Hi.", "--pitch", "0", "--out", "{tmp}/a.wav"], ["--pitch"]),
        (["Hi.", "--energy", "-1", "--out", "{tmp}/a.wav"], ["--energy"]),
        (["Hi.", "--duration", "nan", "--out", "{tmp}/a.wav"], ["--duration"]),
        (["Hi.", "--duration", "1000", "--out", "{tmp}/a.wav"], ["--duration"]),
        (["--in", "{tmp}/none.txt", "--out", "{tmp}/dir"], ["none.txt", "not found"]),
        (["--in", "{tmp}", "--out", "{tmp}/dir"], ["is a folder"]),
        (["{{XX Y}} hi", "--out", "{tmp}/a.wav"], ["XX"]),
        (["Hi.", "--plot", "{tmp}/p.jpg", "--out", "{tmp}/a.wav"], ["PNG"]),
    ],
)
def test_bad_input_is_one_line_error(
    tiny_checkpoint: Path, tmp_path: Path, args: list[str], fragments: list[str]
) -> None:
    result = fs2(tiny_checkpoint, *[a.format(tmp=tmp_path) for a in args])
    one_line_error(result, *fragments)
    assert not (tmp_path / "a.wav").exists()


@pytest.mark.parametrize("flag", ["--model", "--precision"])
def test_a_value_outside_a_flags_choices_is_a_usage_error(
    tiny_checkpoint: Path, tmp_path: Path, flag: str
) -> None:
    """A usage error, as typer shows one (exit 2), naming the flag: never a traceback."""
    result = fs2(tiny_checkpoint, "Hi.", flag, "half", "--out", str(tmp_path / "a.wav"))
    stderr = result.stderr.decode()
    assert result.returncode == 2 and "Traceback" not in stderr, stderr
    assert f"Invalid value for '{flag}'" in stderr and "'half' is not one of" in stderr
    assert not (tmp_path / "a.wav").exists()


def test_unwritable_batch_folder_is_one_line_error(tiny_checkpoint: Path, tmp_path: Path) -> None:
    lines = tmp_path / "lines.txt"
    lines.write_text("Hi.\n")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    one_line_error(fs2(tiny_checkpoint, "--in", str(lines), "--out", str(blocker / "dir")))


def test_missing_and_corrupt_checkpoints(tiny_checkpoint: Path, tmp_path: Path) -> None:
    one_line_error(
        run_cli(
            "fs2", "Hi.", "--checkpoint", str(tmp_path / "nope"), "--out", str(tmp_path / "a.wav")
        ),
        "nope",
    )
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    for f in tiny_checkpoint.iterdir():
        (corrupt / f.name).write_bytes(f.read_bytes())
    (corrupt / "config.json").write_text("{not json")
    one_line_error(fs2(corrupt, "Hi.", "--out", str(tmp_path / "a.wav")), "config.json")


def test_failed_run_keeps_the_existing_file(tiny_checkpoint: Path, tmp_path: Path) -> None:
    out = tmp_path / "keep.wav"
    ok(fs2(tiny_checkpoint, "Hello world.", "--out", str(out)))
    before = out.read_bytes()
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    for f in tiny_checkpoint.iterdir():
        (corrupt / f.name).write_bytes(f.read_bytes())
    (corrupt / "model.safetensors").write_bytes(b"broken")
    one_line_error(fs2(corrupt, "Other words.", "--out", str(out)), "model.safetensors")
    one_line_error(fs2(tiny_checkpoint, "{QQ} words", "--out", str(out)), "QQ")
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corrupt", "keep.wav"]


@pytest.mark.skipif(Path("/dev/snd").exists(), reason="this machine has a sound card")
def test_no_sound_device_is_one_line_error(tiny_checkpoint: Path, tmp_path: Path) -> None:
    # The stock ALSA configuration on a machine without sound hardware (like CI).
    env = dict(os.environ, HOME=str(tmp_path))
    env.pop("ALSA_CONFIG_PATH", None)
    one_line_error(fs2(tiny_checkpoint, "Hello.", env=env), "no sound output device")


def test_help_lists_every_flag() -> None:
    result = run_cli("fs2", "--help", env=dict(os.environ, COLUMNS="200"))
    ok(result)
    text = result.stdout.decode()
    for flag in [
        "--in",
        "--out",
        "--output-device",
        "--model",
        "--checkpoint",
        "--vocoder",
        "--device",
        "--pitch",
        "--energy",
        "--duration",
        "--phonemes",
        "--plot",
        "--json",
        "--quiet",
        "--batch-size",
        "--format",
    ]:
        assert flag in text, flag


def test_ctrl_c_stops_playback_promptly(tiny_checkpoint: Path, alsa_capture: AlsaCapture) -> None:
    text = "This sentence is one of many. " * 300
    args = ["fs2", text, "--checkpoint", str(tiny_checkpoint), "--device", "cpu"]
    code, stderr, samples_after = interrupt_while_playing(
        args, alsa_capture.env(), alsa_capture.default_raw
    )
    assert code == 130, stderr
    assert stderr.strip() == "interrupted"
    # The whole text is minutes of audio; only what was already queued may still play.
    assert samples_after < 20 * 24000


def test_vocoder_and_prosody_flags(tiny_checkpoint: Path, tmp_path: Path) -> None:
    from tests.test_fs2_model import SMALL_V3, _public_hifigan_checkpoint

    _public_hifigan_checkpoint(tmp_path / "hifigan", SMALL_V3)
    generator = tmp_path / "hifigan" / "generator_v3"
    for vocoder, name in [(str(generator), "hifigan"), ("griffin-lim", "griffin-lim")]:
        out = tmp_path / f"{name}.wav"
        args = ["Hello world.", "--vocoder", vocoder, "--pitch", "1.5", "--energy", "1.2"]
        result = fs2(tiny_checkpoint, *args, "--out", str(out), "--json")
        ok(result)
        assert json.loads(result.stdout)["vocoder"].startswith(name)
        assert sf.info(str(out)).frames == 9 * FRAMES_PER_PHONEME * HOP
    one_line_error(
        fs2(tiny_checkpoint, "Hi.", "--vocoder", str(tmp_path / "none.pt"), "--out", str(out)),
        "none.pt",
    )


def test_batch_format_and_batch_size(tiny_checkpoint: Path, tmp_path: Path) -> None:
    lines = tmp_path / "lines.txt"
    lines.write_text("One.\nTwo words.\nThree more words.\n")
    out = tmp_path / "clips"
    args = ["--in", str(lines), "--out", str(out), "--format", "flac", "--batch-size", "2"]
    ok(fs2(tiny_checkpoint, *args))
    assert sorted(p.name for p in out.glob("*.flac")) == ["0001.flac", "0002.flac", "0003.flac"]
    assert sf.info(str(out / "0003.flac")).format == "FLAC"


STREAM_ARGS = ("--device", "cpu", "--out", "-", "--quiet")


def _audio_while_stdin_open(
    checkpoint: Path, pieces: list[bytes], expected_bytes: int
) -> tuple[int, int]:
    """Write ``pieces`` to ``ttscli fs2 --out -`` and keep stdin open; return how many audio
    bytes arrived before stdin was closed, and in all."""
    import selectors
    import subprocess
    import sys
    import time

    process = subprocess.Popen(
        [sys.executable, "-m", "ttscli", "fs2", "--checkpoint", str(checkpoint), *STREAM_ARGS],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdin is not None and process.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    received = 0
    try:
        for piece in pieces:
            process.stdin.write(piece)
            process.stdin.flush()
        # A ceiling for a hang, not a speed target: the audio normally comes in seconds.
        deadline = time.monotonic() + 120
        while received < expected_bytes and time.monotonic() < deadline:
            if selector.select(timeout=1.0):
                data = os.read(process.stdout.fileno(), 1 << 16)
                if not data:
                    break
                received += len(data)
        assert process.poll() is None, "ttscli ended before its input did"
        before_eof = received
        process.stdin.close()
        received += len(process.stdout.read())
        assert process.wait(timeout=120) == 0, process.stderr.read().decode()  # type: ignore[union-attr]
    finally:
        process.kill()
    return before_eof, received


def test_stdin_paragraph_on_one_line_without_final_period_streams(tiny_checkpoint: Path) -> None:
    """An LJSpeech-style line: sentences end mid-line and the last one has no period. Every
    sentence is spoken while stdin stays open: the complete ones as their end arrives, the
    last after the input pauses."""
    sentences = [f"Sentence number {n} is here." for n in range(11)] + ["And a last one"]
    paragraph = " ".join(sentences)
    whole = fs2(tiny_checkpoint, paragraph, "--out", "-", "--quiet")
    ok(whole)
    before_eof, total = _audio_while_stdin_open(
        tiny_checkpoint, [paragraph.encode() + b"\n"], len(whole.stdout)
    )
    assert total == len(whole.stdout)
    assert before_eof == total, "some of the paragraph waited for the end of the input"


def test_stdin_without_newlines_speaks_each_sentence_as_it_ends(tiny_checkpoint: Path) -> None:
    """Tokens as an LLM writes them: no newline at all, sentences end mid-stream, and the
    last fragment is spoken once the writer pauses."""
    whole = fs2(tiny_checkpoint, "Hello there. How are", "--out", "-", "--quiet")
    ok(whole)
    pieces = [b"Hel", b"lo th", b"ere. How", b" are"]
    before_eof, total = _audio_while_stdin_open(tiny_checkpoint, pieces, len(whole.stdout))
    assert before_eof == total == len(whole.stdout)
