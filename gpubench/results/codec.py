"""JSON <-> typed dataclasses, with the type of every field checked on the way in.

A `Struct` is a dataclass whose fields map to JSON keys of the same name (or `field(metadata={"key": k})`).
Keys the class does not know are kept in its `extra` mapping (when it has one), so reading then writing a
file loses nothing. A value of the wrong type raises `FieldError` naming its path ("timing.samples[3]").
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from functools import cache
from typing import Any

__all__ = ["FieldError", "Struct", "decode", "encode", "finite_or_none"]


class FieldError(ValueError):
    """A JSON value that does not fit its field; `path` says where ("telemetry.power_w.max")."""

    def __init__(self, path: str, message: str):
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message


class Struct:
    """Marker base of the typed sections; subclasses are dataclasses."""

    # JSON keys that a class computes itself (they are accepted on input and written on output, never
    # stored as fields or in `extra`), e.g. a timing's summary statistics.
    DERIVED_KEYS: typing.ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def from_json(cls, data: Any, path: str = ""):
        return decode(cls, data, path)

    def to_json(self) -> dict[str, Any]:
        return encode(self)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the string {value[:40]!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


@cache
def _hints(cls) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _json_key(f: dataclasses.Field) -> str:
    return f.metadata.get("key", f.name)


def _convert(tp: Any, value: Any, path: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        if len(inner) == 1:
            return _convert(inner[0], value, path)
        raise TypeError(f"unsupported union {tp!r}")
    if tp is Any:
        return value
    if isinstance(tp, type) and issubclass(tp, Struct):
        return tp.from_json(value, path)
    if tp is bool:
        if not isinstance(value, bool):
            raise FieldError(path, f"expected true or false, got {_kind(value)}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise FieldError(path, f"expected a whole number, got {_kind(value)}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise FieldError(path, f"expected a number, got {_kind(value)}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise FieldError(path, f"expected a string, got {_kind(value)}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, list):
            raise FieldError(path, f"expected a list, got {_kind(value)}")
        item = typing.get_args(tp)[0]
        out = [_convert(item, v, f"{path}[{i}]") for i, v in enumerate(value)]
        return tuple(out) if origin is tuple else out
    if origin is dict:
        if not isinstance(value, dict):
            raise FieldError(path, f"expected an object, got {_kind(value)}")
        _, item = typing.get_args(tp)
        return {str(k): _convert(item, v, f"{path}.{k}") for k, v in value.items()}
    raise TypeError(f"unsupported field type {tp!r} at {path}")


def decode(cls, data: Any, path: str = ""):
    """An instance of the Struct `cls` from a JSON object; FieldError when a value does not fit."""
    if not isinstance(data, dict):
        raise FieldError(path, f"expected an object, got {_kind(data)}")
    hints = _hints(cls)
    kwargs: dict[str, Any] = {}
    known = set(cls.DERIVED_KEYS)
    has_extra = False
    for f in dataclasses.fields(cls):
        if f.name == "extra":
            has_extra = True
            continue
        if not f.init or f.metadata.get("transient"):
            continue
        key = _json_key(f)
        known.add(key)
        if key in data:
            kwargs[f.name] = _convert(hints[f.name], data[key], f"{path}.{key}" if path else key)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise FieldError(path, f"missing {key!r}")
    if has_extra:
        kwargs["extra"] = {k: v for k, v in data.items() if k not in known}
    try:
        return cls(**kwargs)
    except FieldError as exc:  # a check in __post_init__: prefix where the object sits
        raise FieldError(f"{path}.{exc.path}".strip(".") if path else exc.path, exc.message) from None


def finite_or_none(value: Any) -> Any:
    """JSON holds no NaN or inf: they are written as null (deep, for nested lists and dicts)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_none(v) for v in value]
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, Struct):
        return value.to_json()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return finite_or_none(value)


def encode(obj: Struct) -> dict[str, Any]:
    """The JSON object of a Struct: its fields in declaration order, then its `extra` keys."""
    out: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        if f.name == "extra":
            extra = obj.extra or {}
            continue
        if f.metadata.get("transient"):
            continue
        out[_json_key(f)] = _plain(getattr(obj, f.name))
    for k, v in extra.items():
        out.setdefault(k, _plain(v))
    return out
