"""The default labeling pipeline and labelers, loaded once per test process (loading costs seconds)."""

from __future__ import annotations

import functools
from typing import Any


@functools.lru_cache(maxsize=1)
def pipeline() -> tuple[Any, list[Any]]:
    """``(nlp, labelers)`` of the default :class:`gonerd.config.LabelConfig`."""
    from gonerd.config import LabelConfig
    from gonerd.label import build_labelers
    from gonerd.label.spacy_ner import load_pipeline

    nlp = load_pipeline(LabelConfig().model)
    return nlp, build_labelers(nlp, LabelConfig())
