"""Checking what a JSON file says against the frozen dataclass it should become.

Run folders and model cards are files anyone with access to the folders can edit (or a crash can leave
half written): `field_problems` says, in plain words, which fields do not have their declared types, so that
a reader refuses the file instead of failing later (`"epochs": "ten"`, a list where an object belongs).

Types are not enough: `"epoch": NaN`, `"n": 1e400` (inf), `"params": 10**400` or a 1x1 confusion matrix are
well typed and still break the page that shows them. A field says what its values may be in its metadata:
`field(metadata=bounds(0, 1))` for a number in a range (finite unless it says otherwise), `checked(fn)` for a
shape (`fn(value)` returns why it is wrong, or None); `field_problems` checks both.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Callable
from typing import Any

MAX_COUNT = 10**12
"""The largest count (images, parameters, batches, epochs) a file may state: far above any real one, far
below what a float, a progress bar or a formatted number can hold."""
MAX_PID = 2**31 - 1
"""The largest process ID (pid_t); a larger one makes os.kill raise OverflowError."""


def bounds(lo: float | None = None, hi: float | None = None, *, finite: bool = True) -> dict[str, Any]:
    """Field metadata: a number (or each number of a list or dict of them) from `lo` to `hi` (None: no bound),
    and finite unless `finite=False` (a best loss that starts at infinity)."""
    return {"bounds": (lo, hi, finite)}


def checked(fn: Callable[[Any], str | None]) -> dict[str, Any]:
    """Field metadata: `fn(value)` says why a well-typed value is still wrong (a shape, a set of keys), or None."""
    return {"check": fn}


def number_problem(value: Any, lo: float | None = None, hi: float | None = None, finite: bool = True) -> str | None:
    """Why `value` is not a number from `lo` to `hi` (finite unless `finite=False`), or None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"{shown(value)} is not a number"
    try:
        as_float = float(value)
    except OverflowError:  # an int of 400 digits
        return f"{shown(value)} is out of range"
    if math.isnan(as_float):
        return None if not finite else "NaN is not a finite number"
    if finite and math.isinf(as_float):
        return f"{shown(value)} is not a finite number"
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        return f"{shown(value)} is not between {lo if lo is not None else '-inf'} and {hi if hi is not None else 'inf'}"
    return None

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
    problems = []
    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue
        value = data[f.name]
        if not matches(value, hints[f.name]):
            problems.append(f"{where}: {f.name} is {shown(value)}, not {_type_name(hints[f.name])}")
        elif (why := value_problem(value, f.metadata)) is not None:
            problems.append(f"{where}: {f.name}: {why}")
    return problems


def value_problem(value: Any, metadata: Any) -> str | None:
    """Why a well-typed value breaks its field's `bounds` or `checked` metadata, or None."""
    if value is None:
        return None
    if "bounds" in metadata:
        lo, hi, finite = metadata["bounds"]
        items = value.values() if isinstance(value, dict) else value if isinstance(value, list | tuple) else [value]
        for v in items:
            if (why := number_problem(v, lo, hi, finite)) is not None:
                return why
    if "check" in metadata:
        return metadata["check"](value)
    return None


def _type_name(tp: Any) -> str:
    names = {int: "a whole number", float: "a finite number", str: "text", bool: "true or false"}
    if tp in names:
        return names[tp]
    return str(tp).replace("typing.", "")
