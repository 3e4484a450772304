"""Checking what a JSON file says against the frozen dataclass it should become.

Run folders and model cards are files anyone with access to the folders can edit (or a crash can leave
half written): `field_problems` says, in plain words, which fields do not have their declared types, so that
a reader refuses the file instead of failing later (`"epochs": "ten"`, a list where an object belongs).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

MAX_SHOWN = 40
"""Characters of a bad value quoted in a problem."""


def shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN] + "…"


def matches(value: Any, tp: Any) -> bool:
    """Whether a JSON value fits the type annotation `tp` (int, float, str, bool, None, X | None,
    tuple[T, ...], list[T], dict[str, T], Any, or a dataclass: an object whose fields fit). An int is a float;
    a bool is neither."""
    if tp is Any:
        return True
    if tp is type(None) or tp is None:
        return value is None
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return any(matches(value, arg) for arg in typing.get_args(tp))
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is float:  # NaN is a value (a diverged loss); where a number must be finite its reader checks it
        return isinstance(value, int | float) and not isinstance(value, bool)
    if tp is str:
        return isinstance(value, str)
    if origin in (tuple, list):
        args = [a for a in typing.get_args(tp) if a is not Ellipsis] or [Any]
        return isinstance(value, list | tuple) and all(matches(v, args[0]) for v in value)
    if origin is dict or tp is dict:
        args = typing.get_args(tp) or (str, Any)
        return isinstance(value, dict) and all(matches(k, args[0]) and matches(v, args[1]) for k, v in value.items())
    if dataclasses.is_dataclass(tp):
        return not field_problems(tp, value, "")
    if isinstance(tp, type):
        return isinstance(value, tp)
    return False


def field_problems(cls: type, data: Any, where: str) -> list[str]:
    """Why `data` (parsed JSON) cannot become `cls`: not an object, or fields of the wrong type. Unknown
    keys are ignored (older or newer files); missing ones take their defaults."""
    if not isinstance(data, dict):
        return [f"{where}: expected a JSON object, found {type(data).__name__} {shown(data)}"]
    hints = typing.get_type_hints(cls)
    return [f"{where}: {f.name} is {shown(data[f.name])}, not {_type_name(hints[f.name])}"
            for f in dataclasses.fields(cls) if f.name in data and not matches(data[f.name], hints[f.name])]


def _type_name(tp: Any) -> str:
    names = {int: "a whole number", float: "a finite number", str: "text", bool: "true or false"}
    if tp in names:
        return names[tp]
    return str(tp).replace("typing.", "")
