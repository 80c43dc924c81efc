"""Exceptions that carry the place of bad input (file, line or record offset, field)."""

from __future__ import annotations


class GonerdError(Exception):
    """Base class: a user-facing error whose message is printed without a traceback by the CLI."""

    exit_code = 2  # the CLI's exit status for this error: a usage or input problem


class InputError(GonerdError):
    """Bad input data, located by ``path`` and optionally ``line``/``offset`` and ``field``."""

    def __init__(self, message: str, path: str | None = None, *, line: int | None = None,
                 offset: int | None = None, field: str | None = None) -> None:
        self.path, self.line, self.offset, self.field = path, line, offset, field
        where = [p for p in (path, f"line {line}" if line is not None else None,
                             f"offset {offset}" if offset is not None else None,
                             f"field {field!r}" if field else None) if p]
        super().__init__(f"{': '.join([', '.join(where), message]) if where else message}")


class ConfigError(GonerdError):
    """A configuration value or file that cannot be used."""


class OutputError(GonerdError):
    """An output that cannot be written: not a directory, not writable, or in use by another run."""


class DiskFullError(GonerdError):
    """The disk (or quota) filled up while writing; finished work is kept and the run can be resumed."""

    exit_code = 1  # not the user's input at fault: the same command succeeds once there is space
