"""``gonerd kd export --int8``: a dynamically quantized int8 copy of a trained model for fast CPU prediction.

The model is exported to ONNX (``torch.onnx.export``, the torch.export-based exporter) and its
MatMul weights quantized to int8 by ONNX Runtime's dynamic quantization (activations are quantized
per batch at run time). ONNX Runtime was chosen over torchao by measurement (the issue-22 notes in
the project README): torchao's int8 dynamic Linear has no fast CPU kernel and ran slower than fp32.

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
QUANTIZATION = "onnxruntime dynamic int8: QInt8 weights (per tensor) on every MatMul, uint8 activations per batch"


def _check_output(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise InputError("output exists and is not a directory", str(out))
    if out.is_dir() and any(out.iterdir()):
        raise InputError("output directory exists and is not empty; choose a new --output", str(out))


def _onnx_fp32(model: Any, path: Path) -> None:
    """Export ``model`` to ONNX with batch and sequence length dynamic."""
    import warnings

    import torch

    batch, seq = torch.export.Dim("batch"), torch.export.Dim("seq")
    ids = torch.ones((2, 16), dtype=torch.long)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's notes on dims and opsets are not the user's business
        program = torch.onnx.export(model.eval(), (), kwargs={"input_ids": ids, "attention_mask": torch.ones_like(ids)},
                                    dynamo=True, input_names=["input_ids", "attention_mask"], output_names=["logits"],
                                    dynamic_shapes={"input_ids": {0: batch, 1: seq},
                                                    "attention_mask": {0: batch, 1: seq}}, verbose=False)
    program.save(str(path))


def export_int8(model: str | Path, output: str | Path) -> dict[str, Any]:
    """Write an int8 copy of the trained model ``model`` to ``output`` and return its record
    (``kd_export.json``). The folder is built beside ``output`` and moved into place at the end, so
    a failure leaves no half-written model; an existing non-empty ``output`` is an :class:`InputError`."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

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
        _onnx_fp32(loaded.model, Path(tmp) / "fp32.onnx")
        quantize_dynamic(str(Path(tmp) / "fp32.onnx"), str(build / ONNX_FILE), weight_type=QuantType.QInt8)
        loaded.model.config.save_pretrained(str(build))
        loaded.tokenizer.save_pretrained(str(build))
        for name in TRAINING_RECORDS:
            found = next((p for p in (loaded.path / name, loaded.path.parent / name) if p.is_file()), None)
            if found is not None:
                shutil.copyfile(found, build / name)
        record = {"format": "onnx", "file": ONNX_FILE, "quantization": QUANTIZATION,
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
