"""Which engine speaks a batch line that names its own model, with the tiny checkpoint."""

from __future__ import annotations

from pathlib import Path

from ttscli.engines.spec import EngineSpec
from ttscli.run.line_engines import LineEngines
from ttscli.run.lines import BatchLine


def test_a_line_naming_what_auto_chose_is_spoken_by_the_runs_engine(
    tiny_checkpoint: Path,
) -> None:
    spec = EngineSpec(
        "fs2", {"checkpoint": str(tiny_checkpoint), "model": "auto", "device": "cpu"}
    )  # as `ttscli fs2 --in` builds it
    engine = spec.load()
    assert engine.facts()["model"] == "fs2s"  # the run's --model auto, on a voice with FS2s
    engines = LineEngines(engine, spec)

    def line(**load: str) -> BatchLine:
        return BatchLine(index=1, text="Hi.", load=load)

    assert engines.for_line(line()) is engine
    assert engines.for_line(line(model="auto")) is engine
    assert engines.for_line(line(model="fs2s")) is engine  # no second copy of the same model
    mel = engines.for_line(line(model="fs2"))
    assert mel is not engine and mel.facts()["model"] == "fs2"
    assert engines.for_line(line(model="fs2")) is mel  # loaded once


def test_a_line_asking_auto_in_a_run_that_named_its_choice_keeps_one_copy(
    tiny_checkpoint: Path,
) -> None:
    spec = EngineSpec("fs2", {"checkpoint": str(tiny_checkpoint), "model": "fs2s", "device": "cpu"})
    engine = spec.load()
    engines = LineEngines(engine, spec)
    auto = BatchLine(index=1, text="Hi.", load={"model": "auto"})
    assert engines.for_line(auto) is engine  # auto picks fs2s here: the run's own engine
    assert engines.for_line(auto) is engine
    mel = engines.for_line(BatchLine(index=2, text="Hi.", load={"model": "fs2"}))
    assert mel is not engine and mel.facts()["model"] == "fs2"
