"""Shared helpers of the benchmarks: timing, the machine description, result tables and JSON.

Results follow the bench-result contract: name, command, machine, baseline, ours, ratio, unit, date.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gonerd.config import data_root

RESULTS = Path(__file__).resolve().parent / "results"
SHARED_DATA = data_root()


def machine() -> dict[str, Any]:
    """CPU count and torch threads (when torch is importable) of this run."""
    info: dict[str, Any] = {"cpu_count": os.cpu_count(), "python": sys.version.split()[0]}
    try:
        import torch

        info["torch_threads"] = torch.get_num_threads()
    except ImportError:
        info["torch_threads"] = None
    return info


def best_of(fn: Callable[[], Any], repeat: int = 3) -> float:
    """Fastest wall time of ``repeat`` calls of ``fn`` (seconds)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def save_result(name: str, baseline: dict[str, Any], ours: dict[str, Any], ratio: float, unit: str,
                extra: dict[str, Any] | None = None) -> Path:
    """Write ``bench/results/<name>.json`` and return its path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    result = {"name": name, "command": " ".join([Path(sys.executable).name, *sys.argv]), "machine": machine(),
              "baseline": baseline, "ours": ours, "ratio": round(ratio, 4), "unit": unit,
              "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), **(extra or {})}
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path


def print_table(title: str, rows: list[tuple[str, ...]], header: tuple[str, ...]) -> None:
    """Print a small markdown table."""
    print(f"\n{title}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


def gonerd(*args: str) -> None:
    """Run one ``gonerd`` command in this interpreter's environment, echoed; exit the script if it fails."""
    import subprocess

    print("$ gonerd " + " ".join(args), flush=True)
    if subprocess.run([sys.executable, "-m", "gonerd.cli", *args]).returncode != 0:
        sys.exit(f"failed: gonerd {' '.join(args)}")
