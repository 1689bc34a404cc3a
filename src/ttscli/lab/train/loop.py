"""The one training loop of the lab: FastSpeech 2, its 2s decoder, the vocoders, the student
generator and the aligner all run through it.

A trainer says what a step computes, how to validate and what to save (a ``Trainee``); the
loop owns everything that must behave the same in all of them: the step and wall-time
caps, the learning-rate schedule applied to the rates asked for now, gradient clipping,
the log (``RUN/log.jsonl``, one JSON object per logged step), saving every N steps and at
the end (also when interrupted), keeping the best model by one validation number, and
resuming through the run-state format of ``state.py``. A resumed run goes on from the
saved step with the saved optimiser moments; a trainer whose batches are a function of
the step ends bit-for-bit where an uninterrupted run would.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import torch

from ttscli.lab.train.state import (
    has_train_state,
    load_train_state,
    read_train_meta,
    save_train_state,
)


@dataclass(frozen=True)
class LoopSettings:
    steps: int
    """Train until this step (a resumed run counts from where it stopped)."""
    minutes: float = 0.0
    """Stop after this much wall time; 0 for no limit."""
    log_every: int = 50
    save_every: int = 500
    clip: float = 1.0
    quiet: bool = False


def add_loop_arguments(
    parser: argparse.ArgumentParser, steps: int, log_every: int, save_every: int
) -> None:
    """The flags every trainer shares, with that trainer's defaults."""
    parser.add_argument("--steps", type=int, default=steps, help="train until this step")
    parser.add_argument("--minutes", type=float, default=0.0, help="stop after this wall time")
    parser.add_argument("--log-every", type=int, default=log_every)
    parser.add_argument("--save-every", type=int, default=save_every)


def loop_settings(args: argparse.Namespace, clip: float = 1.0) -> LoopSettings:
    return LoopSettings(args.steps, args.minutes, args.log_every, args.save_every, clip)


class Trainee:
    """What one trainer plugs into the loop. Override ``loss``; the rest is optional."""

    best_by: str | None = None
    """The validation number that picks the best model (lower is better); None keeps none."""
    state_model: torch.nn.Module | None = None
    """A model whose weights live in the run state itself (no separate checkpoint), so
    weights and optimiser moments always come from the same step."""
    validate_at_start = False
    """Score the starting model first, so that training can only improve on it."""

    def __init__(self, optimizer: torch.optim.Optimizer) -> None:
        self.optimizer = optimizer

    def loss(self, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        """The loss of step ``step`` (0-based) and its parts for the log."""
        raise NotImplementedError

    def lr_scale(self, step: int) -> float:
        """Multiplies each parameter group's rate (as asked for on this command line)."""
        return 1.0

    def validate(self) -> dict[str, float]:
        return {}

    def score(self, validation: dict[str, float]) -> float:
        """The number ``best_by`` names, out of a validation."""
        assert self.best_by is not None
        return validation[self.best_by]

    def save_checkpoint(self, run: Path) -> None:
        """The model as it is now, in its loadable format."""

    def save_best(self, run: Path) -> None:
        """The model as it is now, as the best so far."""

    def meta(self) -> dict[str, Any]:
        """More JSON to keep in the run state (checked by ``check_resume``)."""
        return {}

    def check_resume(self, meta: dict[str, Any]) -> None:
        """Refuse a run state this trainer cannot go on from (before anything loads)."""


def restore(
    run: Path,
    optimizer: torch.optim.Optimizer | None,
    model: torch.nn.Module | None = None,
    check: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any] | None:
    """The saved run state, loaded into ``optimizer`` (and ``model``), or None when there
    is none yet."""
    if not has_train_state(run):
        return None
    if check is not None:
        check(read_train_meta(run))
    return load_train_state(run, optimizer, model)


class TrainingLoop:
    def __init__(self, trainee: Trainee, settings: LoopSettings, run: Path | None) -> None:
        self.trainee, self.settings, self.run = trainee, settings, run
        self.base_rates = [group["lr"] for group in trainee.optimizer.param_groups]
        self.step = 0
        self.best = math.inf

    def say(self, text: str) -> None:
        if not self.settings.quiet:
            print(text, flush=True)

    def resume(self) -> int:
        """Continue from ``RUN``'s saved state, if any; returns the step reached."""
        if self.run is None:
            return self.step
        meta = restore(
            self.run, self.trainee.optimizer, self.trainee.state_model, self.trainee.check_resume
        )
        if meta is not None:
            self.step = int(meta["step"])
            # A best found by another measure does not compare: the search starts afresh.
            if meta.get("best_by") == self.trainee.best_by and "best_val" in meta:
                self.best = float(meta["best_val"])
            self.say(f"resumed at step {self.step}")
        return self.step

    def run_to_end(self) -> int:
        for _ in self.steps():
            pass
        return self.step

    def steps(self) -> Iterator[tuple[int, float]]:
        """Train, yielding ``(step, loss)`` after each step (tests watch the loss)."""
        settings, trainee = self.settings, self.trainee
        started = time.monotonic()
        deadline = started + settings.minutes * 60 if settings.minutes else math.inf
        if self.run is not None:
            self.run.mkdir(parents=True, exist_ok=True)
        if self.step == 0 and trainee.validate_at_start:
            self.keep_best(trainee.validate())
            self.say(f"validation before training: {self.best:.4f}")
        log = (self.run / "log.jsonl").open("a", encoding="utf-8") if self.run else None
        saved_at, sums, count = self.step, {}, 0
        try:
            while self.step < settings.steps:
                if time.monotonic() >= deadline:
                    self.say(f"time limit reached at step {self.step}")
                    break
                loss, parts = self.take_step()
                for key, value in {"loss": float(loss), **parts}.items():
                    sums[key] = sums.get(key, 0.0) + value
                count += 1
                done = self.step >= settings.steps or time.monotonic() >= deadline
                record: dict[str, Any] = {}
                if self.step % settings.log_every == 0 or done:
                    record = {k: round(v / count, 5) for k, v in sums.items()}
                    record["lr_scale"] = round(trainee.lr_scale(self.step - 1), 5)
                    sums, count = {}, 0
                if self.step % settings.save_every == 0 or done:
                    validation = trainee.validate()
                    record |= {f"val_{k}": round(v, 5) for k, v in validation.items()}
                    self.save(validation)
                    saved_at = self.step
                if record:
                    record = {"step": self.step, **record}
                    record["seconds"] = round(time.monotonic() - started, 1)
                    self.write(log, record)
                yield self.step, float(loss)
        finally:
            if log is not None:
                log.close()
            if self.run is not None and self.step > saved_at:
                self.save({})  # interrupted: keep what was learnt, best unjudged

    def take_step(self) -> tuple[torch.Tensor, dict[str, float]]:
        trainee, optimizer = self.trainee, self.trainee.optimizer
        scale = trainee.lr_scale(self.step)
        for group, rate in zip(optimizer.param_groups, self.base_rates, strict=True):
            group["lr"] = rate * scale
        loss, parts = trainee.loss(self.step)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        params = [p for group in optimizer.param_groups for p in group["params"]]
        grad_norm = torch.nn.utils.clip_grad_norm_(params, self.settings.clip)
        if not torch.isfinite(grad_norm):
            raise RuntimeError(f"step {self.step + 1}: non-finite gradient")
        optimizer.step()
        self.step += 1
        return loss.detach(), {**parts, "grad_norm": float(grad_norm)}

    def keep_best(self, validation: dict[str, float]) -> bool:
        """Save the model as the best when ``validation`` beats every earlier one."""
        if self.trainee.best_by is None or self.run is None or not validation:
            return False
        score = self.trainee.score(validation)
        if not score < self.best:
            return False
        self.best = score
        self.trainee.save_best(self.run)
        return True

    def save(self, validation: dict[str, float]) -> None:
        if self.run is None:
            return
        self.trainee.save_checkpoint(self.run)
        self.keep_best(validation)
        meta = {"step": self.step, **self.trainee.meta()}
        if self.trainee.best_by is not None:
            meta |= {"best_val": self.best, "best_by": self.trainee.best_by}
        save_train_state(self.run, self.trainee.optimizer, meta, self.trainee.state_model)

    def write(self, log: TextIO | None, record: dict[str, Any]) -> None:
        if log is not None:
            log.write(json.dumps(record) + "\n")
            log.flush()
        self.say(json.dumps(record))
