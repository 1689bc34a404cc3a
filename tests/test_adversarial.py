"""The lab's critic (lab/train/adversarial.py): it learns, it trains only itself, it resumes."""

from __future__ import annotations

import math
from pathlib import Path

import torch

from ttscli.lab.train.adversarial import (
    CRITIC_FILE,
    Critic,
    PeriodDiscriminator,
    WaveDiscriminator,
    feature_matching_loss,
)

SAMPLES = 1024


def voiced(batch: int) -> torch.Tensor:
    """Sines at a few pitches: the 'recordings'."""
    t = torch.arange(SAMPLES) / 22050
    pitches = torch.linspace(110, 220, batch)[:, None]
    return 0.5 * torch.sin(2 * math.pi * pitches * t)


def test_every_sub_judges_any_length() -> None:
    torch.manual_seed(0)
    judged = WaveDiscriminator()(torch.randn(2, 1001))  # no period divides 1001 but 7 and 11
    assert len(judged) == 6
    for scores, features in judged:
        assert scores.shape[0] == 2 and len(features) >= 4
    scores, _ = PeriodDiscriminator(3)(torch.randn(1, 1000))
    assert torch.isfinite(scores).all()


def test_critic_learns_to_tell_real_from_noise() -> None:
    torch.manual_seed(0)
    critic = Critic(lr=1e-3)
    real = voiced(4)
    first = last = None
    for _ in range(30):
        losses = critic.judge(0.3 * torch.randn(4, SAMPLES), real)
        first = float(losses["critic"]) if first is None else first
        last = float(losses["critic"])
    assert last < first / 2, (first, last)


def test_generator_losses_reach_the_generator_only() -> None:
    torch.manual_seed(0)
    critic = Critic()
    gain = torch.tensor(0.3, requires_grad=True)  # a one-weight "generator"
    noise = torch.randn(2, SAMPLES)
    losses = critic.judge(gain * noise, voiced(2))
    assert all(p.grad is not None for p in critic.model.parameters())  # its own step
    before = [p.grad.clone() for p in critic.model.parameters()]
    (losses["fool"] + losses["features"]).backward()
    assert gain.grad is not None and gain.grad != 0
    after = [p.grad for p in critic.model.parameters()]
    assert all(torch.equal(a, b) for a, b in zip(before, after, strict=True))


@torch.no_grad()
def test_features_match_only_when_the_audio_does() -> None:
    torch.manual_seed(0)
    model = WaveDiscriminator()
    real = voiced(2)
    assert float(feature_matching_loss(model(real), model(real))) == 0.0
    assert float(feature_matching_loss(model(real), model(real.flip(-1)))) > 0.0


def test_critic_resumes_its_weights_and_moments(tmp_path: Path) -> None:
    torch.manual_seed(0)
    critic = Critic()
    critic.judge(torch.randn(2, SAMPLES), voiced(2))
    critic.save(tmp_path)
    assert list(tmp_path.iterdir()) == [tmp_path / CRITIC_FILE]  # no temporary file left
    again = Critic()
    assert again.load(tmp_path) and not Critic().load(tmp_path / "elsewhere")
    for a, b in zip(critic.model.parameters(), again.model.parameters(), strict=True):
        assert torch.equal(a, b)
    moments = again.optimizer.state_dict()["state"]
    assert moments and all(int(m["step"]) == 1 for m in moments.values())
