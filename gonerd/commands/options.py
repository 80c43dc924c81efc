"""The one ``--config FILE`` / ``--set KEY=VALUE`` option pair of every command that takes a config.

``--config`` reads a TOML or YAML file into the command's config dataclass; each ``--set`` overrides
one dotted key (``--set filters.min_tokens=100``), its value read as YAML (``3``, ``true``,
``[a, b]``, ``{justice.gov: 0.25}``). Unknown keys, wrong types and malformed pairs are
:class:`gonerd.errors.ConfigError` naming the dotted key, before the command does any work.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from gonerd.errors import ConfigError


def add_config_arguments(p: argparse.ArgumentParser, what: str = "settings of this command") -> None:
    """Add ``--config FILE`` and the repeatable ``--set KEY=VALUE`` (stored as ``args.config``, ``args.overrides``)."""
    p.add_argument("--config", metavar="FILE", help=f"TOML or YAML file with the {what} (see README)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override one setting by its dotted key; repeatable")


def add_executor_arguments(p: argparse.ArgumentParser) -> None:
    """Add ``--executor local|ray`` and ``--ray-address ADDR`` (``args.executor``, ``args.ray_address``)."""
    p.add_argument("--executor", choices=("local", "ray"),
                   help="run the stages in local processes (default) or as Ray tasks on a cluster")
    p.add_argument("--ray-address", metavar="ADDR",
                   help="Ray cluster to use with --executor ray, e.g. HOST:6379 or auto (default: start a local one)")


def executor_flags(args: argparse.Namespace) -> dict[str, Any]:
    """The config overrides (``executor``, ``ray_address``) of :func:`add_executor_arguments`'s flags."""
    return {"executor": args.executor, "ray_address": args.ray_address}


def parse_overrides(items: Sequence[str]) -> dict[str, Any]:
    """``KEY=VALUE`` strings as ``{dotted key: value}``; values are YAML, so ``3`` is an int and ``x`` a string."""
    import yaml

    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. --set filters.min_tokens=100")
        try:
            out[key] = yaml.safe_load(value)
        except yaml.YAMLError as e:
            first = str(e).strip().splitlines()[0]
            raise ConfigError(f"--set {key}: value {value!r} is not valid YAML ({first})") from None
    return out


def load_command_config(args: argparse.Namespace, cls: type, **flags: Any) -> Any:
    """``cls`` from ``--config`` (defaults without it), then the command's own ``flags`` (dotted key →
    value; ``None`` means not given), then every ``--set`` — the last word wins."""
    from gonerd.config import load_config, with_overrides

    overrides = {k: v for k, v in flags.items() if v is not None}
    overrides.update(parse_overrides(args.overrides))
    return with_overrides(load_config(args.config, cls), overrides)
