"""The task-distillation ablation: which part of each KD loss helps a half-depth NER student.

Teacher: a token classifier fine-tuned on CoNLL-2003 (``kd_conll_minilm_3ep.toml``). Students: the
teacher's layers 0, 2, 4, trained on eng.train with ``gonerd kd distill --task ner`` and each loss
of :mod:`kd.losses`. λ is chosen for each Hinton row on testa only (one selection seed, not
reported), then every row is trained with the report seeds and scored on testb and CoNLL++.
``makd`` and ``makd-sg`` take the λ chosen for Hinton at T = 1 instead of a search of their own:
``makd``'s gradient is CE's for every λ and ``makd-sg``'s is Hinton's at T = 1
(``tests/test_kd_losses.py``), so a search would compare copies of one model; trained with the
same λ and seeds, their rows show the equivalences on real data. Each run resumes from its own
folder and is locked while it trains, so the script can be stopped, started again, or run twice.

    python bench/kd_task_distill.py --teacher runs/conll_minilm_3ep/best [--epochs 1] [--seeds 1 2 3]

``--rows hinton:2 makd`` trains only those rows (two such processes can share the work, one thread
each); the results are written only by a run over every row, which reuses the finished runs.
Writes ``bench/results/kd_task_distill.json`` (every run, its scores and the table) and
``kd_task_distill.md``.
"""

from __future__ import annotations

import argparse
import fcntl
import datetime as dt
import json
import statistics
import sys
import time
from pathlib import Path

from common import RESULTS, machine

# (loss, temperature, the row whose λ it reuses); ce has no λ (its single "choice" is 1).
ROWS = (("ce", 1.0, None), ("hinton", 1.0, None), ("hinton", 2.0, None), ("makd", 1.0, ("hinton", 1.0)),
        ("makd-sg", 1.0, ("hinton", 1.0)))


def conll(name: str) -> str:
    """A CoNLL-2003 file under the data root (``${GONERD_DATA}``, default ``../shared/data``)."""
    from gonerd.config import data_root

    return str(data_root() / "conll2003" / name)


def run_dir(args, loss: str, temperature: float, lam: float, seed: int) -> Path:
    """The folder of one student run."""
    return Path(args.runs) / f"{loss}_T{temperature:g}_lam{lam:g}_s{seed}"


def run_student(args, loss: str, temperature: float, lam: float, seed: int) -> Path:
    """Train (or resume) one student; returns its folder."""
    out = run_dir(args, loss, temperature, lam, seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.parent / f".{out.name}.lock", "w") as lock:
        # Another process training this run: wait for it, then reuse its result.
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (out / "run.json").is_file():
            _train(args, out, loss, temperature, lam, seed)
    return out


def _train(args, out: Path, loss: str, temperature: float, lam: float, seed: int) -> None:
    from kd.config import NerDataConfig, NerDistillConfig
    from kd.distill import distill_ner

    cfg = NerDistillConfig(teacher=args.teacher, student_layers=(0, 2, 4), loss=loss, lam=lam,
                           temperature=temperature, seed=seed, output_dir=str(out), epochs=args.epochs,
                           data=NerDataConfig(train=conll("eng.train"), dev=conll("eng.testa")),
                           max_length=128, stride=32, batch_size=32, learning_rate=args.learning_rate,
                           warmup_ratio=0.06, torch_threads=args.threads)
    distill_ner(cfg, progress=not args.quiet)


def scores(model: Path, splits: dict[str, str], threads: int) -> dict[str, dict]:
    """Entity scores of ``model`` on each ``name=file`` split (sentence level, as the teacher was trained).

    Kept in ``model/scores.json``, so assembling the table again does not re-tag finished runs."""
    from kd.evaluate import evaluate_models

    cache = model / "scores.json"
    known = json.loads(cache.read_text()) if cache.is_file() else {}
    todo = {k: v for k, v in splits.items() if k not in known}
    if todo:
        res = evaluate_models([str(model)], "conll2003", splits=[f"{k}={v}" for k, v in todo.items()],
                              max_length=128, stride=32, batch_size=64, torch_threads=threads)
        known.update(res[0]["splits"])
        cache.write_text(json.dumps(known, indent=2) + "\n")
    return {k: known[k] for k in splits}


def tagging_seconds(model: Path, file: str, threads: int) -> float:
    """Seconds to tag every sentence of ``file`` with ``model`` (one run, after a warm-up batch)."""
    import torch

    from kd.data import load_split
    from kd.model import load_model, tag_sequences

    torch.set_num_threads(threads)
    loaded = load_model(model)
    seqs = [e.tokens for e in load_split(file, "test", labels=loaded.labels, unit="sentence").examples]
    tag_sequences(loaded, seqs[:64], max_length=128, stride=32, batch_size=64)
    start = time.perf_counter()
    tag_sequences(loaded, seqs, max_length=128, stride=32, batch_size=64)
    return time.perf_counter() - start


def table(rows: list[dict], teacher: dict) -> str:
    """Markdown: per row mean ± sd of testb and CoNLL++ F1, retention, training and inference time."""
    lines = ["| student loss | λ | seeds | testb F1 | CoNLL++ F1 | retention testb % | train min (threads) | time vs teacher |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        b, p = r["testb"], r["conllpp"]
        lam = f"{r['lam']:g}" + (f" (of {r['lambda_from']})" if r["lambda_from"] else "")
        lines.append(f"| {r['row']} | {lam} | {len(b)} | {100 * statistics.mean(b):.1f} ± "
                     f"{100 * statistics.pstdev(b):.1f} | {100 * statistics.mean(p):.1f} ± {100 * statistics.pstdev(p):.1f}"
                     f" | {100 * statistics.mean(b) / teacher['testb']:.1f} | {statistics.mean(r['train_s']) / 60:.1f}"
                     f" ({'/'.join(str(t) for t in sorted(set(r['train_threads'])))})"
                     f" | {r['time_ratio']:.2f} |")
    lines.append(f"| teacher (6 layers) | | | {100 * teacher['testb']:.1f} | {100 * teacher['conllpp']:.1f} | 100.0 | | 1.00 |")
    return "\n".join(lines) + "\n"


def main() -> int:
    """Run the task-distillation ablation (λ on testa, seeds on testb and CoNLL++) and write its tables."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--teacher", required=True, help="fine-tuned CoNLL-2003 token classifier")
    p.add_argument("--runs", default="runs/task_distill", help="folder of the student runs")
    p.add_argument("--epochs", type=float, default=1.0)
    p.add_argument("--learning-rate", type=float, default=1e-4)
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--lambdas", type=float, nargs="+", default=[0.1, 0.5, 0.9])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rows", nargs="+", metavar="LOSS[:T]",
                   help="only these rows, e.g. ce hinton:2 makd-sg (default: every row)")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args()
    if not Path(conll("eng.train")).is_file():
        print(f"CoNLL-2003 not found under {conll('')}: set GONERD_DATA", file=sys.stderr)
        return 2
    dev, test = {"testa": conll("eng.testa")}, {"testb": conll("eng.testb"), "conllpp": conll("conllpp_test.txt")}
    selected = [r for r in ROWS if not args.rows or r[0] in args.rows or f"{r[0]}:{r[1]:g}" in args.rows]
    partial = len(selected) < len(ROWS)
    if not selected:
        print(f"--rows {' '.join(args.rows)} names no row of {ROWS}", file=sys.stderr)
        return 2
    runs, rows = [], []

    def choose(loss: str, temperature: float) -> dict[float, float]:
        """testa F1 of the selection run (seed 0) for each λ of the grid."""
        grid = [1.0] if loss == "ce" else args.lambdas
        return {lam: scores(run_student(args, loss, temperature, lam, 0) / "best", dev, args.threads)["testa"]
                ["ALL"]["f1"] for lam in grid}

    for loss, temperature, lambda_from in selected:
        chosen = choose(*(lambda_from or (loss, temperature)))
        lam = max(chosen, key=chosen.get)
        row = {"row": f"{loss} (T={temperature:g})" if loss == "hinton" else loss, "loss": loss,
               "temperature": temperature, "lam": lam, "testa_by_lambda": chosen,
               "lambda_from": f"{lambda_from[0]} (T={lambda_from[1]:g})" if lambda_from else None,
               "testb": [], "conllpp": [], "train_s": [], "train_threads": []}
        for seed in args.seeds:
            out = run_student(args, loss, temperature, lam, seed)
            s = scores(out / "best", test, args.threads)
            record = json.loads((out / "run.json").read_text())
            row["testb"].append(s["testb"]["ALL"]["f1"])
            row["conllpp"].append(s["conllpp"]["ALL"]["f1"])
            row["train_s"].append(record["train"]["train_seconds"])
            row["train_threads"].append(record["config"]["torch_threads"])
            runs.append({"run": str(out), "seed": seed, "loss": loss, "temperature": temperature, "lam": lam,
                         "scores": s, "git": record["git"]})
        rows.append(row)
    if partial:
        print(f"rows {', '.join(r['row'] for r in rows)} trained and scored; bench/results is written by a run "
              "over every row")
        return 0
    teacher_scores = scores(Path(args.teacher), test, args.threads)
    teacher = {k: v["ALL"]["f1"] for k, v in teacher_scores.items()}
    # Tagging times last and together, so they share the machine's state.
    teacher_s = tagging_seconds(Path(args.teacher), test["testb"], args.threads)
    for row in rows:
        best = run_dir(args, row["loss"], row["temperature"], row["lam"], args.seeds[-1]) / "best"
        row["time_ratio"] = tagging_seconds(best, test["testb"], args.threads) / teacher_s
    md = table(rows, teacher)
    result = {"name": "kd_task_distill", "command": " ".join(["python", *sys.argv]), "machine": machine(),
              "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "epochs": args.epochs,
              "teacher": {"path": args.teacher, "scores": teacher_scores, "tagging_seconds": teacher_s},
              "rows": rows, "runs": runs, "table": md}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "kd_task_distill.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "kd_task_distill.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
