"""``gonerd kd export --int8``: a dynamically quantized int8 copy of a trained model for fast CPU prediction.

The model is exported to ONNX, its graph fused by ONNX Runtime's transformer optimizer (attention,
embeddings + LayerNorm, residual + LayerNorm, bias + GELU into single operators) and then every
weight product (MatMul and the fused Attention) quantized to int8 by ONNX Runtime's dynamic
quantization, one weight scale per output channel (activations are quantized per batch at run
time). Both choices were measured on the CoNLL-2003 MiniLM (``bench/bench_kd_predict.py --scan``):
per-tensor scales lost 1.0 F1 point on testb, per-channel scales none (bench/results/kd_int8_scan.json);
this graph quantized ran 1.35-1.6x as fast as the torch.export-based exporter's (interleaved runs on
a loaded machine), fusion itself adding ~5% to the TorchScript exporter's graph. ONNX Runtime was
chosen over torchao by measurement (the issue-22 notes in the project README): torchao's int8
dynamic Linear has no fast CPU kernel and ran slower than fp32.

The exported folder holds ``model.onnx``, ``config.json`` (labels), the tokenizer, the source's
training records and ``kd_export.json`` (how it was made); :func:`kd.model.load_model` loads it as
an :class:`kd.onnx_model.OnnxTokenClassifier`, so ``kd predict``, ``kd eval`` and ``label --ner-model`` take it as is.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from gonerd.errors import InputError
from kd.onnx_model import EXPORT_RECORD, ONNX_FILE, OnnxTokenClassifier

# Training records copied along, so the export documents (and its model card describes) its training.
TRAINING_RECORDS = ("kd_train.json", "run.json")
QUANTIZATION = ("onnxruntime dynamic int8 of the fused graph (attention, LayerNorm, GELU): QInt8 weights per output "
                "channel on every MatMul and Attention, uint8 activations per batch")
# The fp32 graph must reproduce the model within this (largest logit difference on a padded batch).
EXPORT_TOLERANCE = 1e-3


def _check_output(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise InputError("output exists and is not a directory", str(out))
    if out.is_dir() and any(out.iterdir()):
        raise InputError("output directory exists and is not empty; choose a new --output", str(out))


def export_onnx(model: Any, path: Path) -> None:
    """Export ``model`` to ONNX with batch and sequence length dynamic.

    The TorchScript exporter with eager attention, because ONNX Runtime's optimizer recognises the
    attention of that graph (the torch.export-based exporter's sdpa graph gets LayerNorm and GELU
    fused but not attention, and ran 1.35-1.6x slower after quantization).
    """
    import warnings

    import torch

    model.eval().set_attn_implementation("eager")
    ids = torch.ones((2, 16), dtype=torch.long)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's deprecation and tracer notes; the result is checked below
        torch.onnx.export(model, (ids, torch.ones_like(ids)), str(path), dynamo=False, opset_version=17,
                          input_names=["input_ids", "attention_mask"], output_names=["logits"],
                          dynamic_axes={"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"}})


def fuse(path: Path, out: Path, config: Any) -> dict[str, int]:
    """Write ``path``'s graph with ONNX Runtime's transformer fusions to ``out``; return the fused operators."""
    from onnxruntime.transformers.optimizer import optimize_model

    fused = optimize_model(str(path), model_type="bert", num_heads=config.num_attention_heads,
                           hidden_size=config.hidden_size)
    fused.save_model_to_file(str(out))
    return {op: n for op, n in fused.get_fused_operator_statistics().items() if n}


def quantize_int8(path: Path, out: Path, *, per_channel: bool = True) -> None:
    """Write ``path``'s graph to ``out`` with int8 weights on every MatMul and Attention (one scale per
    output channel, or per tensor) and dynamically quantized uint8 activations."""
    import logging

    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    level = logging.getLogger().level
    logging.getLogger().setLevel(logging.ERROR)  # its advice to pre-process concerns static (calibrated) quantization
    try:
        # DefaultTensorType: shape inference does not type the outputs of the fused (contrib) operators
        quantize_dynamic(str(path), str(out), op_types_to_quantize=["MatMul", "Attention"], per_channel=per_channel,
                         weight_type=QuantType.QInt8, extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    finally:
        logging.getLogger().setLevel(level)


def _check_reproduces(model: Any, tokenizer: Any, path: Path, source: Path) -> None:
    """Raise :class:`InputError` unless the ONNX graph at ``path`` gives ``model``'s logits on a padded
    batch of lengths other than the export's example (a trace that fixed a shape or dropped the mask
    would not)."""
    import numpy as np
    import onnxruntime as ort
    import torch

    batch = tokenizer(["Maria Lopez joined Acme Corp in Denver on Monday , said the U.S. attorney .", "Paris ."],
                      padding=True, return_tensors="pt")
    with torch.inference_mode():
        want = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits.numpy()
    from onnxruntime.capi.onnxruntime_pybind11_state import Fail, InvalidArgument

    kind = model.config.model_type
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    try:
        got = session.run(["logits"], {k: batch[k].numpy() for k in ("input_ids", "attention_mask")})[0]
    except (Fail, InvalidArgument) as e:  # e.g. a shape the trace fixed (Longformer's attention windows)
        reason = str(e).split(". ")[0]
        raise InputError(f"the ONNX export of this {kind} model does not run on other lengths ({reason}); "
                         "it cannot be exported", str(source)) from None
    real = batch["attention_mask"].numpy().astype(bool)
    diff = float(np.abs(got - want)[real].max())
    if not diff <= EXPORT_TOLERANCE:
        raise InputError(f"the ONNX export of this {kind} model does not reproduce it "
                         f"(largest logit difference {diff:.3g} > {EXPORT_TOLERANCE}); it cannot be exported",
                         str(source))


def export_int8(model: str | Path, output: str | Path) -> dict[str, Any]:
    """Write an int8 copy of the trained model ``model`` to ``output`` and return its record
    (``kd_export.json``). The folder is built beside ``output`` and moved into place at the end, so
    a failure leaves no half-written model; an existing non-empty ``output`` is an :class:`InputError`."""
    from kd.config import portable_path
    from kd.model import load_model
    from kd.record import CODE_COMMIT, library_versions

    out = Path(output)
    _check_output(out)
    loaded = load_model(model)  # one-line InputError for anything that is not a trained kd model
    if isinstance(loaded.model, OnnxTokenClassifier):
        raise InputError("already an int8 export; export the fp32 model it was made from", str(loaded.path))
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.") as tmp:
        build = Path(tmp) / "model"
        build.mkdir()
        fp32, fused = Path(tmp) / "fp32.onnx", Path(tmp) / "fused.onnx"
        export_onnx(loaded.model, fp32)
        fused_ops = fuse(fp32, fused, loaded.model.config)
        _check_reproduces(loaded.model, loaded.tokenizer, fused, loaded.path)
        quantize_int8(fused, build / ONNX_FILE)
        loaded.model.config.save_pretrained(str(build))
        loaded.tokenizer.save_pretrained(str(build))
        for name in TRAINING_RECORDS:
            found = next((p for p in (loaded.path / name, loaded.path.parent / name) if p.is_file()), None)
            if found is not None:
                shutil.copyfile(found, build / name)
        record = {"format": "onnx", "file": ONNX_FILE, "quantization": QUANTIZATION, "fused": fused_ops,
                  "source": portable_path(loaded.path),
                  "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "git": CODE_COMMIT,
                  "versions": library_versions(("gonerd", "torch", "transformers", "onnx", "onnxscript",
                                                "onnxruntime")),
                  "bytes": {"source_weights": sum(p.stat().st_size for p in loaded.path.glob("*.safetensors")),
                            ONNX_FILE: (build / ONNX_FILE).stat().st_size}}
        (build / EXPORT_RECORD).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        if out.is_dir():
            out.rmdir()  # empty (checked above)
        build.rename(out)
    return record
