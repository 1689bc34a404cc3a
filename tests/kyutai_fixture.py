"""The session's tiny Kyutai checkpoint (``ttscli.kyutai.tiny``) in a private HF_HOME."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from ttscli.kyutai.synthetic import TinyKyutai, build_hf_home

__all__ = ["TinyKyutai", "tiny_kyutai"]


@pytest.fixture(scope="session")
def tiny_kyutai(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TinyKyutai]:
    """Session-wide tiny checkpoint in a private HF_HOME, with the hub switched off.

    ``huggingface_hub.constants`` is read at import time, so besides the environment we point
    the already-imported constants at the temporary cache too; ``from_hf_repo`` then resolves
    through the cache exactly as in production.
    """
    import huggingface_hub.constants as hf_constants

    tiny = build_hf_home(tmp_path_factory.mktemp("hf_home"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HOME", str(tiny.hf_home))
        mp.delenv("HF_HUB_CACHE", raising=False)
        mp.delenv("HUGGINGFACE_HUB_CACHE", raising=False)
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setattr(hf_constants, "HF_HOME", str(tiny.hf_home))
        mp.setattr(hf_constants, "HF_HUB_CACHE", str(tiny.hub_cache))
        mp.setattr(hf_constants, "HF_HUB_OFFLINE", True)
        assert os.environ["HF_HUB_OFFLINE"] == "1"
        yield tiny
