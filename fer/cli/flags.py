"""TrainConfig as command-line flags: every field a flag, a preset changed only by the flags given."""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from typing import Any

from fer.config import TrainConfig
from fer.i18n import t


def number(kind: type, lo: float | None = None, hi: float | None = None) -> Any:
    """An argparse `type` for a finite number (`kind`: int or float) from `lo` to `hi`: a value out of range,
    NaN or inf is argparse's `error: argument --x: ...` and exit 2, never a traceback from deep inside."""
    from fer.schema import number_problem

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {'whole ' if kind is int else ''}number") from None
        why = number_problem(value, lo, hi)
        if why is not None:
            raise argparse.ArgumentTypeError(why)
        return value

    parse.__name__ = kind.__name__
    return parse


def recall_floor(text: str) -> tuple[str, float]:
    """An argparse `type` for EMOTION=SHARE (`--recall-floor fear=0.45`): a known emotion, a share in (0, 1]."""
    from fer.labels import LABELS

    name, sep, share = text.partition("=")
    name = name.strip().lower()
    if not sep or name not in LABELS:
        raise argparse.ArgumentTypeError(f"{text!r}: EMOTION=SHARE with EMOTION one of {', '.join(LABELS)}")
    value = number(float, 0.0, 1.0)(share)
    if value == 0:
        raise argparse.ArgumentTypeError(f"{text!r}: a recall floor of 0 asks for nothing")
    return name, value


FLAGS = {"recall_floors": "--recall-floor"}
"""Fields whose flag is not their name: one --recall-floor EMOTION=SHARE per emotion, as `fer export` takes it."""


def flag_of(name: str) -> str:
    """The command-line flag of the TrainConfig field `name`."""
    return FLAGS.get(name, "--" + name.replace("_", "-"))


def add_config_args(p: argparse.ArgumentParser, suppress: bool = False) -> None:
    """One flag per TrainConfig field (booleans as --x/--no-x), its help the field's one description (the
    `config` section of the locale files, shared with the Train page); `suppress` leaves unset flags out of
    the result."""
    hints = typing.get_type_hints(TrainConfig)
    for f in dataclasses.fields(TrainConfig):
        if f.name == "extra":
            continue
        flag = flag_of(f.name)
        kind = hints[f.name]
        default = argparse.SUPPRESS if suppress else f.default
        shown = "none" if f.default is dataclasses.MISSING else f.default  # a default_factory: {}
        help_text = f"{t(f'config.{f.name}', 'en')} (default: {shown})".replace("%", "%%")  # argparse formats
        if kind is bool or kind == bool | None:  # bool | None: the flag absent leaves None (the machine's choice)
            p.add_argument(flag, action=argparse.BooleanOptionalAction, default=default, help=help_text)
            continue
        if f.name == "recall_floors":  # {emotion: share}: one --recall-floor EMOTION=SHARE each, as `fer export`
            p.add_argument(flag, dest=f.name, type=recall_floor, action="append", metavar="EMOTION=SHARE",
                           default=argparse.SUPPRESS if suppress else None, help=help_text)
            continue
        if isinstance(kind, types.UnionType):  # float | None
            kind = next(a for a in typing.get_args(kind) if a is not type(None))
        p.add_argument(flag, type=kind, default=default, help=help_text)


def given_fields(argv: list[str]) -> set[str]:
    """The TrainConfig fields set explicitly on a command line."""
    p = argparse.ArgumentParser(add_help=False)
    add_config_args(p, suppress=True)
    return set(vars(p.parse_known_args(argv)[0]))


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The flags' config, or with --preset the preset with only the explicitly given flags changed."""
    names = {f.name for f in dataclasses.fields(TrainConfig)} - {"extra"}

    def value(name: str) -> Any:
        v = getattr(args, name)
        return dict(v or ()) if name == "recall_floors" else v  # [(emotion, share), ...] as given, repeated

    if getattr(args, "preset", None):
        from fer.train.presets import preset

        return preset(args.preset).replace(**{n: value(n) for n in getattr(args, "given", set()) & names})
    return TrainConfig(**{n: value(n) for n in names})
