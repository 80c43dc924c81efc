"""gonerd kd bench on tiny models: one fresh process per measurement, Table 2 layout, ratios."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from kd.bench import table2_markdown
from kd_tiny import build_bigbird_dir, build_lsg_dir, build_model_dir, conll_words

TRAIN = Path(__file__).parent / "data" / "kd_train.txt"


def test_cli_measures_teacher_student_and_baseline(tmp_path):
    words = conll_words(TRAIN)
    lsg = build_lsg_dir(tmp_path / "lsg", words)
    bert = build_model_dir(tmp_path / "bert", words)
    out = tmp_path / "table2.json"
    done = subprocess.run([sys.executable, "-m", "gonerd.cli", "kd", "bench", "--pair", f"lsg={lsg}",
                           "--baseline", f"bert={bert}", "--lengths", "96", "--repeat", "2", "--threads", "1",
                           "--output", str(out), "--quiet"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    rows = {(r["model"], r["length"]): r for r in report["results"]}
    assert set(rows) == {("bert", 96), ("lsg", 96), ("lsg student", 96)}
    teacher, student = rows[("lsg", 96)], rows[("lsg student", 96)]
    assert student["params_m"] < teacher["params_m"] and len(student["seconds_all"]) == 2
    pair = student["pair"]  # the ratio comes from the two timed in turns in one process
    assert student["time_ratio"] == pair["student_seconds"] / pair["teacher_seconds"] and student["peak_mb"] > 0
    assert student["memory_ratio"] == student["peak_mb"] / teacher["peak_mb"]
    assert not rows[("lsg", 96)]["full_attention"]
    assert "error" not in rows[("bert", 96)]  # 64 positions tiled to 96 in memory
    assert report["models"][2]["path"].endswith("every other layer (untrained)")
    assert "↳ student" in done.stdout and "timed in turns in one process" in done.stdout


def test_a_pair_is_timed_in_turns_and_a_short_model_is_skipped(tmp_path):
    from kd.bench import measure_pair
    from kd.student import init_student

    words = conll_words(TRAIN)
    lsg = build_lsg_dir(tmp_path / "lsg", words)
    student = init_student(str(lsg), tmp_path / "student")
    pair = measure_pair(str(lsg), str(student), 96, repeat=3, threads=1, min_seconds=0)
    assert pair["time_ratio"] == pair["student_seconds"] / pair["teacher_seconds"] and 0 < pair["time_ratio"] < 1.5
    assert pair["rounds"] == 3
    assert measure_pair(str(lsg), str(student), 96, repeat=3, threads=1, min_seconds=1.0)["rounds"] > 3
    bert = build_model_dir(tmp_path / "bert", words)  # 64 positions, tiled to 96 as in measure()
    assert "skipped" not in measure_pair(str(bert), str(student), 96, repeat=1, threads=1)
    assert measure_pair(str(lsg), str(student), 10**6, repeat=1, threads=1)["skipped"].startswith("teacher: ")


def test_short_inputs_that_run_full_attention_are_marked(tmp_path):
    from kd.bench import measure

    words = conll_words(TRAIN)
    assert "full attention" in measure(str(build_bigbird_dir(tmp_path / "bird", words)), 16, repeat=1, threads=1)[
        "full_attention"]
    assert "full attention" in measure(str(build_lsg_dir(tmp_path / "lsg", words)), 8, repeat=1, threads=1)[
        "full_attention"]


def test_table_marks_failed_and_skipped_rows():
    results = [{"model": "a", "role": "teacher", "teacher": None, "length": 512, "params_m": 1.0, "seconds": 0.5,
                "peak_mb": 100.0, "full_attention": None},
               {"model": "a", "role": "teacher", "teacher": None, "length": 4096, "skipped": "the model has 512 positions"}]
    text = table2_markdown(results, [512, 4096])
    assert "| a | 1.0 | 0.500 | - | 100 | - |" in text and "a @4096: the model has 512 positions" in text
    results[1] = {**results[0], "length": 4096, "full_attention": "lsg_bert: ..."}
    assert "0.500* |" in table2_markdown(results, [512, 4096]) and "* runs full attention" in table2_markdown(
        results, [512, 4096])
