"""TrainConfig as command-line flags: every field a flag, a preset changed only by the flags given."""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing

from fer.config import TrainConfig
from fer.i18n import t


def add_config_args(p: argparse.ArgumentParser, suppress: bool = False) -> None:
    """One flag per TrainConfig field (booleans as --x/--no-x), its help the field's one description (the
    `config` section of the locale files, shared with the Train page); `suppress` leaves unset flags out of
    the result."""
    hints = typing.get_type_hints(TrainConfig)
    for f in dataclasses.fields(TrainConfig):
        if f.name == "extra":
            continue
        flag = "--" + f.name.replace("_", "-")
        kind = hints[f.name]
        default = argparse.SUPPRESS if suppress else f.default
        help_text = f"{t(f'config.{f.name}', 'en')} (default: {f.default})".replace("%", "%%")  # argparse formats
        if kind is bool or kind == bool | None:  # bool | None: the flag absent leaves None (the machine's choice)
            p.add_argument(flag, action=argparse.BooleanOptionalAction, default=default, help=help_text)
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
    if getattr(args, "preset", None):
        from fer.train.presets import preset

        return preset(args.preset).replace(**{n: getattr(args, n) for n in getattr(args, "given", set()) & names})
    return TrainConfig(**{n: getattr(args, n) for n in names})
