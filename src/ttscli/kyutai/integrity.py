"""Damaged or partial files in the model cache, found before they are loaded.

An interrupted download leaves a file cut short in the Hugging Face cache; loading it fails
deep inside safetensors or sentencepiece with a message that names neither the file nor the
cure. Checking a safetensors file costs one read of its header (its JSON header says how long
the file must be), so every file Kyutai loads is checked each time, and a damaged one gets
one line naming it and the command that fetches it again.
"""

from __future__ import annotations

import json
from pathlib import Path

from ttscli.util.errors import UserError
from ttscli.util.faults import IO_EXIT_CODE

HEADER_BYTES = 8
"""A safetensors file starts with its JSON header's length, a little-endian u64."""
MAX_HEADER_BYTES = 100 * 2**20
"""safetensors itself refuses headers larger than this."""


def safetensors_problem(path: Path) -> str | None:
    """Why ``path`` is not a whole safetensors file, or None when its size is what its
    header promises."""
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            length = int.from_bytes(handle.read(HEADER_BYTES), "little")
            if size < HEADER_BYTES or not 2 <= length <= min(MAX_HEADER_BYTES, size):
                return f"cut short or not safetensors ({size} bytes)"
            header = json.loads(handle.read(length))
    except OSError as exc:
        return f"cannot be read ({exc.strerror})"
    except (ValueError, UnicodeDecodeError):
        return "its header is damaged"
    if not isinstance(header, dict):
        return "its header is damaged"
    try:
        end = max(
            (
                int(entry["data_offsets"][1])
                for key, entry in header.items()
                if key != "__metadata__"
            ),
            default=0,
        )
    except (KeyError, TypeError, ValueError, IndexError):
        return "its header is damaged"
    expected = HEADER_BYTES + length + end
    if size < expected:
        return f"cut short: {size} of {expected} bytes"
    if size > expected:
        return f"longer than its header says ({size} bytes, expected {expected})"
    return None


def tokenizer_problem(path: Path) -> str | None:
    """Why sentencepiece cannot read the tokenizer at ``path``, or None."""
    import sentencepiece

    try:
        sentencepiece.SentencePieceProcessor(model_file=str(path))
    except (OSError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"sentencepiece cannot read it ({first[:120]})"
    return None


def check_files(files: list[tuple[Path, str]], source: str) -> None:
    """Raise one line for the first damaged file. ``files`` pairs each path with its name
    in ``source`` (a hub repository, or a local folder)."""
    for path, name in files:
        if path.suffix == ".safetensors":
            problem = safetensors_problem(path)
        elif path.suffix == ".model":
            problem = tokenizer_problem(path)
        else:
            problem = None
        if problem is not None:
            raise UserError(
                f"{path} is damaged ({problem}); {refetch_hint(source, name)}",
                exit_code=IO_EXIT_CODE,
            )


def refetch_hint(source: str, name: str) -> str:
    if Path(source).is_dir():
        return (
            f"copy it into {source} again, e.g. `hf download kyutai/tts-1.6b-en_fr {name} "
            f"--local-dir {source} --force-download`"
        )
    return f"fetch it again with `hf download {source} {name} --force-download`"
