"""Half-depth students: the copied weights are the teacher's, renumbered, for every architecture."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from kd.model import load_model
from kd.student import every_other_layer, init_student, student_state_dict
from kd_tiny import build_bigbird_dir, build_longformer_dir, build_lsg_dir, build_nystromformer_dir, build_tokenizer, \
    conll_words, label_kwargs

TRAIN = Path(__file__).parent / "data" / "kd_train.txt"


def _four_layer_bert(path: Path) -> Path:
    from transformers import BertConfig, BertForTokenClassification

    torch.manual_seed(0)
    tok = build_tokenizer(conll_words(TRAIN))
    config = BertConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=4, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=64, pad_token_id=tok.pad_token_id, **label_kwargs())
    BertForTokenClassification(config).save_pretrained(str(path))
    tok.save_pretrained(str(path))
    return path


def test_every_other_layer():
    assert every_other_layer(6) == (0, 2, 4) and every_other_layer(12) == (0, 2, 4, 6, 8, 10)


def test_state_dict_renumbers_chosen_layers_and_keeps_the_rest():
    sd = {"bert.embeddings.w": 1, "bert.encoder.layer.0.a": 2, "bert.encoder.layer.1.a": 3,
          "bert.encoder.layer.2.a": 4, "bert.encoder.layer.10.a": 5, "classifier.weight": 6}
    assert student_state_dict(sd, (0, 2, 10)) == {"bert.embeddings.w": 1, "bert.encoder.layer.0.a": 2,
                                                  "bert.encoder.layer.1.a": 4, "bert.encoder.layer.2.a": 5,
                                                  "classifier.weight": 6}


def test_bert_student_copies_embeddings_layers_0_2_and_head(tmp_path):
    from transformers import AutoModelForTokenClassification

    teacher_dir = _four_layer_bert(tmp_path / "teacher")
    out = init_student(teacher_dir, tmp_path / "student")
    teacher = AutoModelForTokenClassification.from_pretrained(str(teacher_dir)).state_dict()
    student = AutoModelForTokenClassification.from_pretrained(str(out))
    assert student.config.num_hidden_layers == 2
    for key, value in student.state_dict().items():
        src = key.replace("layer.1.", "layer.2.")
        assert torch.equal(value, teacher[src]), key
    assert json.loads((out / "kd_student.json").read_text())["layers"] == [0, 2]
    assert (out / "tokenizer.json").is_file()


@pytest.mark.parametrize("build", [build_longformer_dir, build_bigbird_dir, build_nystromformer_dir, build_lsg_dir])
def test_every_architecture_gives_a_student_that_runs(tmp_path, build):
    from transformers import AutoModelForTokenClassification

    import kd.lsg  # noqa: F401

    teacher_dir = build(tmp_path / "teacher", conll_words(TRAIN))
    out = init_student(teacher_dir, tmp_path / "student", layers=(1,))
    teacher = AutoModelForTokenClassification.from_pretrained(str(teacher_dir)).state_dict()
    student = load_model(out).model.eval()  # patched where the library's attention needs it (Nyströmformer)
    assert student.config.num_hidden_layers == 1
    for key, value in student.state_dict().items():
        assert torch.equal(value, teacher[key.replace("layer.0.", "layer.1.")]), key
    ids = torch.randint(5, 40, (2, 20))
    with torch.no_grad():
        assert student(input_ids=ids, attention_mask=torch.ones_like(ids)).logits.shape[:2] == (2, 20)


def test_bad_layers_are_refused(tmp_path):
    from gonerd.errors import InputError

    teacher_dir = _four_layer_bert(tmp_path / "teacher")
    for layers in [(0, 4), (2, 1), ()]:
        with pytest.raises(InputError, match="student layers"):
            init_student(teacher_dir, tmp_path / "s", layers=layers)


def test_the_student_record_is_written_last_so_it_marks_a_complete_folder(tmp_path):
    # bench/kd_ctd.py starts the control's fine-tune once distill/init/kd_student.json exists.
    out = init_student(_four_layer_bert(tmp_path / "teacher"), tmp_path / "init")
    files = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    assert "model.safetensors" in files and files["kd_student.json"] == max(files.values())
