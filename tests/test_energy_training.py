"""Training --energy through the embedding (``train_fs2.py --energy-augment``): copies of
utterances at a random gain, made in feature space, that the decoder hears as such."""

from __future__ import annotations

import math
import random

import pytest
import torch

from tests.fs2_fixture import TINY_STATS, make_tiny_model
from ttscli.lab.train.fs2 import ENERGY_AUGMENT_RANGE, louder_copies, teacher_forced

FRAMES, MEL_FLOOR = 24, math.log(1e-5)


def batch() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    mel = torch.randn(4, FRAMES, 80) - 4.0
    mel[:, :3] = MEL_FLOOR  # silence stays at the floor when made quieter
    return {
        "phonemes": torch.randint(1, 10, (4, 6)),
        "phoneme_lengths": torch.full((4,), 6),
        "durations": torch.full((4, 6), FRAMES // 6),
        "mel": mel,
        "pitch": torch.randn(4, FRAMES),
        "energy": torch.randn(4, FRAMES),
    }


@pytest.mark.parametrize("use_targets", [True, False])
def test_copies_move_mel_and_energy_by_one_gain(use_targets: bool) -> None:
    model = make_tiny_model(wave_decoder=False)
    original = batch()
    copy, scale = louder_copies(model, original, random.Random(3), 1.0, use_targets)
    shift = (copy["mel"] - original["mel"])[:, 3:].mean(dim=(1, 2))
    gains = shift.exp()
    low, high = ENERGY_AUGMENT_RANGE
    assert all(low <= g <= high for g in gains.tolist()) and len(set(gains.tolist())) == 4
    torch.testing.assert_close(
        (copy["mel"] - original["mel"])[:, 3:], shift[:, None, None].expand(4, FRAMES - 3, 80)
    )
    assert float(copy["mel"].min()) >= MEL_FLOOR
    torch.testing.assert_close(copy["energy"], original["energy"])  # the predictor's target
    if use_targets:
        assert scale is None
        heard = copy["energy_input"] * TINY_STATS.energy_std + TINY_STATS.energy_mean
        told = original["energy"] * TINY_STATS.energy_std + TINY_STATS.energy_mean
        torch.testing.assert_close(heard, told * gains[:, None])
    else:
        assert scale is not None
        torch.testing.assert_close(scale, gains, rtol=1e-4, atol=1e-5)


def test_share_zero_and_validation_leave_the_batch_alone() -> None:
    model = make_tiny_model(wave_decoder=False)
    original = batch()
    copy, scale = louder_copies(model, original, random.Random(3), 0.0, False)
    torch.testing.assert_close(copy["mel"], original["mel"])
    torch.testing.assert_close(scale, torch.ones(4))
    _, trained = teacher_forced(model, original, "predicted", random.Random(1), 1.0)
    _, plain = teacher_forced(model, original, "predicted", random.Random(1), 0.0)
    _, validated = teacher_forced(model, original, "predicted", None, 1.0)
    assert float(trained["mel"].detach()) != pytest.approx(float(plain["mel"].detach()))
    assert float(validated["mel"].detach()) == pytest.approx(float(plain["mel"].detach()))


def test_energy_scale_multiplies_the_predicted_energy_per_utterance() -> None:
    model = make_tiny_model(wave_decoder=False).eval()
    original = batch()
    args = (original["phonemes"], original["phoneme_lengths"])
    with torch.no_grad():
        plain = model(*args, durations=original["durations"])
        scaled = model(
            *args, durations=original["durations"], energy_scale=torch.tensor([1.0, 2.0, 1.0, 0.5])
        )
    s = TINY_STATS
    before = plain.energy * s.energy_std + s.energy_mean
    after = scaled.energy * s.energy_std + s.energy_mean
    torch.testing.assert_close(after, before * torch.tensor([1.0, 2.0, 1.0, 0.5])[:, None])
