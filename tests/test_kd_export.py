"""``gonerd kd export --int8``: an ONNX Runtime int8 copy that predict, eval and label load like any model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gonerd.cli import main
from gonerd.errors import InputError
from kd.export import export_int8
from kd.onnx_model import EXPORT_RECORD, ONNX_FILE, OnnxTokenClassifier
from kd.model import load_model, tag_sequences
from kd_tiny import build_longformer_dir, build_model_dir, conll_words, train_tiny

DATA = Path(__file__).parent / "data"
TRAIN = DATA / "kd_train.txt"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("kdexport")
    train_tiny(out, TRAIN)
    return out / "run" / "best"


@pytest.fixture(scope="module")
def exported(trained, tmp_path_factory):
    out = tmp_path_factory.mktemp("kdexport_out") / "int8"
    assert main(["kd", "export", str(trained), "--int8", "--output", str(out)]) == 0
    return out


def test_export_writes_int8_onnx_with_labels_tokenizer_and_record(trained, exported):
    record = json.loads((exported / EXPORT_RECORD).read_text())
    assert record["format"] == "onnx" and "int8" in record["quantization"] and record["versions"]["onnxruntime"]
    assert (exported / "tokenizer.json").is_file() and (exported / "kd_train.json").is_file()
    assert json.loads((exported / "run.json").read_text()) == json.loads((trained.parent / "run.json").read_text())
    assert record["bytes"][ONNX_FILE] == (exported / ONNX_FILE).stat().st_size
    fp32, int8 = load_model(trained), load_model(exported)
    assert isinstance(int8.model, OnnxTokenClassifier) and int8.labels == fp32.labels and int8.fresh == []


def test_export_quantizes_the_fused_graph_per_channel(exported):
    """The accuracy and speed of the export come from these two choices (the issue-22 scan in
    bench/bench_kd_predict.py --scan): fused attention/LayerNorm/GELU, and one weight scale per output channel."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(exported / ONNX_FILE)).graph
    ops = {n.op_type for n in graph.node}
    assert {"QAttention", "EmbedLayerNormalization", "SkipLayerNormalization"} <= ops, ops
    assert "Attention" not in ops and "MatMul" not in ops  # every weight product is int8
    weights = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    int8 = {name: w for name, w in weights.items() if w.dtype == "int8" and w.ndim == 2}
    assert len(int8) == 2 * 4 + 1  # per layer: attention (q, k, v as one), its output, two FFN; the head
    for name, w in int8.items():
        scale = weights[name.removesuffix("_quantized") + "_scale"]
        assert scale.shape == (w.shape[1],) and len(set(scale.tolist())) > 1, name


def test_int8_tags_agree_with_fp32(trained, exported):
    from gonerd.conll import read_conll

    sentences = [d.tokens for d in read_conll(TRAIN)]
    fp32 = tag_sequences(load_model(trained), sentences, max_length=24, stride=6).tags
    int8 = tag_sequences(load_model(exported), sentences, max_length=24, stride=6).tags
    same = sum(a == b for x, y in zip(fp32, int8) for a, b in zip(x, y))
    assert same / sum(map(len, fp32)) > 0.9
    assert any(t != "O" for tags in int8 for t in tags)


def test_predict_eval_and_label_take_the_export(exported, tmp_path):
    out = tmp_path / "p.conll"
    assert main(["kd", "predict", "--model", str(exported), "--input", str(TRAIN), "--output", str(out), "--format",
                 "conll", "--max-length", "24", "--stride", "6", "--quiet"]) == 0
    assert "B-" in out.read_text()
    metrics = tmp_path / "m.json"
    assert main(["kd", "eval", "--model", str(exported), "--data", str(DATA), "--split", "kd_train.txt",
                 "--max-length", "24", "--stride", "6", "--output", str(metrics), "--quiet"]) == 0
    assert json.loads(metrics.read_text())["models"][0]["splits"]["kd_train.txt"]["ALL"]["f1"] > 0.5
    docs = tmp_path / "docs.jsonl"
    docs.write_text(json.dumps({"id": "d1", "text": "Maria Lopez joined Acme Corp in Denver."}) + "\n")
    assert main(["label", str(docs), "--out", str(tmp_path / "lab"), "--ner-model", str(exported)]) == 0


def test_bad_inputs_give_one_line_errors_and_keep_what_is_there(trained, exported, tmp_path, capsys):
    assert main(["kd", "export", str(tmp_path), "--int8", "--output", str(tmp_path / "x")]) == 2
    assert "no config.json" in capsys.readouterr().err and not (tmp_path / "x").exists()
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    assert main(["kd", "export", str(trained), "--int8", "--output", str(busy)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "not empty" in err and str(busy) in err
    assert [p.name for p in busy.iterdir()] == ["keep.txt"]
    assert main(["kd", "export", str(trained), "--output", str(tmp_path / "y")]) == 2
    assert "--int8" in capsys.readouterr().err
    with pytest.raises(InputError, match="already an int8 export"):
        export_int8(exported, tmp_path / "again")
    with pytest.raises(InputError, match="prediction only"):
        load_model(exported, labels=("O", "B-PER", "I-PER"))


def test_untrained_model_without_labels_is_refused(tmp_path):
    from transformers import BertConfig

    model = build_model_dir(tmp_path / "m", ["alpha", "beta"], head=True)
    config = BertConfig.from_pretrained(str(model))
    config.id2label = {0: "LABEL_0", 1: "LABEL_1"}
    config.save_pretrained(str(model))
    with pytest.raises(InputError, match="no NER label names"):
        export_int8(model, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def _int8_scales(path: Path) -> list[tuple[int, ...]]:
    import onnx
    from onnx import numpy_helper

    weights = {i.name: numpy_helper.to_array(i) for i in onnx.load(str(path)).graph.initializer}
    return [weights[name.removesuffix("_quantized") + "_scale"].shape for name, w in weights.items()
            if w.dtype == "int8" and w.ndim == 2]


def test_export_steps_check_the_graph_and_quantize_per_tensor_or_per_channel(trained, tmp_path):
    from kd.export import _check_reproduces, export_onnx, fuse, quantize_int8

    loaded = load_model(trained)
    export_onnx(loaded.model, tmp_path / "fp32.onnx")
    assert fuse(tmp_path / "fp32.onnx", tmp_path / "fused.onnx", loaded.model.config)["Attention"] == 2
    _check_reproduces(loaded.model, loaded.tokenizer, tmp_path / "fused.onnx", trained)
    # same vocabulary, other weights
    other = load_model(build_model_dir(tmp_path / "other", conll_words(TRAIN), seed=1))
    with pytest.raises(InputError, match="does not reproduce it"):
        _check_reproduces(other.model, loaded.tokenizer, tmp_path / "fused.onnx", trained)
    quantize_int8(tmp_path / "fused.onnx", tmp_path / "tensor.onnx", per_channel=False)
    quantize_int8(tmp_path / "fused.onnx", tmp_path / "channel.onnx")
    assert len(_int8_scales(tmp_path / "tensor.onnx")) == 9 and set(_int8_scales(tmp_path / "tensor.onnx")) == {()}
    assert all(len(shape) == 1 and shape[0] > 1 for shape in _int8_scales(tmp_path / "channel.onnx"))


def test_a_model_whose_export_does_not_run_is_refused_in_one_line(tmp_path, capsys):
    """Tracing fixes the shapes of Longformer's attention windows: refused by name, nothing written."""
    model = build_longformer_dir(tmp_path / "lf", conll_words(TRAIN))
    capsys.readouterr()  # the builder's progress bars
    assert main(["kd", "export", str(model), "--int8", "--output", str(tmp_path / "out")]) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]  # after the weight-loading progress bar
    assert "error:" in last and "longformer model does not run on other lengths" in last and str(model) in last
    assert not (tmp_path / "out").exists() and [p.name for p in tmp_path.iterdir()] == ["lf"]
