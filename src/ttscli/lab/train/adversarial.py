"""A critic for waveform fine-tunes: small discriminators, their optimiser and their losses.

Why: the regression losses (multi-resolution STFT, log-mel L1) reward the average of what the
decoder cannot predict exactly, so the fine structure of its spectra comes out smoothed, and
a speech recogniser hears that as slurred consonants. A discriminator that learns to tell
the recordings from the decoder's output penalises precisely that smoothing. The layout
follows HiFi-GAN's (Kong et al., 2020): one sub-discriminator per period, reading the
waveform folded into rows of ``period`` samples, so that it sees periodic structure, and
one reading the waveform as it is; least-squares adversarial losses and an L1 between the
sub-discriminators' features on real and generated audio ("feature matching"). The
channels are much narrower than the paper's so that a step fits a 2-core CPU.

The critic keeps its own weights and optimiser in ``RUN/critic.pt``, beside the run state
of the trainee it serves, so that an interrupted run resumes with both.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ttscli.util.atomic import atomic_write

PERIODS = (2, 3, 5, 7, 11)
"""Primes, so that no two sub-discriminators fold the waveform onto the same pattern."""
SLOPE = 0.1
CRITIC_FILE = "critic.pt"

Judgement = list[tuple[torch.Tensor, list[torch.Tensor]]]
"""Per sub-discriminator: its scores and the activations of its hidden layers."""


def _judged(
    layers: nn.ModuleList, out: nn.Module, x: torch.Tensor
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Scores (batch, positions) and each hidden layer's activations."""
    features = []
    for layer in layers:
        x = F.leaky_relu(layer(x), SLOPE)
        features.append(x)
    return out(x).flatten(1), features


class PeriodDiscriminator(nn.Module):
    """Reads (batch, samples) as (batch, 1, samples / period, period): each column holds the
    samples at one phase of the period, and the kernels run down the columns."""

    def __init__(self, period: int, channels: tuple[int, ...] = (16, 32, 64, 128)) -> None:
        super().__init__()
        self.period = period
        layers, width = [], 1
        for out in channels:
            layers.append(nn.Conv2d(width, out, (5, 1), (3, 1), padding=(2, 0)))
            width = out
        layers.append(nn.Conv2d(width, width, (5, 1), 1, padding=(2, 0)))
        self.layers = nn.ModuleList(layers)
        self.out = nn.Conv2d(width, 1, (3, 1), 1, padding=(1, 0))

    def forward(self, wave: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        short = -wave.shape[-1] % self.period
        if short:
            wave = F.pad(wave[:, None], (0, short), mode="reflect")[:, 0]
        return _judged(self.layers, self.out, wave.reshape(wave.shape[0], 1, -1, self.period))


class ScaleDiscriminator(nn.Module):
    """Reads the waveform as it is, with wide grouped kernels that stride down to the
    envelope."""

    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            [
                nn.Conv1d(1, 16, 15, 1, padding=7),
                nn.Conv1d(16, 32, 41, 4, groups=4, padding=20),
                nn.Conv1d(32, 64, 41, 4, groups=16, padding=20),
                nn.Conv1d(64, 128, 41, 4, groups=16, padding=20),
                nn.Conv1d(128, 128, 5, 1, padding=2),
            ]
        )
        self.out = nn.Conv1d(128, 1, 3, 1, padding=1)

    def forward(self, wave: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        return _judged(self.layers, self.out, wave[:, None])


class WaveDiscriminator(nn.Module):
    def __init__(self, periods: tuple[int, ...] = PERIODS) -> None:
        super().__init__()
        subs: list[nn.Module] = [PeriodDiscriminator(p) for p in periods]
        self.subs = nn.ModuleList([*subs, ScaleDiscriminator()])

    def forward(self, wave: torch.Tensor) -> Judgement:
        return [sub(wave) for sub in self.subs]


def critic_loss(real: Judgement, fake: Judgement) -> torch.Tensor:
    """Least squares: real audio toward 1, generated toward 0, averaged over the subs."""
    terms = [
        ((1 - r) ** 2).mean() + (f**2).mean() for (r, _), (f, _) in zip(real, fake, strict=True)
    ]
    return torch.stack(terms).mean()


def fooling_loss(fake: Judgement) -> torch.Tensor:
    """The generator's side: its audio toward the score of real audio."""
    return torch.stack([((1 - f) ** 2).mean() for f, _ in fake]).mean()


def feature_matching_loss(real: Judgement, fake: Judgement) -> torch.Tensor:
    """L1 between the subs' hidden activations on real and on generated audio, averaged
    over every layer of every sub: a dense target that steadies the adversarial one."""
    terms = [
        F.l1_loss(f, r.detach())
        for (_, real_features), (_, fake_features) in zip(real, fake, strict=True)
        for r, f in zip(real_features, fake_features, strict=True)
    ]
    return torch.stack(terms).mean()


class Critic:
    """The discriminator and its optimiser. ``judge`` first trains the discriminator one step
    on the batch, then returns the generator's adversarial losses on the same batch."""

    def __init__(self, lr: float = 2e-4, device: torch.device | str = "cpu") -> None:
        self.model = WaveDiscriminator().to(device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=lr, betas=(0.8, 0.99))

    def judge(self, generated: torch.Tensor, real: torch.Tensor) -> dict[str, torch.Tensor]:
        """``generated`` carries the generator's graph; ``real`` is the matching recording."""
        self.model.requires_grad_(True)
        self.optimizer.zero_grad(set_to_none=True)
        critic = critic_loss(self.model(real), self.model(generated.detach()))
        critic.backward()
        self.optimizer.step()
        # The generator's losses must not leave gradients on the critic's weights.
        self.model.requires_grad_(False)
        with torch.no_grad():
            real_judged = self.model(real)
        fake_judged = self.model(generated)
        return {
            "critic": critic.detach(),
            "fool": fooling_loss(fake_judged),
            "features": feature_matching_loss(real_judged, fake_judged),
        }

    def save(self, run: Path) -> None:
        """Written atomically: a run killed mid-save keeps the last."""
        state = {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict()}
        atomic_write(run / CRITIC_FILE, lambda tmp: torch.save(state, tmp))

    def load(self, run: Path) -> bool:
        """Go on from ``RUN/critic.pt`` when there is one; whether there was."""
        path = run / CRITIC_FILE
        if not path.exists():
            return False
        state = torch.load(path, map_location="cpu", weights_only=True)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        return True
