"""The lab's one training loop (ttscli.lab.train.loop): caps, log, keep-best and resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from ttscli.lab.train.loop import LoopSettings, Trainee, TrainingLoop


class Regression(Trainee):
    """A linear fit whose batches are a function of the step, like the real trainers'."""

    best_by = "mse"

    def __init__(self) -> None:
        torch.manual_seed(0)
        self.model = torch.nn.Linear(4, 1)
        super().__init__(torch.optim.Adam(self.model.parameters(), lr=0.05))
        self.state_model = self.model
        self.target = torch.tensor([[1.0, -2.0, 0.5, 3.0]])
        self.best_at: list[float] = []

    def batch(self, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.randn(16, 4, generator=torch.Generator().manual_seed(seed))
        return x, x @ self.target.T

    def lr_scale(self, step: int) -> float:
        return 0.5 ** (step / 10)

    def loss(self, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        x, y = self.batch(step)
        return torch.nn.functional.mse_loss(self.model(x), y), {}

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        x, y = self.batch(-1 % 2**32)
        return {"mse": float(torch.nn.functional.mse_loss(self.model(x), y))}

    def save_best(self, run: Path) -> None:
        self.best_at.append(self.validate()["mse"])


def train(run: Path, steps: int) -> TrainingLoop:
    loop = TrainingLoop(Regression(), LoopSettings(steps, log_every=2, save_every=4), run)
    loop.resume()
    loop.run_to_end()
    return loop


def test_a_resumed_run_ends_where_a_straight_one_does(tmp_path: Path) -> None:
    straight = train(tmp_path / "straight", 12)
    train(tmp_path / "resumed", 6)  # stops between two saves: the end is saved too
    resumed = train(tmp_path / "resumed", 12)
    assert resumed.step == straight.step == 12
    a, b = straight.trainee.model.state_dict(), resumed.trainee.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    moments = straight.trainee.optimizer.state_dict()["state"]
    again = resumed.trainee.optimizer.state_dict()["state"]
    assert all(torch.equal(moments[0][k], again[0][k]) for k in moments[0])
    log = [json.loads(x) for x in (tmp_path / "resumed" / "log.jsonl").read_text().splitlines()]
    assert [e["step"] for e in log] == [2, 4, 6, 8, 10, 12]
    assert [e["step"] for e in log if "val_mse" in e] == [4, 6, 8, 12]
    state = json.loads((tmp_path / "resumed" / "train_state.json").read_text())
    assert state["step"] == 12 and state["best_by"] == "mse"
    assert state["best_val"] == pytest.approx(min(e["val_mse"] for e in log if "val_mse" in e))
    assert resumed.trainee.best_at[-1] == pytest.approx(state["best_val"])


def test_the_step_cap_counts_from_where_the_run_stopped(tmp_path: Path) -> None:
    train(tmp_path, 4)
    loop = train(tmp_path, 4)  # already there: nothing to do
    assert loop.step == 4
    assert len((tmp_path / "log.jsonl").read_text().splitlines()) == 2


def test_the_minute_cap_stops_a_run_and_saves_it(tmp_path: Path) -> None:
    loop = TrainingLoop(Regression(), LoopSettings(1000, minutes=1e-9, save_every=500), tmp_path)
    assert loop.run_to_end() == 0
    loop = TrainingLoop(Regression(), LoopSettings(3, save_every=500), tmp_path)
    loop.resume()
    assert loop.run_to_end() == 3
    assert json.loads((tmp_path / "train_state.json").read_text())["step"] == 3
