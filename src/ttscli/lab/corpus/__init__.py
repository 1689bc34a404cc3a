"""The distilled training corpus: a teacher voice made to speak our own phonemes."""

from pathlib import Path

SHARED_CORPUS = Path("../shared/corpus")
"""The project's sentence lists, beside a checkout (the commands run from its root)."""
