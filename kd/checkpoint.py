"""Resume checkpoints shared by ``train-ner``, ``pretrain`` and ``distill``: written whole or not at all.

A checkpoint is the accelerate state (weights, optimiser, schedule, random states) plus the loop's own
``kd_state.json``. It is written to ``last.new/`` and renamed to ``last/`` once complete, so a process
killed while saving (a session's time limit) leaves the previous checkpoint intact; a complete
``last.new/`` whose rename was cut off is used too.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

STATE_FILE = "kd_state.json"


def checkpoint_dir(out: Path) -> Path | None:
    """The complete checkpoint under ``out`` (``last/``, else a complete ``last.new/``), or ``None``."""
    last, new = out / "last", out / "last.new"
    for folder in (last, new):
        if (folder / STATE_FILE).is_file():
            return folder
    return None


def load_checkpoint(accelerator, out: Path) -> dict[str, Any] | None:
    """Restore the accelerate state of the checkpoint under ``out`` and return its loop state, or ``None``."""
    folder = checkpoint_dir(out)
    if folder is None:
        return None
    accelerator.load_state(str(folder))
    return json.loads((folder / STATE_FILE).read_text())


def save_checkpoint(accelerator, out: Path, state: dict[str, Any],
                    extra: Callable[[Path], None] | None = None) -> None:
    """Save the accelerate state, ``extra(folder)``'s files and ``state`` to ``last.new/``, then swap it in
    for ``last/`` (every process calls this; the main one writes ``state`` and renames)."""
    last, new = out / "last", out / "last.new"
    accelerator.save_state(str(new))
    if extra is not None:
        extra(new)
    accelerator.wait_for_everyone()  # every process has written its random states before the folder moves
    if accelerator.is_main_process:
        (new / STATE_FILE).write_text(json.dumps(state))
        if last.exists():
            shutil.rmtree(last)
        new.rename(last)
    accelerator.wait_for_everyone()


def drop_logs_after(metrics: Path, step: int) -> float:
    """Keep only the log records up to ``step``: the steps after the checkpoint are run (and logged) again.
    Return the clock (``elapsed_s``) of the last record kept, 0.0 when none has one."""
    if not metrics.is_file():
        return 0.0
    keep = [line for line in metrics.read_text(encoding="utf-8").splitlines()
            if json.loads(line).get("step", 0) <= step]
    metrics.write_text("".join(line + "\n" for line in keep), encoding="utf-8")
    clocks = [record["elapsed_s"] for record in map(json.loads, keep) if "elapsed_s" in record]
    return clocks[-1] if clocks else 0.0
