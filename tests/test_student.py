"""The distilled generator: its shape, and the data -> train -> export pipeline end to end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ttscli.fs2.engine import ASSETS_DIR, FS2Engine
from ttscli.fs2.latent_vocoder import VitsDecoder
from ttscli.train import student


@pytest.fixture(scope="module")
def teacher() -> VitsDecoder:
    return student.teacher_decoder(ASSETS_DIR).eval()


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
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = tmp_path / "lines.txt"
    text.write_text("The first line is short.\nA second one, a little longer than it.\n\n")
    data, run, out = tmp_path / "data", tmp_path / "run", tmp_path / "voice"
    assert student.main(["data", "--text", str(text), "--out", str(data), "--limit", "3"]) == 0
    pairs = sorted(data.glob("*.npz"))
    assert [p.name for p in pairs] == ["00000.npz", "00001.npz"]
    with np.load(pairs[1]) as item:  # odd lines go through the FS2s adapter
        assert item["audio"].shape == (item["latent"].shape[1] * 256,)
    args = ["train", "--data", str(data), "--run", str(run), "--steps", "2", "--every", "2"]
    assert student.main([*args, "--validation", "1", "--frames", "16"]) == 0
    assert (run / student.BEST).is_file()
    # resuming continues from the saved step
    assert student.main([*args[:-4], "--steps", "3", "--every", "2", "--validation", "1",
                         "--frames", "16"]) == 0  # fmt: skip
    assert "resumed at step 2" in capsys.readouterr().out
    assert student.main(["export", "--run", str(run), "--out", str(out)]) == 0
    for kind in ("fs2", "fs2s"):
        engine = FS2Engine.load(out, kind=kind, device="cpu")
        audio = engine.synthesize([["HH", "AH0", "L", "OW1", "."]])[0].audio
        assert len(audio) > 0 and np.isfinite(audio).all()
    assert student.main(["train", "--data", str(data), "--run", str(run), "--shape", "c8c8i",
                         "--steps", "1"]) == 1  # fmt: skip
