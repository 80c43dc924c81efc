"""NER models on the sample GONERD build, scored on its hand-labelled test split: the recorded runs.

Runs, in order, skipping any step whose output exists (so it resumes), each through the CLI:

1. ``gonerd kd train-ner --config bench/results/kd_conll_minilm_3ep.toml`` — MiniLM on CoNLL-2003;
2. ``… kd_gonerd_minilm.toml`` — MiniLM on the build's pre-labelled train split only;
3. ``… kd_gonerd_conll_minilm.toml`` — the CoNLL model fine-tuned further on the build (512-token windows);
4. ``gonerd kd convert --attention lsg --max-length 4096`` of the CoNLL model, then
   ``… kd_gonerd_lsg_minilm.toml`` — fine-tuned on whole documents;
5. ``gonerd kd eval`` of the four models on the build's test and validation splits →
   ``bench/results/kd_gonerd_eval.{json,md}``.

Needs ``make demo`` (the build in ``demo_out/``) and CoNLL-2003 under the data root. Each training
writes its own run record (``bench/results/kd_*_run.json``).

    python bench/kd_gonerd.py [--threads 2]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from common import gonerd

RESULTS = "bench/results"
CONLL_RUN, LSG_MODEL = "runs/conll_minilm_3ep", "runs/conll_minilm_lsg4096"
TRAININGS = (("kd_conll_minilm_3ep", CONLL_RUN), ("kd_gonerd_minilm", "runs/gonerd_minilm"),
             ("kd_gonerd_conll_minilm", "runs/gonerd_conll_minilm"), ("kd_gonerd_lsg_minilm", "runs/gonerd_lsg_minilm"))
MODELS = ((CONLL_RUN, "MiniLM, CoNLL-2003 only"), ("runs/gonerd_minilm", "MiniLM, GONERD only"),
          ("runs/gonerd_conll_minilm", "MiniLM, CoNLL → GONERD (512 windows)"),
          ("runs/gonerd_lsg_minilm", "LSG-MiniLM, CoNLL → GONERD (whole documents)"))


def main() -> int:
    """Train each recorded GONERD model and score them all on the hand-labelled test split."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=2, help="torch threads of every training and the evaluation")
    args = p.parse_args()
    if not Path("demo_out/data").is_dir():
        sys.exit("no demo_out/: run `make demo` first (from the repository root)")
    for name, out in TRAININGS:
        if name == "kd_gonerd_lsg_minilm" and not Path(LSG_MODEL, "config.json").is_file():
            gonerd("kd", "convert", "--model", f"{CONLL_RUN}/best", "--output", LSG_MODEL, "--attention", "lsg",
                   "--max-length", "4096")
        if not Path(out, "run.json").is_file():
            gonerd("kd", "train-ner", "--config", f"{RESULTS}/{name}.toml", "--quiet",
                   "--set", f"torch_threads={args.threads}")
    evaluated = [w for path, name in MODELS for w in ("--model", f"{path}/best", "--name", name)]
    gonerd("kd", "eval", *evaluated, "--teacher", MODELS[2][1], "--data", "demo_out", "--split", "test",
           "--split", "validation", "--max-length", "4096", "--stride", "128", "--torch-threads", str(args.threads),
           "--quiet", "--output", f"{RESULTS}/kd_gonerd_eval.json", "--markdown", f"{RESULTS}/kd_gonerd_eval.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
