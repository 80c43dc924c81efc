"""The CoNLL-2003 MiniLM: train it (reference recipe) and score it by sentence, by document and in context.

Runs through the CLI, skipping the training when its run record exists (so it resumes):

1. ``gonerd kd train-ner --config bench/results/kd_conll_minilm_3ep.toml`` (writes ``kd_conll_minilm_3ep_run.json``);
2. ``gonerd kd eval`` on testa, testb and CoNLL++ sentence by sentence, as it was trained
   → ``bench/results/kd_conll_minilm_3ep_eval.{json,md}``;
3. the same model on whole documents (512-token windows, overlap 128) and with each sentence fed in
   its document's context → ``kd_conll_minilm_3ep_eval_{document,context}.json``.

    python bench/kd_conll.py [--threads 2]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from common import gonerd

from gonerd.config import data_root

RESULTS = "bench/results"
RUN = "runs/conll_minilm_3ep"


def main() -> int:
    """Train the CoNLL-2003 MiniLM with the reference recipe and score it by sentence, by document and in context."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=2, help="torch threads of the training and the evaluations")
    args = p.parse_args()
    conll = data_root() / "conll2003"
    if not (conll / "eng.train").is_file():
        sys.exit(f"CoNLL-2003 not found under {conll}: set GONERD_DATA")
    if not Path(RUN, "run.json").is_file():
        gonerd("kd", "train-ner", "--config", f"{RESULTS}/kd_conll_minilm_3ep.toml", "--quiet",
               "--set", f"torch_threads={args.threads}")
    model = ["--model", f"{RUN}/best", "--name", "minilm-3ep", "--data", str(conll), "--batch-size", "64",
             "--torch-threads", str(args.threads), "--quiet"]
    test = ["--split", f"testb={conll}/eng.testb", "--split", f"conllpp={conll}/conllpp_test.txt"]
    gonerd("kd", "eval", *model, "--split", f"testa={conll}/eng.testa", *test, "--unit", "sentence",
           "--max-length", "128", "--stride", "32", "--output", f"{RESULTS}/kd_conll_minilm_3ep_eval.json",
           "--markdown", f"{RESULTS}/kd_conll_minilm_3ep_eval.md")
    for unit in ("document", "context"):
        gonerd("kd", "eval", *model, *test, "--unit", unit, "--max-length", "512", "--stride", "128",
               "--output", f"{RESULTS}/kd_conll_minilm_3ep_eval_{unit}.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
