"""``gonerd kd train-ner`` under torchrun: two CPU processes (gloo on loopback) share the batches."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kd_tiny import build_model_dir, conll_words

DATA = Path(__file__).parent / "data"
TRAIN = DATA / "kd_train.txt"


@pytest.mark.slow
def test_train_ner_runs_under_torchrun_with_two_processes(tmp_path):
    model = build_model_dir(tmp_path / "init", conll_words(TRAIN), head=False)
    env = {**os.environ, "GLOO_SOCKET_IFNAME": "lo", "OMP_NUM_THREADS": "1", "MASTER_ADDR": "127.0.0.1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "gonerd.cli", "kd", "train-ner", "--model", str(model), "--train", str(TRAIN), "--dev", str(TRAIN),
           "--output-dir", str(tmp_path / "run"), "--epochs", "2", "--set", "batch_size=2", "--set", "max_length=24",
           "--set", "stride=6", "--set", "torch_threads=1", "--quiet"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    # 6 windows in batches of 2 = 3 batches per epoch, split over 2 processes -> 2 steps each
    assert summary["num_processes"] == 2 and summary["steps"] == 4
    assert (tmp_path / "run" / "best" / "model.safetensors").is_file()
    assert proc.stdout.count('"num_processes"') == 1
