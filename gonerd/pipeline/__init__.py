"""The document pipeline: raw pages → clean, deduplicated, domain-weighted documents.

Each stage is a plain function over records (dicts); :func:`run_docs` chains them.
"""

from gonerd.pipeline.io import read_documents, write_documents
from gonerd.pipeline.run import run_docs

__all__ = ["read_documents", "run_docs", "write_documents"]
