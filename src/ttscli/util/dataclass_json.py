"""Strict JSON <-> dataclass conversion for configs stored beside weights.

A config that silently ignores a misspelt key or a string where a number belongs
produces a model that loads and then sounds wrong; failing loudly with the field's
dotted path is the cheaper outcome for users.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, TypeVar

T = TypeVar("T")


class ConfigMismatch(ValueError):
    """A JSON value does not fit the dataclass; the message names the field path."""


def to_dict(obj: Any) -> dict[str, Any]:
    """Plain JSON-ready dict of a dataclass (tuples become lists)."""
    return dataclasses.asdict(obj)


def from_dict(cls: type[T], data: Any, path: str = "") -> T:
    """Build ``cls`` from ``data``, rejecting unknown keys and wrongly typed values.

    Missing keys take the dataclass default, so older configs keep loading when a new
    field with a default is added.
    """
    if not isinstance(data, dict):
        raise ConfigMismatch(f"{path or 'config'}: expected an object, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigMismatch(f"{_join(path, unknown[0])}: unknown key")
    kwargs: dict[str, Any] = {}
    for name in fields:
        if name in data:
            kwargs[name] = _convert(hints[name], data[name], _join(path, name))
        elif (
            fields[name].default is dataclasses.MISSING
            and fields[name].default_factory is dataclasses.MISSING
        ):
            raise ConfigMismatch(f"{_join(path, name)}: missing")
    return cls(**kwargs)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _convert(hint: Any, value: Any, path: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(arg, value, path)
            except ConfigMismatch as exc:
                errors.append(str(exc))
        raise ConfigMismatch(errors[0] if errors else f"{path}: cannot be null")
    if origin is typing.Literal:
        if value not in args:
            raise ConfigMismatch(f"{path}: {value!r} is not one of {list(args)}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, list):
            raise ConfigMismatch(f"{path}: expected a list, got {type(value).__name__}")
        item_hint = args[0] if args else Any
        items = [_convert(item_hint, v, f"{path}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if dataclasses.is_dataclass(hint):
        return from_dict(hint, value, path)
    if hint is Any:
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigMismatch(f"{path}: expected a number, got {value!r}")
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigMismatch(f"{path}: expected an integer, got {value!r}")
        return value
    if hint in (str, bool):
        if not isinstance(value, hint):
            raise ConfigMismatch(f"{path}: expected {hint.__name__}, got {value!r}")
        return value
    raise TypeError(f"unsupported config type {hint!r} at {path}")
