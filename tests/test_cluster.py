"""`--cluster ray`: batches on Ray actors, on a real local Ray instance (2 CPUs here)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import interrupt_after_files, run_cli
from tests.test_cli_fs2 import ok, one_line_error

ray = pytest.importorskip("ray")

LINES = [f"Line number {n} is spoken by a worker." for n in range(1, 25)]


def _lines_file(folder: Path, lines: list[str]) -> Path:
    path = folder / "lines.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _manifest(folder: Path) -> list[dict]:
    return [json.loads(x) for x in (folder / "manifest.jsonl").read_text().splitlines()]


def _fs2(checkpoint: Path, *args: str) -> list[str]:
    return ["fs2", *args, "--checkpoint", str(checkpoint), "--vocoder", "griffin-lim"]


def test_cluster_batch_equals_the_single_process_batch(
    tiny_checkpoint: Path, tmp_path: Path
) -> None:
    source = _lines_file(tmp_path, LINES)
    local, cluster = tmp_path / "local", tmp_path / "cluster"
    # The same arithmetic on both sides: one torch thread, as each worker has, and one line a
    # mini-batch (a worker's shard groups lines differently, and kernels chosen for another
    # padded shape round differently).
    one_thread = dict(os.environ, OMP_NUM_THREADS="1")
    single = ("--in", str(source), "--batch-size", "1", "--timestamps", "vtt")
    ok(run_cli(*_fs2(tiny_checkpoint, *single, "--out", str(local)), env=one_thread))
    result = run_cli(
        *_fs2(tiny_checkpoint, *single, "--out", str(cluster), "--json"),
        "--cluster", "ray", "--workers", "2",
    )  # fmt: skip
    ok(result)
    summary = json.loads(result.stdout)
    assert summary["written"] == 24 and len(summary["workers"]) == 2
    assert sum(w["lines"] for w in summary["workers"].values()) == 24
    ours, theirs = _manifest(local), _manifest(cluster)
    assert [m["index"] for m in theirs] == list(range(1, 25))
    assert ours == theirs  # index, text, phonemes, seconds, path and timestamps alike
    for entry in ours:
        vtt = (local / entry["timestamps"]).read_text()
        assert vtt.startswith("WEBVTT") and vtt == (cluster / entry["timestamps"]).read_text()
        a, rate_a = sf.read(str(local / entry["path"]), dtype="float32")
        b, rate_b = sf.read(str(cluster / entry["path"]), dtype="float32")
        assert rate_a == rate_b and a.shape == b.shape
        assert np.max(np.abs(a - b)) <= 1e-4, entry["path"]
    again = run_cli(
        *_fs2(tiny_checkpoint, "--in", str(source), "--out", str(cluster), "--json"),
        "--cluster", "ray",
    )  # fmt: skip
    ok(again)
    assert json.loads(again.stdout)["skipped"] == 24


def test_a_worker_killed_mid_run_loses_and_repeats_no_line(
    tiny_checkpoint: Path, tmp_path: Path
) -> None:
    from ttscli.cluster.ray_batch import ClusterSettings, run_cluster_batch
    from ttscli.engines.spec import EngineSpec
    from ttscli.run.lines import BatchLine

    lines = [BatchLine(n, f"This is line number {n}, said slowly.") for n in range(1, 41)]
    spec = EngineSpec("fs2", {"checkpoint": tiny_checkpoint, "vocoder": "griffin-lim"})
    workers: list = []
    killed: list[int] = []

    def kill_one_after_the_first_shard(done: int, seconds: float) -> None:
        if not killed:
            pid = ray.get(workers[1].pid.remote())
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        summary = run_cluster_batch(
            spec,
            lines,
            tmp_path / "out",
            "wav",
            {},
            ClusterSettings(workers=2, shard_lines=4),
            progress=kill_one_after_the_first_shard,
            on_workers=workers.extend,
        )
    finally:
        ray.shutdown()
    assert killed, "no worker was killed"
    assert summary.written == 40
    indices = [m["index"] for m in _manifest(tmp_path / "out")]
    assert indices == list(range(1, 41))  # every line, exactly once
    assert len(list((tmp_path / "out").glob("*.wav"))) == 40


def test_interrupted_driver_resumes_every_line_exactly_once(
    tiny_checkpoint: Path, tmp_path: Path
) -> None:
    source = _lines_file(tmp_path, [f"Line {n} of a longer run." for n in range(1, 61)])
    out = tmp_path / "out"
    args = [sys.executable, "-m", "ttscli", *_fs2(tiny_checkpoint, "--in", str(source))]
    args += ["--out", str(out), "--cluster", "ray", "--workers", "2", "--batch-size", "1"]
    assert interrupt_after_files([*args, "--quiet"], out, 8) == 130
    assert not list(out.glob(".*.part"))
    before = len(_manifest(out))
    rerun = subprocess.run([*args, "--json"], capture_output=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr.decode()
    summary = json.loads(rerun.stdout)
    assert summary["skipped"] >= before and summary["written"] + summary["skipped"] == 60
    assert [m["index"] for m in _manifest(out)] == list(range(1, 61))
    assert len(list(out.glob("*.wav"))) == 60


def test_speak_batches_run_on_ray_too(tiny_kyutai, tmp_path: Path) -> None:
    from tests.test_cli_speak import speak_args, speak_env

    source = _lines_file(tmp_path, ["Hello world.", "A second line.", "Third."])
    out = tmp_path / "clips"
    args = speak_args(tiny_kyutai, "--in", str(source), "--out", str(out), "--json", "--n-q", "8")
    result = run_cli(*args, "--cluster", "ray", "--workers", "1", env=speak_env(tiny_kyutai))
    ok(result)
    assert json.loads(result.stdout)["written"] == 3
    for entry in _manifest(out):
        assert sf.info(str(out / entry["path"])).frames > 0


def test_bad_cluster_settings_are_one_line_errors(tiny_checkpoint: Path, tmp_path: Path) -> None:
    source = _lines_file(tmp_path, LINES[:2])
    batch = [*_fs2(tiny_checkpoint, "--in", str(source), "--out", str(tmp_path / "o")), "--cluster"]
    one_line_error(run_cli(*batch, "ray", "--cluster-address", "127.0.0.1:1"), "cannot reach")
    one_line_error(run_cli(*batch, "ray", "--workers", "0"), "--workers 0")
    one_line_error(run_cli(*batch, "spark"), "--cluster")
    one_line_error(
        run_cli(
            *_fs2(tiny_checkpoint, "Hi.", "--out", str(tmp_path / "a.wav")), "--cluster", "ray"
        ),
        "batches",
    )
    # Without Ray installed (a stand-in package that fails to import, first on the path):
    fake = tmp_path / "no_ray" / "ray"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('No module named ray')\n")
    env = dict(os.environ, PYTHONPATH=str(fake.parent))
    one_line_error(run_cli(*batch, "ray", env=env), "pip install", "ttscli[cluster]")


def test_mixed_voice_jsonl_on_ray_equals_one_process(tiny_kyutai, tmp_path: Path) -> None:
    """Per-line voices (and a dialogue) on Ray workers: the same files and manifest as the
    same JSONL batch in one process."""
    from tests.test_cli_speak import speak_args, speak_env
    from ttscli.kyutai.synthetic import OTHER_VOICES

    rows = [
        {"id": "one", "text": "Hello world.", "voice": OTHER_VOICES[0]},
        {"id": "two", "text": "A second line.", "padding_bonus": 1.0},
        {"id": "three", "turns": ["Hi there.", "Hello."],
         "voices": [tiny_kyutai.voice_name, OTHER_VOICES[1]]},
    ]  # fmt: skip
    source = tmp_path / "lines.jsonl"
    source.write_text("".join(json.dumps(row) + "\n" for row in rows))
    env = dict(speak_env(tiny_kyutai), OMP_NUM_THREADS="1")
    outs = {name: tmp_path / name for name in ("local", "ray")}
    common = ("--in", str(source), "--n-q", "8", "--temp", "0", "--batch-size", "1")
    ok(run_cli(*speak_args(tiny_kyutai, *common, "--out", str(outs["local"])), env=env))
    cluster = ("--cluster", "ray", "--workers", "1")
    ok(run_cli(*speak_args(tiny_kyutai, *common, "--out", str(outs["ray"]), *cluster), env=env))
    ours, theirs = _manifest(outs["local"]), _manifest(outs["ray"])
    assert ours == theirs and [m["id"] for m in ours] == ["one", "two", "three"]
    for entry in ours:
        a, _ = sf.read(str(outs["local"] / entry["path"]), dtype="float32")
        b, _ = sf.read(str(outs["ray"] / entry["path"]), dtype="float32")
        assert a.shape == b.shape and np.max(np.abs(a - b)) <= 1e-4, entry["path"]


def test_jsonl_with_mixed_models_on_ray_equals_one_process(tmp_path: Path) -> None:
    """Lines that choose fs2 or fs2s (the bundled voice) and their own pitch: each worker
    loads the second model as a line asks, and the files and manifest are one process's."""
    rows = [
        {"id": "one", "text": "Hello world.", "model": "fs2s"},
        {"id": "two", "text": "A second line.", "pitch": 1.2},
        {"id": "three", "text": "A third line, with the waveform decoder.", "model": "fs2s",
         "energy": 0.8},
        {"id": "four", "text": "And the mel model again.", "model": "fs2"},
    ]  # fmt: skip
    source = tmp_path / "lines.jsonl"
    source.write_text("".join(json.dumps(row) + "\n" for row in rows))
    env = dict(os.environ, OMP_NUM_THREADS="1")
    outs = {name: tmp_path / name for name in ("local", "ray")}
    common = ("fs2", "--in", str(source), "--batch-size", "1")
    ok(run_cli(*common, "--out", str(outs["local"]), env=env))
    cluster = ("--cluster", "ray", "--workers", "2")
    ok(run_cli(*common, "--out", str(outs["ray"]), *cluster, env=env))
    ours, theirs = _manifest(outs["local"]), _manifest(outs["ray"])
    assert ours == theirs and [m["id"] for m in ours] == ["one", "two", "three", "four"]
    assert [m.get("options", {}).get("model") for m in ours] == ["fs2s", None, "fs2s", "fs2"]
    for entry in ours:
        a, _ = sf.read(str(outs["local"] / entry["path"]), dtype="float32")
        b, _ = sf.read(str(outs["ray"] / entry["path"]), dtype="float32")
        assert a.shape == b.shape and np.max(np.abs(a - b)) <= 1e-4, entry["path"]
