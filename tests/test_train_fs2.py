"""train_fs2.py's choice of what pitch and energy the decoder hears in training."""

from __future__ import annotations

import pytest
import torch

from tests.fs2_fixture import make_tiny_model
from ttscli.lab.train import fs2 as train_fs2


def _batch(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    torch.manual_seed(1)
    durations = torch.tensor([[3, 4, 2, 5], [2, 6, 3, 0]])
    frames = int(durations.sum(1).max())
    return {
        "phonemes": torch.tensor([[5, 6, 7, 8], [9, 10, 11, 0]]),
        "phoneme_lengths": torch.tensor([4, 3]),
        "durations": durations,
        "mel": torch.randn(2, frames, model.config.audio.n_mels),
        "pitch": torch.randn(2, frames) * 2,
        "energy": torch.randn(2, frames) * 2,
    }


@pytest.mark.parametrize("pitch_mode", ["frame", "cwt"])
def test_decoder_hears_targets_or_predictions(pitch_mode: str) -> None:
    model = make_tiny_model(pitch_mode)
    batch = _batch(model)
    keep = ~train_fs2.teacher_forced(model, batch)[0].frame_mask

    forced, _ = train_fs2.teacher_forced(model, batch, "target")
    assert torch.equal(forced.energy[keep], batch["energy"][keep])
    assert torch.equal(forced.pitch[keep], batch["pitch"][keep])

    own, parts = train_fs2.teacher_forced(model, batch, "predicted")
    assert torch.allclose(own.energy[keep], own.energy_prediction[keep], atol=1e-5)
    assert not torch.allclose(own.energy[keep], batch["energy"][keep], atol=0.1)
    assert not torch.allclose(own.pitch[keep], batch["pitch"][keep], atol=0.1)
    assert torch.equal(own.durations, batch["durations"])  # lengths still match the target mel
    # The predictors still learn from the targets.
    for name in ("pitch", "energy", "mel"):
        assert parts[name].requires_grad and parts[name] > 0
