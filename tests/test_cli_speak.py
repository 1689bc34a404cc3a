"""`ttscli speak` / `voices` end to end, in real processes, on the tiny Kyutai checkpoint."""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import AlsaCapture, interrupt_while_playing, run_cli
from tests.kyutai_fixture import TinyKyutai
from tests.loopback_hub import dropping_hub
from tests.test_cli_fs2 import ok, one_line_error

RATE = 24000


def speak_env(tiny: TinyKyutai, base: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(base if base is not None else os.environ)
    env["HF_HOME"] = str(tiny.hf_home)
    env["HF_HUB_OFFLINE"] = "1"
    env.pop("HF_HUB_CACHE", None)
    return env


def speak_args(tiny: TinyKyutai, *args: str) -> list[str]:
    return [
        "speak",
        *args,
        "--hf-repo",
        tiny.model_repo,
        "--voice-repo",
        tiny.voice_repo,
        "--voice",
        tiny.voice_name,
        "--device",
        "cpu",
        "--seed",
        "7",
    ]


def speak(tiny: TinyKyutai, *args: str, env: dict[str, str] | None = None, **kwargs):
    return run_cli(*speak_args(tiny, *args), env=speak_env(tiny, env), **kwargs)


def test_writes_a_file_that_grows_with_the_text(tiny_kyutai: TinyKyutai, tmp_path: Path) -> None:
    short, long = tmp_path / "short.wav", tmp_path / "long.flac"
    ok(speak(tiny_kyutai, "Hello world.", "--out", str(short)))
    ok(
        speak(
            tiny_kyutai,
            "Hello world. The quick brown fox jumps over the lazy dog.",
            "--out",
            str(long),
        )
    )
    assert sf.info(str(short)).samplerate == RATE
    assert sf.info(str(long)).frames > sf.info(str(short)).frames > 0


def test_plays_through_the_sound_card(
    tiny_kyutai: TinyKyutai, tmp_path: Path, alsa_capture: AlsaCapture
) -> None:
    wav = tmp_path / "ref.wav"
    ok(speak(tiny_kyutai, "Hello world, how are you?", "--out", str(wav)))
    result = speak(tiny_kyutai, "Hello world, how are you?", env=alsa_capture.env())
    ok(result)
    assert "underruns" in result.stderr.decode()
    played = AlsaCapture.read(alsa_capture.default_raw)
    reference, _ = sf.read(str(wav), dtype="float32")
    assert len(played) >= len(reference) > 0
    np.testing.assert_allclose(played[: len(reference)], reference, atol=2e-3)


def test_stdin_words_are_spoken_before_stdin_closes(tiny_kyutai: TinyKyutai) -> None:
    """Feed words slowly through a pipe and see audio on stdout while the pipe is open."""
    process = subprocess.Popen(
        [sys.executable, "-m", "ttscli", *speak_args(tiny_kyutai, "--out", "-", "--quiet")],
        env=speak_env(tiny_kyutai),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdin is not None and process.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    words = "one two three four five six seven eight nine ten eleven twelve".split()
    audio_before_eof = b""
    deadline = time.monotonic() + 90
    try:
        for word in words * 3:
            process.stdin.write((word + " ").encode())
            process.stdin.flush()
            if selector.select(timeout=0.3):
                audio_before_eof += os.read(process.stdout.fileno(), 1 << 16)
            if audio_before_eof or time.monotonic() > deadline:
                break
        while not audio_before_eof and time.monotonic() < deadline:
            if selector.select(timeout=0.5):
                audio_before_eof += os.read(process.stdout.fileno(), 1 << 16)
        assert audio_before_eof, "no audio arrived while stdin was still open"
        assert process.poll() is None, "ttscli ended before its input did"
        process.stdin.close()
        rest = process.stdout.read()
        assert process.wait(timeout=60) == 0, process.stderr.read().decode()
    finally:
        process.kill()
    total = len(audio_before_eof) + len(rest)
    assert total % 2 == 0 and total > len(audio_before_eof)


def test_read_all_mode_and_dash(tiny_kyutai: TinyKyutai, tmp_path: Path) -> None:
    ok(speak(tiny_kyutai, "-", "--read-all", "--out", str(tmp_path / "a.wav"), input=b"Hi there."))
    assert sf.info(str(tmp_path / "a.wav")).frames > 0


def test_batch_writes_manifest_and_resumes(tiny_kyutai: TinyKyutai, tmp_path: Path) -> None:
    lines = tmp_path / "lines.txt"
    lines.write_text("Hello world.\nA second, longer line of text.\nThird.\n")
    out = tmp_path / "clips"
    result = speak(tiny_kyutai, "--in", str(lines), "--out", str(out), "--json")
    ok(result)
    assert json.loads(result.stdout)["written"] == 3
    manifest = [json.loads(x) for x in (out / "manifest.jsonl").read_text().splitlines()]
    assert [m["index"] for m in manifest] == [1, 2, 3]
    for entry in manifest:
        assert entry["phonemes"] is None
        assert sf.info(str(out / entry["path"])).samplerate == RATE
    again = speak(tiny_kyutai, "--in", str(lines), "--out", str(out), "--json")
    ok(again)
    assert json.loads(again.stdout)["skipped"] == 3


@pytest.mark.parametrize("suffix", [".json", ".srt"])
def test_timestamps_file(tiny_kyutai: TinyKyutai, tmp_path: Path, suffix: str) -> None:
    stamps = tmp_path / f"words{suffix}"
    ok(
        speak(
            tiny_kyutai,
            "Hello world again.",
            "--out",
            str(tmp_path / "a.wav"),
            "--timestamps",
            str(stamps),
        )
    )
    text = stamps.read_text()
    if suffix == ".json":
        words = json.loads(text)["words"]
        assert words and all(w["end"] >= w["start"] >= 0 for w in words)
        starts = [w["start"] for w in words]
        assert starts == sorted(starts)
    else:
        first = text.split("\n\n")[0].splitlines()
        assert first[0] == "1"
        assert " --> " in first[1] and first[1].count(":") == 4 and "," in first[1]


def test_missing_weights_is_one_line_error(tmp_path: Path) -> None:
    with dropping_hub() as hub:
        env = dict(
            os.environ, HF_HOME=str(tmp_path / "empty"), HF_HUB_OFFLINE="1", HF_ENDPOINT=hub.url
        )
        result = run_cli("speak", "Hello.", "--out", str(tmp_path / "a.wav"), env=env)
    one_line_error(result, "missing", "config.json", "download")
    assert hub.connections == []  # offline means no connection, so no wait for one


def test_unknown_voice_is_one_line_error(tiny_kyutai: TinyKyutai, tmp_path: Path) -> None:
    args = speak_args(tiny_kyutai, "Hello.", "--out", str(tmp_path / "a.wav"))
    args[args.index(tiny_kyutai.voice_name)] = "vctk/nobody.wav"
    one_line_error(run_cli(*args, env=speak_env(tiny_kyutai)), "nobody", "ttscli voices")
    assert not (tmp_path / "a.wav").exists()


def test_voices_lists_cached_voices_with_licences(tiny_kyutai: TinyKyutai) -> None:
    result = run_cli(
        "voices",
        "--voice-repo",
        tiny_kyutai.voice_repo,
        "--hf-repo",
        tiny_kyutai.model_repo,
        "--offline",
        env=speak_env(tiny_kyutai),
    )
    ok(result)
    text = result.stdout.decode()
    assert tiny_kyutai.voice_name in text
    assert "NON-COMMERCIAL" in text.upper()


def test_attribution_in_version_and_help() -> None:
    version = run_cli("--version")
    ok(version)
    assert "CC-BY 4.0" in version.stdout.decode()
    assert "CC-BY 4.0" in run_cli("--help").stdout.decode()


def test_ctrl_c_stops_playback_promptly(tiny_kyutai: TinyKyutai, alsa_capture: AlsaCapture) -> None:
    args = speak_args(tiny_kyutai, "One two three four five six seven eight. " * 100)
    env = speak_env(tiny_kyutai, alsa_capture.env())
    code, stderr, samples_after = interrupt_while_playing(args, env, alsa_capture.default_raw)
    assert code == 130, stderr
    assert stderr.strip().splitlines()[-1] == "interrupted"
    # The whole text is minutes of audio; only what was already queued may still play.
    assert samples_after < 20 * 24000


def _few_codebooks(tiny: TinyKyutai, *args: str) -> list[str]:
    base = speak_args(tiny, *args)
    base[base.index("--hf-repo") + 1] = tiny.few_codebooks_repo
    return base


def test_n_q_defaults_to_the_models_own_codebooks(tiny_kyutai: TinyKyutai, tmp_path: Path) -> None:
    """A checkpoint with fewer than 32 codebooks speaks without --n-q; more than it has is
    still a one-line error."""
    out = tmp_path / "a.wav"
    env = speak_env(tiny_kyutai)
    result = run_cli(
        *_few_codebooks(tiny_kyutai, "Hello world.", "--out", str(out), "--json"), env=env
    )
    ok(result)
    assert "8 codebooks" in result.stderr.decode()
    assert sf.info(str(out)).frames > 0
    too_many = _few_codebooks(tiny_kyutai, "Hello.", "--out", str(out), "--n-q", "9")
    one_line_error(run_cli(*too_many, env=env), "--n-q 9", "at most 8")


@pytest.mark.parametrize("size", ["0", "-5"])
@pytest.mark.parametrize("command", ["speak", "fs2"])
def test_batch_size_below_one_is_refused(
    tiny_kyutai: TinyKyutai, tiny_checkpoint: Path, tmp_path: Path, command: str, size: str
) -> None:
    lines = tmp_path / "lines.txt"
    lines.write_text("Hello.\n")
    for where in (
        ["--in", str(lines), "--out", str(tmp_path / "clips")],
        ["Hi.", "--out", str(tmp_path / "a.wav")],
    ):
        if command == "speak":
            result = speak(tiny_kyutai, *where, "--batch-size", size)
        else:
            result = run_cli(
                "fs2", "--checkpoint", str(tiny_checkpoint), *where, "--batch-size", size
            )
        one_line_error(result, f"--batch-size {size}", "at least 1")
    assert not (tmp_path / "clips").exists() and not (tmp_path / "a.wav").exists()
