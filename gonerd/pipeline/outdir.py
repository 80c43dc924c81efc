"""Output directories and files: one writer at a time, checked before work, failures as one line.

:func:`output_lock` holds an OS file lock (``flock``) on ``DIR/.gonerd.lock`` for the whole of a
command, so a second run into the same directory is refused at once; the kernel drops the lock
when the process dies, so ``kill -9`` leaves no stale lock. :func:`write_atomically` writes through
a temporary name unique to the process and renames it into place; a failed write removes it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import secrets
import socket
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path

from gonerd.errors import DiskFullError, GonerdError, OutputError

LOCK_FILE = ".gonerd.lock"


def output_error(err: OSError, path: str | Path) -> GonerdError:
    """The one-line error for a failed write at ``path``: :class:`DiskFullError` when the disk is full."""
    reason = err.strerror or str(err)
    if err.errno in (errno.ENOSPC, errno.EDQUOT) or "No space left" in reason:
        return DiskFullError(f"{path}: cannot write (No space left on device); finished work is kept, "
                             "free some space and re-run to resume")
    return OutputError(f"{path}: cannot write ({reason})")


def temporary_path(path: Path) -> Path:
    """A hidden name beside ``path`` that no other process or call uses (pid + random suffix)."""
    return path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")


def write_atomically(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)``, then rename ``tmp`` to ``path``; on failure remove ``tmp`` and raise one line."""
    tmp = temporary_path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write(tmp)
        os.replace(tmp, path)
    except OSError as e:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise output_error(e, path) from e


def make_directory(path: Path) -> None:
    """Create directory ``path`` and its parents, or raise one line: a file in the way, no permission..."""
    for p in (path, *path.parents):
        if p.exists():
            if not p.is_dir():
                raise OutputError(f"{path}: is a file, expected a directory" if p == path else
                                  f"{path}: cannot create a directory here, {p} is a file")
            break
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise output_error(e, path) from e


def check_output_file(path: str | Path) -> None:
    """Raise :class:`OutputError` now, before any work, if ``path`` cannot become a written file."""
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{path}: is a directory, expected a file name")
    make_directory(path.parent)
    if not os.access(path.parent, os.W_OK):
        raise OutputError(f"{path.parent}: cannot write (Permission denied)")


def _holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0) or b"{}")
        return f"pid {info['pid']} on {info['host']} (started {info['started']}, {info['command']})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process (starting up)"


def _acquire(out: Path, command: str) -> int:
    lock_path = out / LOCK_FILE
    while True:
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise output_error(e, out) from e
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise OutputError(f"{out}: output directory in use by {holder}; wait for it to end "
                              "or choose another --out") from None
        # The last holder unlinks the file before releasing it: a lock won on an unlinked file
        # guards nothing, so retry on the file now at that path.
        with contextlib.suppress(FileNotFoundError):
            if os.fstat(fd).st_ino == os.stat(lock_path).st_ino:
                return fd
        os.close(fd)


@contextlib.contextmanager
def output_lock(out_dir: str | Path, command: str) -> Iterator[Path]:
    """Create ``out_dir`` if needed and hold its lock for the block; refuse at once if another holds it.

    Raises :class:`OutputError` (one line, naming the holder's pid, host, start time and command)
    when the directory is in use, is a file, or cannot be created or written. Do not nest two
    locks on one directory in one process: the second is refused like any other.
    """
    out = Path(out_dir)
    make_directory(out)
    fd = _acquire(out, command)
    try:
        info = {"pid": os.getpid(), "host": socket.gethostname(), "command": command,
                "started": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(info).encode(), 0)
        except OSError as e:
            raise output_error(e, out) from e
        yield out
    finally:
        with contextlib.suppress(OSError):
            (out / LOCK_FILE).unlink()  # while still held, so nobody is left holding an orphan
        os.close(fd)
