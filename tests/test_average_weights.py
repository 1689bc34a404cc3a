"""`python -m ttscli.lab average-weights`: the weighted mean of checkpoints, or a clear refusal."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.fs2_fixture import make_tiny_model
from ttscli.fs2.checkpoint import load_checkpoint, save_checkpoint
from ttscli.lab.steps import main as lab


def fine_tuned(directory: Path, seed: int, pitch_mode: str = "frame") -> Path:
    """The tiny voice with every float weight moved by seeded noise, as a fine-tuning would."""
    model = make_tiny_model(pitch_mode)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn(parameter.shape, generator=generator) * 0.1)
    save_checkpoint(model, directory)
    return directory


def test_weighted_mean_of_every_float_tensor(tmp_path: Path, capsys) -> None:
    a, b = fine_tuned(tmp_path / "a", 1), fine_tuned(tmp_path / "b", 2)
    assert (
        lab(["average-weights", "--out", str(tmp_path / "avg"), "--weights", "1,3", str(a), str(b)])
        == 0
    )
    assert "0.250" in capsys.readouterr().out
    first, second = load_checkpoint(a).state_dict(), load_checkpoint(b).state_dict()
    averaged = load_checkpoint(tmp_path / "avg")
    assert averaged.config == load_checkpoint(a).config
    moved = 0
    for name, value in averaged.state_dict().items():
        expected = first[name].double() * 0.25 + second[name].double() * 0.75
        torch.testing.assert_close(value.double(), expected, rtol=0, atol=1e-6)
        moved += int(not torch.equal(value, first[name]))
    assert moved > 10  # the noise reached the weights, so the comparison above means something


def test_equal_weights_by_default(tmp_path: Path) -> None:
    a, b = fine_tuned(tmp_path / "a", 1), fine_tuned(tmp_path / "b", 2)
    assert lab(["average-weights", "--out", str(tmp_path / "avg"), str(a), str(b)]) == 0
    name = "variance_adaptor.duration_predictor.linear.weight"
    halves = (load_checkpoint(a).state_dict()[name] + load_checkpoint(b).state_dict()[name]) / 2
    torch.testing.assert_close(load_checkpoint(tmp_path / "avg").state_dict()[name], halves)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--weights", "1,0"], "positive"),
        (["--weights", "1,x"], "comma-separated numbers"),
        (["--weights", "1,1,1"], "3 weights for 2 checkpoints"),
    ],
)
def test_bad_weights_are_refused(tmp_path: Path, capsys, extra, message) -> None:
    a, b = fine_tuned(tmp_path / "a", 1), fine_tuned(tmp_path / "b", 2)
    assert lab(["average-weights", "--out", str(tmp_path / "avg"), *extra, str(a), str(b)]) == 1
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "avg").exists()


def test_different_architectures_are_refused(tmp_path: Path, capsys) -> None:
    a = fine_tuned(tmp_path / "a", 1)
    other = fine_tuned(tmp_path / "cwt", 2, pitch_mode="cwt")
    assert lab(["average-weights", "--out", str(tmp_path / "avg"), str(a), str(other)]) == 1
    assert "config differs" in capsys.readouterr().err
    assert not (tmp_path / "avg").exists()


def test_one_checkpoint_or_a_missing_one_is_refused(tmp_path: Path, capsys) -> None:
    a = fine_tuned(tmp_path / "a", 1)
    assert lab(["average-weights", "--out", str(tmp_path / "avg"), str(a)]) == 1
    assert "at least two" in capsys.readouterr().err
    assert (
        lab(["average-weights", "--out", str(tmp_path / "avg"), str(a), str(tmp_path / "nowhere")])
        == 1
    )
    assert "not a directory" in capsys.readouterr().err
