"""The runtime side of an int8 export (:mod:`kd.export`): recognising its folder and running it.

Kept apart from the export itself so that :mod:`kd.model` can load exports without importing the
exporter (which loads models through :mod:`kd.model`).
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from gonerd.errors import InputError

EXPORT_RECORD = "kd_export.json"
ONNX_FILE = "model.onnx"
def is_export(path: Path) -> bool:
    """Whether ``path`` is a folder written by :func:`export_int8`."""
    return (path / EXPORT_RECORD).is_file()


class OnnxTokenClassifier:
    """An ONNX Runtime session behind the part of the transformers model interface kd's tagging uses:
    ``model(input_ids=..., attention_mask=...).logits``, ``config``, ``device``, ``eval()``/``train()``."""

    def __init__(self, path: Path, config: Any) -> None:
        import onnxruntime as ort
        import torch

        options = ort.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()  # --torch-threads governs both runtimes
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.config = config
        self.device = torch.device("cpu")
        self.training = False

    def eval(self) -> OnnxTokenClassifier:
        """No-op (an exported model has no training mode); returns itself like ``nn.Module.eval``."""
        return self

    def train(self, mode: bool = True) -> OnnxTokenClassifier:
        """Refuse training mode: an int8 export is for prediction only."""
        if mode:
            raise InputError("an int8 export cannot be trained; fine-tune the fp32 model it was made from")
        return self

    def __call__(self, input_ids, attention_mask=None) -> SimpleNamespace:
        """Logits ``(batch, sub-tokens, labels)`` as a torch tensor."""
        import torch

        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        feeds = {"input_ids": input_ids.cpu().numpy(), "attention_mask": attention_mask.cpu().numpy()}
        return SimpleNamespace(logits=torch.from_numpy(self.session.run(["logits"], feeds)[0]))
