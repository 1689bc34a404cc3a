"""The distilled generator: its shape, and the data -> train -> export pipeline end to end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from tests.fs2_fixture import TINY_STATS, tiny_config
from tests.test_latent_vocoder import TINY
from ttscli.fs2.checkpoint import save_checkpoint
from ttscli.fs2.engine import FS2Engine
from ttscli.fs2.latent_vocoder import LatentVocoder, VitsDecoder, piper_medium_decoder
from ttscli.fs2.model import FastSpeech2
from ttscli.fs2.vocoders import save_bundled
from ttscli.lab.train import student
from ttscli.lab.train.fs2s import attach_wave_decoder


@pytest.fixture(scope="module")
def teacher() -> VitsDecoder:
    """The teacher's shape (Piper medium); the weights do not matter for these tests."""
    torch.manual_seed(0)
    return VitsDecoder(piper_medium_decoder()).eval()


@pytest.fixture(scope="module")
def teacher_voice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny FS2 / FS2s voice whose mel vocoder and waveform decoder share a VITS
    generator: what the student is distilled from."""
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("teacher-voice")
    vocoder = LatentVocoder(TINY).eval()
    model = attach_wave_decoder(FastSpeech2(tiny_config(wave_decoder=False), TINY_STATS), vocoder)
    save_checkpoint(model.eval(), folder)
    save_bundled(vocoder, folder)
    return folder


def test_c8i_student_does_at_most_a_quarter_of_the_teachers_arithmetic(teacher) -> None:
    rate = teacher.config.sample_rate / teacher.config.hop_length
    shrunk = student.student_from_teacher(teacher, "c8i").eval()
    assert shrunk.config.hop_length == teacher.config.hop_length
    ratio = student.macs_per_second(shrunk, rate) / student.macs_per_second(teacher, rate)
    assert 0.1 < ratio <= 0.25


def test_student_starts_from_the_teachers_first_stage_and_a_quiet_head(teacher) -> None:
    shrunk = student.student_from_teacher(teacher, "c8i").eval()
    for name in ("conv_pre.weight", "ups.0.weight", "resblocks.2.convs.1.weight"):
        assert torch.equal(shrunk.state_dict()[name], teacher.state_dict()[name])
    with torch.inference_mode():
        wave = shrunk(torch.randn(1, teacher.config.n_mels, 40))
    assert wave.shape == (1, 40 * 256)
    assert float(wave.abs().max()) < 0.05


def test_data_train_export_gives_a_voice_that_speaks_with_both_models(
    teacher_voice: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    voice = ["--checkpoint", str(teacher_voice)]
    text = tmp_path / "lines.txt"
    text.write_text("The first line is short.\nA second one, a little longer than it.\n\n")
    data, run, out = tmp_path / "data", tmp_path / "run", tmp_path / "voice"
    assert (
        student.main([*voice, "data", "--text", str(text), "--out", str(data), "--limit", "3"]) == 0
    )
    pairs = sorted(data.glob("*.npz"))
    assert [p.name for p in pairs] == ["00000.npz", "00001.npz"]
    with np.load(pairs[1]) as item:  # odd lines go through the FS2s adapter
        assert item["audio"].shape == (item["latent"].shape[1] * 256,)
        assert item["latent"].shape[0] == TINY.decoder.n_mels
    args = [*voice, "train", "--data", str(data), "--run", str(run), "--steps", "2", "--every", "2"]
    assert student.main([*args, "--validation", "1", "--frames", "16"]) == 0
    assert (run / student.BEST).is_file()
    # resuming continues from the saved step
    assert student.main([*args[:-4], "--steps", "3", "--every", "2", "--validation", "1",
                         "--frames", "16"]) == 0  # fmt: skip
    assert "resumed at step 2" in capsys.readouterr().out
    assert student.main([*voice, "export", "--run", str(run), "--out", str(out)]) == 0
    for kind in ("fs2", "fs2s"):
        engine = FS2Engine.load(out, kind=kind, device="cpu")
        audio = engine.synthesize([["HH", "AH0", "L", "OW1", "."]])[0].audio
        assert len(audio) > 0 and np.isfinite(audio).all()
    assert student.main([*voice, "train", "--data", str(data), "--run", str(run), "--shape",
                         "c8c8i", "--steps", "1"]) == 1  # fmt: skip
    again = ["train", "--data", str(data), "--run", str(tmp_path / "again"), "--steps", "1"]
    assert student.main(["--checkpoint", str(out), *again]) == 1  # a student: no teacher
    capsys.readouterr()
    assert student.main(["--checkpoint", str(out), "macs"]) == 0  # shapes only: still measured
    assert "this voice's generator" in capsys.readouterr().out
