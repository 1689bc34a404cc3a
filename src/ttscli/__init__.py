"""ttscli: speech synthesis on the command line, and from Python.

``ttscli.load(engine, **arguments)`` gives a ``Voice`` (see ``ttscli.api``). The names are
imported on first use, so ``import ttscli`` stays light and a command line that never
synthesises does not pay for them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Chunk", "UserError", "Voice", "Word", "engine_names", "load", "ssml"]

if TYPE_CHECKING:
    from ttscli.api import Voice, engine_names, load, ssml
    from ttscli.engines.base import Chunk, Word
    from ttscli.util.errors import UserError


def __getattr__(name: str) -> Any:
    if name in ("Voice", "engine_names", "load", "ssml"):
        from ttscli import api

        return getattr(api, name)
    if name in ("Chunk", "Word"):
        from ttscli.engines import base

        return getattr(base, name)
    if name == "UserError":
        from ttscli.util.errors import UserError

        return UserError
    raise AttributeError(f"module 'ttscli' has no attribute {name!r}")
