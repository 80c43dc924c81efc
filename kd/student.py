"""Half-depth students initialised from a teacher (Convert-Then-Distill, and task distillation).

The student has the teacher's architecture and config with fewer layers; it takes the teacher's
embeddings, every head (classifier, MLM head, pooler) and the chosen encoder layers — by default
every other one (0, 2, 4 of 6), as DistilBERT and the paper do. Weights are copied, not re-learned.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

from gonerd.errors import InputError

_LAYER = re.compile(r"(^|\.)encoder\.layer\.(\d+)\.")


def every_other_layer(n_layers: int) -> tuple[int, ...]:
    """Layers ``0, 2, 4, …`` of an ``n_layers`` encoder: half the depth, spread over the whole stack."""
    return tuple(range(0, n_layers, 2))


def student_state_dict(teacher_state: dict, layers: Sequence[int]) -> dict:
    """The teacher's weights renumbered for the student: layer ``layers[j]`` becomes layer ``j``.

    Weights outside ``encoder.layer.N`` (embeddings, heads, pooler) are kept; other layers are dropped.
    """
    new_index = {old: new for new, old in enumerate(layers)}
    out = {}
    for key, value in teacher_state.items():
        m = _LAYER.search(key)
        if m is None:
            out[key] = value
        elif int(m.group(2)) in new_index:
            out[key[:m.start(2)] + str(new_index[int(m.group(2))]) + key[m.end(2):]] = value
    return out


def student_config(teacher_config, layers: Sequence[int]):
    """A copy of ``teacher_config`` with ``len(layers)`` layers (per-layer settings re-indexed)."""
    config = teacher_config.__class__.from_dict(teacher_config.to_dict())
    config.num_hidden_layers = len(layers)
    window = getattr(config, "attention_window", None)
    if isinstance(window, (list, tuple)):  # Longformer: one window per layer, looked up by layer_id
        config.attention_window = [window[i] for i in layers]
    return config


def init_student(teacher: str | Path, output: str | Path, layers: Sequence[int] | None = None) -> Path:
    """Save a student of ``teacher`` (same class, tokenizer and heads) with the given teacher layers.

    Returns the output folder, which also holds ``kd_student.json`` (teacher path and layers).
    """
    import torch
    from transformers import AutoConfig, AutoModel, AutoModelForMaskedLM, AutoModelForTokenClassification

    import kd.lsg  # noqa: F401  (registers lsg_bert with the Auto classes)
    from kd.model import load_tokenizer, resolve_model_path

    path = resolve_model_path(teacher)
    config = AutoConfig.from_pretrained(str(path))
    n = config.num_hidden_layers
    layers = tuple(every_other_layer(n) if layers is None else layers)
    if not layers or any(not 0 <= i < n for i in layers) or list(layers) != sorted(set(layers)):
        raise InputError(f"student layers must be increasing teacher layer numbers in 0..{n - 1}, got {list(layers)}",
                         str(path), field="layers")
    arch = (getattr(config, "architectures", None) or [""])[0]
    auto = (AutoModelForTokenClassification if arch.endswith("ForTokenClassification")
            else AutoModelForMaskedLM if arch.endswith("ForMaskedLM") else AutoModel)
    model = auto.from_pretrained(str(path))
    student = type(model)(student_config(model.config, layers))
    student.load_state_dict(student_state_dict(model.state_dict(), layers), strict=True)
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        student.save_pretrained(str(out))
    load_tokenizer(path).save_pretrained(str(out))
    (out / "kd_student.json").write_text(json.dumps({"teacher": str(teacher), "layers": list(layers)}, indent=2))
    return out
