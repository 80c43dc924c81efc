"""Resume checkpoints (kd/checkpoint.py): written whole or not at all, with the real accelerate state."""

from __future__ import annotations

import json

import torch

from kd.checkpoint import STATE_FILE, checkpoint_dir, drop_logs_after, load_checkpoint, save_checkpoint


def _accelerator_with_a_model():
    from accelerate import Accelerator

    accelerator = Accelerator(cpu=True)
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.1)
    model, optimizer = accelerator.prepare(model, optimizer)
    return accelerator, model


def test_a_checkpoint_round_trips_weights_and_state_and_replaces_the_previous_one(tmp_path):
    accelerator, model = _accelerator_with_a_model()
    assert checkpoint_dir(tmp_path) is None and load_checkpoint(accelerator, tmp_path) is None
    save_checkpoint(accelerator, tmp_path, {"step": 1}, extra=lambda folder: (folder / "shares.txt").write_text("a"))
    with torch.no_grad():
        model.weight.fill_(7.0)
    save_checkpoint(accelerator, tmp_path, {"step": 2})
    assert checkpoint_dir(tmp_path) == tmp_path / "last" and not (tmp_path / "last.new").exists()
    assert not (tmp_path / "last" / "shares.txt").exists()  # the whole folder was replaced
    with torch.no_grad():
        model.weight.zero_()
    assert load_checkpoint(accelerator, tmp_path) == {"step": 2}
    assert torch.all(model.weight == 7.0)


def test_a_save_cut_off_before_its_state_leaves_the_previous_checkpoint(tmp_path):
    accelerator, _ = _accelerator_with_a_model()
    save_checkpoint(accelerator, tmp_path, {"step": 5})
    accelerator.save_state(str(tmp_path / "last.new"))  # killed before the state file and the rename
    assert checkpoint_dir(tmp_path) == tmp_path / "last"
    assert load_checkpoint(accelerator, tmp_path) == {"step": 5}


def test_a_complete_checkpoint_whose_rename_was_cut_off_is_used(tmp_path):
    accelerator, _ = _accelerator_with_a_model()
    save_checkpoint(accelerator, tmp_path, {"step": 5})
    (tmp_path / "last").rename(tmp_path / "last.new")  # killed between removing last/ and the rename
    assert checkpoint_dir(tmp_path) == tmp_path / "last.new"
    assert json.loads((tmp_path / "last.new" / STATE_FILE).read_text()) == {"step": 5}


def test_logs_after_the_checkpoint_step_are_dropped(tmp_path):
    metrics = tmp_path / "metrics.jsonl"
    records = ({"step": 1, "elapsed_s": 4.0}, {"epoch": 1, "step": 2}, {"step": 3, "elapsed_s": 9.0},
               {"note": "no step"})
    metrics.write_text("".join(json.dumps(r) + "\n" for r in records))
    assert drop_logs_after(metrics, 2) == 4.0  # the clock of the last kept record that has one
    assert [json.loads(line) for line in metrics.read_text().splitlines()] == [
        {"step": 1, "elapsed_s": 4.0}, {"epoch": 1, "step": 2}, {"note": "no step"}]
    assert drop_logs_after(metrics, 0) == 0.0
    assert drop_logs_after(tmp_path / "absent.jsonl", 2) == 0.0  # nothing logged yet: nothing to do
    assert not (tmp_path / "absent.jsonl").exists()
