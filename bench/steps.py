"""Stages of a long benchmark chain run by one or more worker processes (``bench/kd_ctd.py``).

Each :class:`Step` is one ``gonerd`` command, done when its output file exists and ready when the files it
reads exist. A worker (:class:`Stages`) takes the first step that is not done, is ready, and that no live
process holds: a step runs under a lock file holding the worker's pid, so several workers on one machine
share a chain without running a step twice, and a killed worker's lock is taken over.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from common import gonerd


@dataclass(frozen=True)
class Step:
    """One stage of the chain: ``gonerd ARGS`` writes ``done``; it can start once every path of ``needs`` (the
    ``done`` files of the stages it reads from) exists."""

    arch: str
    name: str
    done: Path
    needs: tuple[Path, ...]
    args: tuple[str, ...]

    @property
    def label(self) -> str:
        """The name progress lines show, e.g. ``"lsg distill"``."""
        return f"{self.arch} {self.name}".strip()


@dataclass(frozen=True)
class Stages:
    """Runs steps as one worker of the chain (``only``: the stage names this worker takes, every stage when
    ``None``). Each step runs under ``locks/<arch>_<name>.lock`` holding the worker's pid, and a worker takes
    the first step in order that is not done, whose inputs exist and that no live process holds — so two
    workers on one machine (two cores, one thread each) share a chain: while one distils, the other fine-tunes
    the teacher, and neither runs a step twice."""

    locks: Path
    only: frozenset[str] | None = None
    poll_seconds: float = 30.0

    def wants(self, name: str) -> bool:
        """Whether this worker runs the stage ``name``."""
        return self.only is None or name in self.only

    def lock(self, step: Step) -> Path:
        """The lock file of ``step``."""
        return self.locks / f"{step.arch or 'shared'}_{step.name}.lock"

    def run_all(self, steps: list[Step], after: Callable[[Step], None] = lambda step: None) -> None:
        """Run every wanted step of ``steps`` not done yet, each when its inputs exist, calling ``after`` on each
        one this worker ran; wait while other processes hold steps, and exit naming the missing inputs when
        nothing can progress (a step waits for a stage no process runs)."""
        pending = [step for step in steps if self.wants(step.name)]
        waiting = False
        while pending:
            for step in pending:
                if step.done.exists():
                    print(f"[ctd] {step.label}: done, skipped ({step.done})", flush=True)
                    break
                if all(n.exists() for n in step.needs) and take_lock(self.lock(step)):
                    try:
                        run_step(step)
                    finally:
                        self.lock(step).unlink(missing_ok=True)
                    after(step)
                    break
            else:  # nothing to take now
                busy = [step.label for step in steps if held_by_other(self.lock(step))]
                if not busy:
                    missing = {step.label: [str(n) for n in step.needs if not n.exists()] for step in pending}
                    sys.exit(f"[ctd] nothing can run and no other process holds a stage; waiting on: {missing}")
                if not waiting:
                    print(f"[ctd] waiting for {', '.join(busy)} (another process)", flush=True)
                waiting = True
                time.sleep(self.poll_seconds)
                continue
            waiting = False
            pending.remove(step)


def run_step(step: Step) -> None:
    """Run ``gonerd`` with the step's arguments; print its start and wall time; exit if it wrote no ``done``."""
    print(f"[ctd] {step.label}: started {dt.datetime.now(dt.timezone.utc):%H:%M:%S} UTC", flush=True)
    start = time.time()
    gonerd(*step.args)
    if not step.done.exists():
        sys.exit(f"[ctd] {step.label}: the command finished without writing {step.done}")
    print(f"[ctd] {step.label}: finished in {(time.time() - start) / 60:.1f} min", flush=True)


def held_by_other(lock: Path) -> bool:
    """Whether ``lock`` holds the pid of another live process."""
    try:
        holder = int(lock.read_text().strip() or 0)
    except (FileNotFoundError, ValueError):
        return False
    return holder != os.getpid() and process_alive(holder)


def take_lock(lock: Path) -> bool:
    """Create ``lock`` holding this process's pid; ``False`` when another live process holds it. A lock left by
    a process that died (killed, machine restarted) is taken over."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        if held_by_other(lock):
            return False
        lock.unlink(missing_ok=True)
        return take_lock(lock)
    with os.fdopen(fd, "w") as f:
        f.write(f"{os.getpid()}\n")
    return True


def process_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
