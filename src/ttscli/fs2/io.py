"""Reading and writing our files: strict JSON configs and safetensors weights.

JSON and safetensors only: loading never runs code, unlike pickle. Every way a file can be
wrong becomes a one-line ``UserError`` that names the file and the field or tensor.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ttscli.util.atomic import atomic_write, atomic_write_bytes
from ttscli.util.dataclass_json import from_dict, to_dict
from ttscli.util.errors import UserError
from ttscli.util.faults import is_out_of_memory

M = TypeVar("M", bound=torch.nn.Module)

_RANDOM_FILLS = (
    "uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_", "eye_",
    "dirac_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_",
    "orthogonal_", "sparse_",
)  # fmt: skip
_FILLS_LOCK = threading.Lock()  # two loads in two threads must not save each other's no-ops


@contextmanager
def _initialisation_skipped() -> Iterator[None]:
    """``torch.nn.init``'s fills do nothing inside: modules built to be loaded at once."""
    with _FILLS_LOCK:
        saved = {name: getattr(torch.nn.init, name) for name in _RANDOM_FILLS}

        def leave(tensor: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
            return tensor

        for name in saved:
            setattr(torch.nn.init, name, leave)
        try:
            yield
        finally:
            for name, fill in saved.items():
                setattr(torch.nn.init, name, fill)


def build_to_load(make: Callable[[], M], path: Path) -> M:
    """``make()``'s module with every weight read from ``path`` (strictly: see
    ``apply_weights``). Its layers are not filled at random first, since every value would
    be overwritten at once, which saves a noticeable part of a cold start."""
    weights = load_weights(path)
    with _initialisation_skipped():
        module = make()
    apply_weights(module, weights, path)
    return module


def read_json(path: Path) -> Any:
    """Parse a JSON file, turning every way it can fail into a one-line UserError."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read ({exc})") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None


def load_dataclass(cls: type, path: Path) -> Any:
    """Read a config dataclass from JSON and validate it, naming the file on failure."""
    try:
        value = from_dict(cls, read_json(path))
        validate = getattr(value, "validate", None)
        if validate is not None:
            validate()
    except ValueError as exc:  # ConfigMismatch is a ValueError too
        raise UserError(f"{path}: {exc}") from None
    return value


def save_json(path: Path, data: Any) -> None:
    """A dataclass (or plain data) as indented JSON, written atomically."""
    plain = to_dict(data) if hasattr(data, "__dataclass_fields__") else data
    atomic_write_bytes(path, (json.dumps(plain, indent=2) + "\n").encode())


def load_weights(path: Path) -> dict[str, torch.Tensor]:
    """Read a safetensors file; a missing or damaged file becomes a UserError."""
    if not path.is_file():
        raise UserError(f"{path}: file not found")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        if is_out_of_memory(exc):
            raise  # the caller knows which model did not fit
        raise UserError(f"{path}: not a valid safetensors file ({exc})") from None


def apply_weights(module: torch.nn.Module, weights: dict[str, torch.Tensor], path: Path) -> None:
    """Load ``weights`` into ``module`` strictly, naming the first mismatching tensor."""
    expected = module.state_dict()
    missing = sorted(set(expected) - set(weights))
    unexpected = sorted(set(weights) - set(expected))
    if missing:
        raise UserError(f"{path}: missing tensor {missing[0]} ({len(missing)} missing)")
    if unexpected:
        raise UserError(f"{path}: unexpected tensor {unexpected[0]} (config mismatch?)")
    for name, tensor in weights.items():
        if tuple(tensor.shape) != tuple(expected[name].shape):
            raise UserError(
                f"{path}: tensor {name} has shape {list(tensor.shape)}, "
                f"config.json implies {list(expected[name].shape)}"
            )
    module.load_state_dict({k: v.to(expected[k].dtype) for k, v in weights.items()})


def save_weights(module: torch.nn.Module, path: Path, dtype: torch.dtype = torch.float32) -> None:
    """A module's state as safetensors, atomically; float16 halves what a package ships
    (integer buffers keep their type)."""
    tensors = {
        k: (v.to(dtype) if v.is_floating_point() else v).detach().cpu().contiguous()
        for k, v in module.state_dict().items()
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: save_file(tensors, tmp))
