"""Faults of the machine, injected for real (no root, no timing): a file-size limit, a full
device, a sound card that fails, damaged downloads, a folder that vanishes mid-batch. Each
gets one line saying what, where and what to do, a non-zero exit, and loses nothing."""

from __future__ import annotations

import json
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import AlsaCapture
from tests.test_cli_fs2 import one_line_error
from tests.test_cli_speak import speak_args, speak_env
from ttscli.kyutai.synthetic import TinyKyutai
from ttscli.util.faults import IO_EXIT_CODE

SHORT = "Yes."
LONG = " ".join(["This line is long enough to be written as a much larger file."] * 4)


def run_limited(args: list[str], limit: int | None = None, **kwargs) -> subprocess.CompletedProcess:
    """``ttscli ARGS`` in a process whose files cannot grow past ``limit`` bytes: the
    writer gets EFBIG, as it would get ENOSPC on a full disk."""

    def limit_files() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        if limit is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    kwargs.setdefault("stdout", subprocess.PIPE)
    return subprocess.run(
        [sys.executable, "-m", "ttscli", *args],
        stderr=subprocess.PIPE,
        timeout=600,
        preexec_fn=limit_files,
        **kwargs,
    )


def one_fault_line(result: subprocess.CompletedProcess, *fragments: str) -> str:
    """A fault of the machine: exit status 74 and one line, as a user error has."""
    assert result.returncode == IO_EXIT_CODE, result.stderr.decode()
    return one_line_error(result, *fragments)


def fs2(checkpoint: Path, *args: str) -> list[str]:
    return ["fs2", *args, "--checkpoint", str(checkpoint), "--vocoder", "griffin-lim", "-q"]


def no_temporary_files(folder: Path) -> None:
    assert not [p.name for p in folder.iterdir() if p.name.endswith(".part")]


def test_a_batch_that_meets_a_size_limit_says_what_is_kept_and_resumes(
    tiny_checkpoint: Path, tmp_path: Path
) -> None:
    lines = tmp_path / "lines.txt"
    lines.write_text("\n".join([SHORT, SHORT + " Yes.", LONG, SHORT + " No."]) + "\n")
    out = tmp_path / "clips"
    limit = 200_000  # the short lines fit, the long one does not
    result = run_limited(fs2(tiny_checkpoint, "--in", str(lines), "--out", str(out)), limit)
    message = one_fault_line(result, "0003.wav", "largest size", "3 of 4 lines are done")
    assert "manifest.jsonl" in message and "run the same command again" in message
    no_temporary_files(out)
    manifest = [json.loads(x) for x in (out / "manifest.jsonl").read_text().splitlines()]
    assert sorted(m["index"] for m in manifest) == [1, 2, 4]
    for entry in manifest:
        assert len(sf.read(out / entry["path"])[0]) > 0
    again = run_limited(fs2(tiny_checkpoint, "--in", str(lines), "--out", str(out), "--json"))
    assert again.returncode == 0, again.stderr.decode()
    assert json.loads(again.stdout)["written"] == 1
    manifest = [json.loads(x) for x in (out / "manifest.jsonl").read_text().splitlines()]
    assert [m["index"] for m in manifest] == [1, 2, 3, 4]
    no_temporary_files(out)


def test_one_file_that_meets_a_size_limit_leaves_nothing_behind(
    tiny_checkpoint: Path, tmp_path: Path
) -> None:
    target = tmp_path / "big.wav"
    target.write_bytes(b"the file that was here before")
    result = run_limited(fs2(tiny_checkpoint, LONG, "--out", str(target)), 100_000)
    one_fault_line(result, str(target), "largest size")
    assert target.read_bytes() == b"the file that was here before"
    no_temporary_files(tmp_path)


def test_raw_audio_into_a_full_device(tiny_checkpoint: Path) -> None:
    with open("/dev/full", "wb") as full:
        result = run_limited(fs2(tiny_checkpoint, SHORT, "--out", "-"), stdout=full)
    one_fault_line(result, "standard output", "no space left")


def test_a_sound_card_that_fails_mid_play(tiny_checkpoint: Path, alsa_capture: AlsaCapture) -> None:
    home = alsa_capture.home
    failing = '{ type file; slave.pcm "null"; file "/dev/full"; format "raw" }'
    (home / ".asoundrc").write_text(
        f"pcm.!default {{ type plug; slave {{ pcm {failing} format S16_LE; channels 1; }} }}\n"
    )
    result = run_limited(fs2(tiny_checkpoint, LONG), env=alsa_capture.env())
    one_fault_line(result, "sound card", "--out")


def test_a_batch_whose_folder_vanishes_mid_run(tiny_checkpoint: Path, tmp_path: Path) -> None:
    """The folder is removed between two mini-batches by the engine wrapper below."""
    from ttscli.fs2.engine import FS2Engine
    from ttscli.run.batch import run_batch
    from ttscli.run.lines import BatchLine
    from ttscli.util.faults import WriteFault

    engine = FS2Engine.load(tiny_checkpoint, vocoder="griffin-lim", device="cpu")
    out = tmp_path / "clips"
    calls = []
    real = engine.synthesize_batch

    def vanish_after_the_first(lines, options=None):
        calls.append(len(lines))
        if len(calls) == 2:
            shutil.rmtree(out)
        return real(lines, options)

    engine.synthesize_batch = vanish_after_the_first  # type: ignore[method-assign]
    lines = [BatchLine(n, f"Line number {n}.") for n in range(1, 5)]
    with pytest.raises(WriteFault) as fault:
        run_batch(engine, lines, out, "wav", engine.options({}), batch_size=2, quiet=True)
    assert "no longer exists" in str(fault.value) and "2 of 4 lines are done" in str(fault.value)


@pytest.mark.parametrize("which", ["lm", "mimi", "tokenizer", "voice"])
def test_a_damaged_kyutai_download_names_the_file(
    tiny_kyutai: TinyKyutai, tmp_path: Path, which: str
) -> None:
    home = tmp_path / "hf_home"
    shutil.copytree(tiny_kyutai.hf_home, home, symlinks=True)
    model = home / "hub" / f"models--{tiny_kyutai.model_repo.replace('/', '--')}"
    voices = home / "hub" / f"models--{tiny_kyutai.voice_repo.replace('/', '--')}"
    names = {
        "lm": next(p for p in model.rglob("*.safetensors") if "mimi" not in p.name),
        "mimi": next(model.rglob("*mimi*.safetensors")),
        "tokenizer": next(model.rglob("*.model")),
        "voice": next(voices.rglob(Path(tiny_kyutai.voice_name).name + "*.safetensors")),
    }
    damaged = names[which]
    data = damaged.read_bytes()
    damaged.unlink()  # a cache may link its snapshots to blobs: cut this file only
    damaged.write_bytes(data[: len(data) // 2])
    env = speak_env(tiny_kyutai)
    env["HF_HOME"] = str(home)
    result = subprocess.run(
        [sys.executable, "-m", "ttscli", *speak_args(tiny_kyutai, "Hello.", "--out",
                                                     str(tmp_path / "a.wav"))],
        capture_output=True, env=env, timeout=600,
    )  # fmt: skip
    message = one_fault_line(result, damaged.name, "damaged", "--force-download")
    assert "hf download" in message
    assert not (tmp_path / "a.wav").exists()


def test_a_server_keeps_serving_when_its_checkpoint_files_change(
    tiny_checkpoint: Path, tmp_path: Path
) -> None:
    from tests.test_serve import start_server

    folder = tmp_path / "voice"
    shutil.copytree(tiny_checkpoint, folder)
    server = start_server("--checkpoint", str(folder), "--vocoder", "griffin-lim")
    try:
        request = {"input": "Hello there.", "response_format": "pcm"}
        status, _, before = server.request("POST", "/v1/audio/speech", request, token=None)
        assert status == 200
        for path in folder.iterdir():
            path.write_bytes(path.read_bytes()[:10])  # changed, cut short, under the server
        status, _, after = server.request("POST", "/v1/audio/speech", request, token=None)
        assert status == 200
        assert np.array_equal(np.frombuffer(before, "<i2"), np.frombuffer(after, "<i2"))
    finally:
        server.process.terminate()
        server.process.wait(timeout=30)


OUT_OF_MEMORY = """
import resource, sys
import torch  # mapped before the limit, as in any process that runs a model
import ttscli.fs2.engine
from ttscli.cli.app import main
from ttscli.text.frontend import text_to_utterances

text_to_utterances("Hello.")  # the front-end's dictionary is read: only the model is left
with open("/proc/self/status") as status:
    size = next(int(x.split()[1]) * 1024 for x in status if x.startswith("VmSize:"))
resource.setrlimit(resource.RLIMIT_AS, (size + 4 * 2**20, size + 4 * 2**20))
sys.argv = ["ttscli", "fs2", "Hello.", "--out", sys.argv[1]]
main()
"""


def test_running_out_of_memory_while_loading_says_which_model_and_how_much(
    tmp_path: Path,
) -> None:
    target = tmp_path / "a.wav"
    result = subprocess.run(
        [sys.executable, "-c", OUT_OF_MEMORY, str(target)], capture_output=True, timeout=600
    )
    message = one_fault_line(result, "not enough memory to load the FastSpeech 2 voice", "MiB")
    assert "assets" in message and not target.exists()


def test_a_cluster_batch_whose_folder_vanishes_says_what_is_kept(
    tiny_checkpoint: Path, tmp_path: Path
) -> None:
    """The Ray driver writes the files: the folder is removed after the first shard."""
    ray = pytest.importorskip("ray")
    from ttscli.cluster.ray_batch import ClusterSettings, run_cluster_batch
    from ttscli.engines.spec import EngineSpec
    from ttscli.run.lines import BatchLine
    from ttscli.util.faults import WriteFault

    out = tmp_path / "clips"
    lines = [BatchLine(n, f"Line number {n}.") for n in range(1, 9)]
    spec = EngineSpec("fs2", {"checkpoint": tiny_checkpoint, "vocoder": "griffin-lim"})
    settings = ClusterSettings(workers=1, shard_lines=4, in_flight_per_worker=1)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        with pytest.raises(WriteFault) as fault:
            run_cluster_batch(
                spec, lines, out, "wav", {}, settings,
                progress=lambda done, seconds: shutil.rmtree(out),
            )  # fmt: skip
    finally:
        ray.shutdown()
    message = str(fault.value)
    assert "no longer exists" in message and "4 of 8 lines are done" in message


def read_only_bind(folder: Path) -> bool:
    """Make ``folder`` a read-only bind mount of itself (root can, where mounts are allowed:
    chmod alone does not stop root); False where the platform does not allow it."""
    done = subprocess.run(["mount", "--bind", str(folder), str(folder)], capture_output=True)
    if done.returncode != 0:
        return False
    remount = ["mount", "-o", "remount,bind,ro", str(folder)]
    if subprocess.run(remount, capture_output=True).returncode != 0:
        subprocess.run(["umount", str(folder)], capture_output=True)
        return False
    return True


def test_a_file_system_that_turns_read_only_mid_batch(
    tiny_checkpoint: Path, tmp_path: Path
) -> None:
    from ttscli.fs2.engine import FS2Engine
    from ttscli.run.batch import run_batch
    from ttscli.run.lines import BatchLine
    from ttscli.util.faults import WriteFault

    engine = FS2Engine.load(tiny_checkpoint, vocoder="griffin-lim", device="cpu")
    out = tmp_path / "clips"
    out.mkdir()
    calls: list[int] = []
    mounted: list[bool] = []
    real = engine.synthesize_batch

    def read_only_after_the_first(lines, options=None):
        calls.append(len(lines))
        if len(calls) == 2:
            mounted.append(read_only_bind(out))
            if not mounted[0]:
                pytest.skip("this platform does not allow a read-only bind mount")
        return real(lines, options)

    engine.synthesize_batch = read_only_after_the_first  # type: ignore[method-assign]
    lines = [BatchLine(n, f"Line number {n}.") for n in range(1, 5)]
    try:
        with pytest.raises(WriteFault) as fault:
            run_batch(engine, lines, out, "wav", engine.options({}), batch_size=2, quiet=True)
    finally:
        if mounted and mounted[0]:
            subprocess.run(["umount", str(out)], check=True)
    message = str(fault.value)
    assert "read-only" in message and "2 of 4 lines are done" in message
    manifest = [json.loads(x) for x in (out / "manifest.jsonl").read_text().splitlines()]
    assert sorted(m["index"] for m in manifest) == [1, 2]
    assert all((out / m["path"]).is_file() for m in manifest)
    no_temporary_files(out)
