"""The sentence lists the training recipe reads by default, shipped inside the package so
that a clone (or an installed wheel) can rebuild the voice without fetching anything."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

TRAIN_SENTENCES = "lj_train.txt"
VALIDATION_SENTENCES = "lj_val.txt"


def bundled_text(name: str) -> Path:
    """The path of a bundled sentence list; the recipe's ``--text`` / ``--sentences``
    default. A real path (not a resource stream) because the steps hash, name and reopen
    the file; setuptools installs package data as plain files."""
    resource = files(__name__) / name
    if not resource.is_file():
        raise FileNotFoundError(f"{name} is not among the lab's bundled sentence lists")
    return Path(str(resource))
