"""The run record a training command writes about itself: what ran, on what, with which result.

Every figure the project publishes about a trained model comes from such a record, so it is written
by the command (never assembled by hand): the resolved config, the command line, the git commit of
the code, the machine, the library versions, the dev scores per epoch and the wall time.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

LIBRARIES = ("gonerd", "torch", "transformers", "tokenizers", "accelerate", "datasets", "seqeval")


def git_commit(where: Path | None = None) -> dict[str, Any] | None:
    """``{"commit", "dirty"}`` of the git checkout holding this code, or ``None`` outside one."""
    cwd = where or Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True,
                                check=True, timeout=10).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                                capture_output=True, text=True, check=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": bool(status.strip())}


# The commit of the code this process imported (a long run's checkout may move on before it ends).
CODE_COMMIT = git_commit()


def library_versions(names: tuple[str, ...] = LIBRARIES) -> dict[str, str | None]:
    """Installed version of each distribution (``None`` where it is not installed)."""
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def machine(num_processes: int = 1) -> dict[str, Any]:
    """CPU count, torch threads, accelerator and platform of this process."""
    import torch

    return {"cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(), "num_processes": num_processes,
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
            "platform": platform.platform(), "python": sys.version.split()[0]}


def dev_by_epoch(metrics_path: Path) -> list[dict[str, Any]]:
    """The per-epoch dev evaluations logged in ``metrics.jsonl``: epoch, step, elapsed time, F1 per type."""
    rows = []
    if not metrics_path.is_file():
        return rows
    for line in metrics_path.read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        if "dev" in rec:
            rows.append({"epoch": rec["epoch"], "step": rec["step"], "elapsed_s": rec.get("elapsed_s"),
                         "f1": {k: round(v["f1"], 4) for k, v in rec["dev"].items()}})
    return rows


def portable_paths(value: Any) -> Any:
    """``value`` (a config as plain data) with every absolute path written as :func:`kd.config.portable_path`
    shows it, so a record committed to the repository names no path of the machine it ran on."""
    from kd.config import portable_path

    if isinstance(value, dict):
        return {k: portable_paths(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(portable_paths(v) for v in value)
    if isinstance(value, str) and os.path.isabs(value):
        return portable_path(value)
    return value


def portable_command(program: str, args: list[str]) -> str:
    """The command line ``program args…`` as a record shows it: each absolute path argument (alone or after
    ``NAME=``) written as :func:`kd.config.portable_path` shows it."""
    from kd.config import portable_path

    def shown(arg: str) -> str:
        head, sep, tail = arg.rpartition("=")
        return head + sep + portable_path(tail) if os.path.isabs(tail) else arg

    return " ".join([program, *map(shown, args)])


def run_record(name: str, config: Any, summary: dict[str, Any], metrics_path: Path, *,
               num_processes: int = 1, argv: list[str] | None = None) -> dict[str, Any]:
    """The record of one finished run (``config`` a dataclass, ``summary`` the command's own summary)."""
    args = sys.argv[1:] if argv is None else argv
    return {
        "name": name,
        "command": portable_command(Path(sys.argv[0]).name, list(args)),
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "git": CODE_COMMIT,
        "config": portable_paths(dataclasses.asdict(config)),
        "machine": machine(num_processes),
        "versions": library_versions(),
        "train": summary,
        "dev_by_epoch": dev_by_epoch(metrics_path),
    }


def write_record(record: dict[str, Any], *paths: str | Path) -> None:
    """Write ``record`` as indented JSON to every path given (parents created)."""
    text = json.dumps(record, indent=2) + "\n"
    for p in paths:
        Path(p).parent.mkdir(parents=True, exist_ok=True)
        Path(p).write_text(text, encoding="utf-8")
