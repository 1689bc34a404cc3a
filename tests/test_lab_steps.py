"""`python -m ttscli.lab STEP`: one entry point for every lab step, and the scripts/ shells."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO
from ttscli.lab.steps import STEPS, main


def test_lab_help_lists_every_step() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ttscli.lab", "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    listed = [line.split()[0] for line in result.stdout.split("steps:\n")[1].splitlines()]
    assert listed == list(STEPS)


@pytest.mark.parametrize("step", list(STEPS))
def test_each_step_explains_its_options(step: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([step, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: python -m ttscli.lab {step} ")
    assert "--help" in out


def test_an_unknown_step_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train-everything"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "train-everything" in err


def test_every_script_is_a_shell_over_one_step() -> None:
    shells = {path.stem: path.read_text() for path in (REPO / "scripts").glob("*.py")}
    named = {text.split('run("')[1].split('"')[0] for text in shells.values()}
    assert named == set(STEPS)
    assert all(len(text.splitlines()) <= 8 for text in shells.values())
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "shift_corpus.py"), "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0 and "--corpus" in result.stdout


def test_lab_subpackages_import_one_way() -> None:
    """corpus <- train <- align: the corpus format never depends on training code."""
    lab = REPO / "src" / "ttscli" / "lab"
    allowed = {"data": set(), "corpus": {"data"}, "train": {"corpus", "data"}}
    for package, may_use in allowed.items():
        for path in (lab / package).rglob("*.py"):
            used = {
                line.split("ttscli.lab.")[1].split(".")[0].split()[0]
                for line in path.read_text().splitlines()
                if line.lstrip().startswith(("from ttscli.lab.", "import ttscli.lab."))
            }
            assert used <= may_use | {package}, f"{path} imports {used - may_use - {package}}"
